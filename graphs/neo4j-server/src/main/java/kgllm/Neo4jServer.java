package kgllm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

/**
 * A Neo4j Community database served over Bolt on the loopback interface, for kgllm's tests and demos.
 *
 * <p>Usage: {@code java -cp 'neo4j-server.jar:lib/*' kgllm.Neo4jServer --port 7687 --data DIR [--password PW]}.
 * Without {@code --password} authentication is disabled. Prints {@code NEO4J READY bolt://127.0.0.1:PORT}
 * on standard output once the database accepts transactions, and shuts down cleanly on SIGTERM/SIGINT.
 */
public final class Neo4jServer {

    private Neo4jServer() {
    }

    public static void main(String[] args) throws Exception {
        int port = 7687;
        String data = "neo4j-data";
        String password = null;
        String pageCache = "64m";
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (i + 1 >= args.length) {
                usage("missing value for " + arg);
            }
            switch (arg) {
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--data" -> data = args[++i];
                case "--password" -> password = args[++i];
                case "--page-cache" -> pageCache = args[++i];
                default -> usage("unknown argument " + arg);
            }
        }
        long pageCacheBytes = parseBytes(pageCache);
        Path home = Path.of(data).toAbsolutePath();
        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(GraphDatabaseSettings.auth_enabled, password != null)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheBytes)
                // Shut Bolt down in about a second instead of 10 s of grace periods (a local test server).
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("NEO4J STOPPING");
            System.out.flush();
            try {
                service.shutdown();
            } finally {
                stopped.countDown();
            }
        }, "neo4j-shutdown"));
        GraphDatabaseService db = service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (password != null) {
            GraphDatabaseService system = service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
            system.executeTransactionally("ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED",
                    java.util.Map.of("pw", password));
        }
        db.executeTransactionally("RETURN 1");
        System.out.println("NEO4J READY bolt://127.0.0.1:" + port + " data=" + home);
        System.out.flush();
        stopped.await();
    }

    private static long parseBytes(String text) {
        String t = text.trim().toLowerCase();
        if (t.endsWith("g")) {
            return ByteUnit.gibiBytes(Long.parseLong(t.substring(0, t.length() - 1)));
        }
        if (t.endsWith("m")) {
            return ByteUnit.mebiBytes(Long.parseLong(t.substring(0, t.length() - 1)));
        }
        return Long.parseLong(t);
    }

    private static void usage(String problem) {
        System.err.println("error: " + problem);
        System.err.println("usage: kgllm.Neo4jServer --port N --data DIR [--password PW] [--page-cache 64m]");
        System.exit(2);
    }
}
