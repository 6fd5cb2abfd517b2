"""Find and build the server's Maven project, and the helpers that start its ``java`` process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from kgllm.errors import ConfigError, StoreError

__all__ = ["SERVER_DIR", "READY_LINE", "PID_FILE", "LOG_FILE", "DEFAULT_JAVA_OPTS", "free_port", "find_server_dir",
           "build_server", "java_command", "wait_ready", "bolt_accepts", "tail"]

SERVER_DIR = Path(__file__).resolve().parents[2] / "graphs" / "neo4j-server"
"""Where a source checkout keeps the server's Maven project (``KGLLM_NEO4J_SERVER_DIR`` overrides it)."""

READY_LINE = "NEO4J READY"
"""What the server prints on standard output once it accepts Bolt connections."""

PID_FILE = "neo4j.pid"
"""Name of the pid file :func:`start_background` writes into the data folder."""

LOG_FILE = "server.log"
MAIN_CLASS = "kgllm.Neo4jServer"
DEFAULT_JAVA_OPTS = ("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")

def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (chosen by the operating system)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_server_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The server's Maven project: ``path``, else ``$KGLLM_NEO4J_SERVER_DIR``, else :data:`SERVER_DIR`.

    Raises
    ------
    ConfigError
        The folder has no ``pom.xml`` (as in an installed kgllm); the message says what the
        local server needs and how to use another Neo4j server instead.
    """
    env = os.environ.get("KGLLM_NEO4J_SERVER_DIR")
    folder = Path(path) if path is not None else Path(env) if env else SERVER_DIR
    if not (folder / "pom.xml").is_file():
        raise ConfigError(
            f"the local Neo4j server is built from the Maven project graphs/neo4j-server of a kgllm source "
            f"checkout, and there is none at {folder} (no pom.xml). Either set KGLLM_NEO4J_SERVER_DIR to a "
            "checkout's graphs/neo4j-server (building it needs Java 17+ and Maven), or run any Neo4j 5.26+ "
            "server yourself (in a checkout: NEO4J_PASSWORD=... docker compose up -d neo4j) and pass it to "
            "kgllm with --store neo4j --uri bolt://HOST:7687")
    return folder


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
        The Maven project; default :func:`find_server_dir`'s.
    quiet : bool
        Pass ``-q`` to Maven.

    Returns
    -------
    pathlib.Path
        The project folder (artifacts in ``target/``).

    Raises
    ------
    ConfigError
        The Maven project is missing (see :func:`find_server_dir`), or ``java`` or ``mvn`` is not installed.
    StoreError
        The Maven build failed (the message ends with Maven's output).
    """
    folder = find_server_dir(server_dir)
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


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def bolt_accepts(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def java_command(server_dir: Path, port: int, data_dir: Path, password: str | None,
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


def wait_ready(proc: subprocess.Popen, log: Path, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise StoreError(f"the Neo4j server exited with status {code} before it was ready "
                             f"(port {port}); log {log}:\n{tail(log)}")
        try:
            ready = READY_LINE in log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            ready = False
        if ready and bolt_accepts(port):
            return
        time.sleep(0.2)
    raise StoreError(f"the Neo4j server was not ready on bolt://127.0.0.1:{port} within {timeout:.0f}s; "
                     f"log {log}:\n{tail(log)}")
