"""Run a local Neo4j server for tests, benchmarks and the ``kgllm neo4j`` CLI commands.

The server is the small Maven project in ``graphs/neo4j-server/``: Neo4j Community
(embedded, Bolt only, loopback interface) started by a ``java`` process. It needs a
JDK (17+) and Maven; the first :meth:`Neo4jServer.build` downloads Neo4j from
Maven Central, later builds run offline from the local Maven cache.

Two ways to use it:

* :class:`Neo4jServer`, a context manager owned by the calling process (tests,
  benchmarks): ``with Neo4jServer() as server: store = Neo4jStore.connect(server.uri)``.
* :func:`start_background` / :func:`stop_background`, a detached server whose pid
  is written into its data folder, for ``kgllm neo4j start|stop``.

Examples
--------
>>> from kgllm.testing import Neo4jServer, free_port
>>> isinstance(free_port(), int)
True
>>> Neo4jServer(port=7999).uri
'bolt://127.0.0.1:7999'
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from kgllm.errors import ConfigError, StoreError

__all__ = [
    "Neo4jServer",
    "SERVER_DIR",
    "READY_LINE",
    "PID_FILE",
    "free_port",
    "build_server",
    "start_background",
    "stop_background",
    "background_status",
]

SERVER_DIR = Path(os.environ.get("KGLLM_NEO4J_SERVER_DIR",
                                 Path(__file__).resolve().parents[1] / "graphs" / "neo4j-server"))
"""The Maven project of the server (override with ``KGLLM_NEO4J_SERVER_DIR``)."""

READY_LINE = "NEO4J READY"
"""What the server prints on standard output once it accepts Bolt connections."""

PID_FILE = "neo4j.pid"
"""Name of the pid file :func:`start_background` writes into the data folder."""

LOG_FILE = "server.log"
MAIN_CLASS = "kgllm.Neo4jServer"
DEFAULT_JAVA_OPTS = ("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now.

    Returns
    -------
    int
        A port number chosen by the operating system.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _require_tools() -> tuple[str, str]:
    java, mvn = shutil.which("java"), shutil.which("mvn")
    missing = [name for name, path in (("java (a JDK 17+)", java), ("mvn (Apache Maven)", mvn)) if path is None]
    if missing:
        raise ConfigError(
            "the local Neo4j server needs " + " and ".join(missing) + " on PATH; install them "
            "(Debian: apt-get install openjdk-17-jdk-headless maven) or use a Neo4j server of your own "
            "(kgllm ... --store neo4j --uri bolt://HOST:7687)")
    return java, mvn  # type: ignore[return-value]


def _artifacts(server_dir: Path) -> tuple[Path, Path]:
    return server_dir / "target" / "neo4j-server.jar", server_dir / "target" / "lib"


def _up_to_date(server_dir: Path) -> bool:
    jar, lib = _artifacts(server_dir)
    if not jar.is_file() or not lib.is_dir() or not any(lib.glob("neo4j-kernel-*.jar")):
        return False
    sources = [server_dir / "pom.xml", *(server_dir / "src").rglob("*.java")]
    return all(src.stat().st_mtime <= jar.stat().st_mtime for src in sources if src.exists())


def _neo4j_version(server_dir: Path) -> str:
    text = (server_dir / "pom.xml").read_text(encoding="utf-8")
    start = text.find("<neo4j.version>")
    end = text.find("</neo4j.version>")
    return text[start + len("<neo4j.version>"):end].strip() if start >= 0 and end > start else ""


def build_server(server_dir: str | os.PathLike[str] | None = None, quiet: bool = True) -> Path:
    """Build the server with Maven unless its artifacts are up to date.

    Runs ``mvn -o package`` when Neo4j is already in the local Maven repository
    (``~/.m2``), else ``mvn package`` online (once: a few hundred MB of jars).

    Parameters
    ----------
    server_dir : path, optional
        The Maven project; default :data:`SERVER_DIR`.
    quiet : bool
        Pass ``-q`` to Maven.

    Returns
    -------
    pathlib.Path
        The project folder (artifacts in ``target/``).

    Raises
    ------
    ConfigError
        ``java`` or ``mvn`` is not installed.
    StoreError
        The Maven build failed (the message ends with Maven's output).
    """
    folder = Path(server_dir) if server_dir is not None else SERVER_DIR
    if not (folder / "pom.xml").is_file():
        raise ConfigError(f"Neo4j server project not found: {folder / 'pom.xml'} (set KGLLM_NEO4J_SERVER_DIR)")
    _, mvn = _require_tools()
    if _up_to_date(folder):
        return folder
    m2 = Path(os.environ.get("MAVEN_REPO", Path.home() / ".m2" / "repository"))
    cached = (m2 / "org" / "neo4j" / "neo4j" / _neo4j_version(folder)).is_dir()
    base = [mvn, "-B", *(["-q"] if quiet else []), "-DskipTests", "package"]
    attempts = [[*base[:1], "-o", *base[1:]], base] if cached else [base]
    output = ""
    for cmd in attempts:
        proc = subprocess.run(cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = proc.stdout
        if proc.returncode == 0 and _artifacts(folder)[0].is_file():
            return folder
    tail = "\n".join(output.splitlines()[-40:])
    raise StoreError(f"building the Neo4j server failed (mvn package in {folder}):\n{tail}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _bolt_accepts(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _java_command(server_dir: Path, port: int, data_dir: Path, password: str | None,
                  java_opts: tuple[str, ...]) -> list[str]:
    java, _ = _require_tools()
    jar, lib = _artifacts(server_dir)
    cmd = [java, *java_opts, "-cp", f"{jar}{os.pathsep}{lib}{os.sep}*", MAIN_CLASS,
           "--port", str(port), "--data", str(data_dir)]
    if password is not None:
        if len(password) < 8:
            raise ConfigError("Neo4j passwords must have at least 8 characters")
        cmd += ["--password", password]
    return cmd


def _wait_ready(proc: subprocess.Popen, log: Path, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise StoreError(f"the Neo4j server exited with status {code} before it was ready "
                             f"(port {port}); log {log}:\n{_tail(log)}")
        try:
            ready = READY_LINE in log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            ready = False
        if ready and _bolt_accepts(port):
            return
        time.sleep(0.2)
    raise StoreError(f"the Neo4j server was not ready on bolt://127.0.0.1:{port} within {timeout:.0f}s; "
                     f"log {log}:\n{_tail(log)}")


class Neo4jServer:
    """A Neo4j Community server in a child ``java`` process, on 127.0.0.1.

    Parameters
    ----------
    port : int, optional
        Bolt port; default a free port chosen at :meth:`start`.
    data_dir : path, optional
        Database folder; default a temporary folder removed by :meth:`stop`.
    password : str, optional
        Password of user ``neo4j``; default ``None``: authentication disabled.
    server_dir : path, optional
        The Maven project (default :data:`SERVER_DIR`).
    java_opts : tuple of str
        JVM options; default a 512 MiB heap.
    startup_timeout : float
        Seconds to wait for the ready line and the Bolt port.

    Examples
    --------
    Needs Java and Maven, so not run here::

        with Neo4jServer() as server:
            store = Neo4jStore.connect(server.uri)
    """

    def __init__(self, port: int | None = None, data_dir: str | os.PathLike[str] | None = None,
                 password: str | None = None, server_dir: str | os.PathLike[str] | None = None,
                 java_opts: tuple[str, ...] = DEFAULT_JAVA_OPTS, startup_timeout: float = 180.0) -> None:
        self.port = port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.password = password
        self.server_dir = Path(server_dir) if server_dir is not None else SERVER_DIR
        self.java_opts = tuple(java_opts)
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen | None = None
        self._log_fh: IO[bytes] | None = None
        self._tmp: str | None = None

    @property
    def uri(self) -> str:
        """``bolt://127.0.0.1:PORT`` (the port is chosen by :meth:`start` when not given)."""
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def auth(self) -> tuple[str, str] | None:
        """``("neo4j", password)`` or ``None`` when authentication is disabled."""
        return ("neo4j", self.password) if self.password is not None else None

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or ``None``."""
        return self._proc.pid if self.running else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        """The file receiving the server's standard output and error."""
        return self.data_dir / LOG_FILE if self.data_dir is not None else None

    def build(self) -> None:
        """Build the server (see :func:`build_server`)."""
        build_server(self.server_dir)

    def start(self, port: int | None = None, data_dir: str | os.PathLike[str] | None = None) -> str:
        """Build if needed, start the server and wait until Bolt accepts connections.

        Parameters
        ----------
        port : int, optional
            Bolt port; default the one given before, else a free port.
        data_dir : path, optional
            Database folder; default the one given before, else a temporary folder.

        Returns
        -------
        str
            The Bolt URI.

        Raises
        ------
        ConfigError
            Java or Maven is missing.
        StoreError
            The server failed to start or was not ready in time (with its log tail).
        """
        if self.running:
            raise StoreError(f"the Neo4j server is already running at {self.uri}")
        self.build()
        if port is not None:
            self.port = port
        if data_dir is not None:
            self.data_dir = Path(data_dir)
        if self.port is None:
            self.port = free_port()
        if self.data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="kgllm-neo4j-")
            self.data_dir = Path(self._tmp)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _bolt_accepts(self.port, timeout=0.2):
            raise StoreError(f"port {self.port} is already in use: cannot start Neo4j at {self.uri}")
        log = self.data_dir / LOG_FILE
        self._log_fh = open(log, "ab")
        self._log_fh.write(f"--- starting on port {self.port}\n".encode())
        self._log_fh.flush()
        cmd = _java_command(self.server_dir, self.port, self.data_dir, self.password, self.java_opts)
        self._proc = subprocess.Popen(cmd, stdout=self._log_fh, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=self.data_dir)
        try:
            _wait_ready(self._proc, log, self.port, self.startup_timeout)
        except BaseException:
            self.kill()
            raise
        return self.uri

    def restart(self) -> str:
        """Stop (if running) and start again on the same port and data folder."""
        self.stop(remove_data=False)
        return self.start()

    def stop(self, timeout: float = 60.0, remove_data: bool = True) -> None:
        """Shut the server down cleanly (SIGTERM), killing it if it does not exit in time.

        Parameters
        ----------
        timeout : float
            Seconds to wait after SIGTERM before SIGKILL.
        remove_data : bool
            Remove the data folder when it is a temporary one made by :meth:`start`.
        """
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._close_log()
        if remove_data and self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self.data_dir = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would; the data folder is kept."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(30)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self) -> "Neo4jServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- background
