"""Build, start and stop a local Neo4j server: for tests, benchmarks and ``kgllm neo4j start|stop``.

The server is the small Maven project in ``graphs/neo4j-server/`` of a kgllm source
checkout: Neo4j Community (embedded, Bolt only, loopback interface) started by a
``java`` process. It needs a JDK (17+) and Maven; the first :func:`build_server`
downloads Neo4j from Maven Central, later builds run offline from the local Maven
cache. An installed kgllm has no such project: :func:`find_server_dir` then says what to
do instead (point ``KGLLM_NEO4J_SERVER_DIR`` at a checkout's project, or run any
Neo4j 5.26+ server and pass ``--uri``).

Two ways to use it:

* :class:`Neo4jServer`, a context manager owned by the calling process (tests,
  benchmarks): ``with Neo4jServer() as server: store = Neo4jStore.connect(server.uri)``.
* :func:`start_background` / :func:`stop_background`, a detached server whose pid
  is written into its data folder, for ``kgllm neo4j start|stop``.

Examples
--------
>>> from kgllm.neo4j_server import Neo4jServer, free_port
>>> isinstance(free_port(), int)
True
>>> Neo4jServer(port=7999).uri
'bolt://127.0.0.1:7999'
"""


from kgllm.neo4j_server.background import background_status, start_background, stop_background
from kgllm.neo4j_server.build import PID_FILE, READY_LINE, SERVER_DIR, build_server, find_server_dir, free_port
from kgllm.neo4j_server.process import Neo4jServer

__all__ = [
    "Neo4jServer",
    "SERVER_DIR",
    "READY_LINE",
    "PID_FILE",
    "find_server_dir",
    "free_port",
    "build_server",
    "start_background",
    "stop_background",
    "background_status",
]