def _read_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def start_background(data_dir: str | os.PathLike[str], port: int = 7687, password: str | None = None,
                     timeout: float = 180.0) -> tuple[int, str]:
    """Start a detached Neo4j server that outlives this process (``kgllm neo4j start``).

    Writes ``DATA_DIR/neo4j.pid`` (pid and port) and logs to ``DATA_DIR/server.log``.

    Parameters
    ----------
    data_dir : path
        Database folder (created if missing).
    port : int
        Bolt port on 127.0.0.1.
    password : str, optional
        Password of user ``neo4j`` (8+ characters); default authentication disabled.
    timeout : float
        Seconds to wait until the server is ready.

    Returns
    -------
    tuple of (int, str)
        The server's pid and its Bolt URI.

    Raises
    ------
    ConfigError
        Java or Maven is missing, or the password is too short.
    StoreError
        A server already runs on this folder, the port is taken, or it failed to start.
    """
    folder = Path(data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(folder)
    if pid is not None and _alive(pid):
        raise StoreError(f"a Neo4j server (pid {pid}) already runs on {folder}; stop it first")
    build_server(SERVER_DIR)
    if _bolt_accepts(port, timeout=0.2):
        raise StoreError(f"port {port} is already in use: cannot start Neo4j at bolt://127.0.0.1:{port}")
    log = folder / LOG_FILE
    cmd = _java_command(SERVER_DIR, port, folder, password, DEFAULT_JAVA_OPTS)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=folder, start_new_session=True)
    (folder / PID_FILE).write_text(f"{proc.pid} {port}\n")
    try:
        _wait_ready(proc, log, port, timeout)
    except BaseException:
        proc.kill()
        proc.wait(10)
        (folder / PID_FILE).unlink(missing_ok=True)
        raise
    return proc.pid, f"bolt://127.0.0.1:{port}"


def background_status(data_dir: str | os.PathLike[str]) -> tuple[int, str] | None:
    """Return ``(pid, uri)`` of the background server of ``data_dir``, or ``None`` if none runs."""
    folder = Path(data_dir).resolve()
    pid = _read_pid(folder)
    if pid is None or not _alive(pid):
        return None
    parts = (folder / PID_FILE).read_text().split()
    port = parts[1] if len(parts) > 1 else "7687"
    return pid, f"bolt://127.0.0.1:{port}"


def stop_background(data_dir: str | os.PathLike[str], timeout: float = 60.0) -> bool:
    """Stop the server started by :func:`start_background` on ``data_dir`` (``kgllm neo4j stop``).

    Sends SIGTERM (clean shutdown), waits up to ``timeout`` seconds, then SIGKILL.

    Parameters
    ----------
    data_dir : path
        The folder given to :func:`start_background`.
    timeout : float
        Seconds to wait for a clean shutdown.

    Returns
    -------
    bool
        True if a running server was stopped, False if none was running.
    """
    folder = Path(data_dir).resolve()
    pid = _read_pid(folder)
    if pid is None or not _alive(pid):
        (folder / PID_FILE).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)
    (folder / PID_FILE).unlink(missing_ok=True)
    return True
