"""A detached Neo4j server whose pid is kept in its data folder: ``kgllm neo4j start|stop|status``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from kgllm.errors import StoreError
from kgllm.neo4j_server.build import (
    DEFAULT_JAVA_OPTS, LOG_FILE, PID_FILE, bolt_accepts, build_server, java_command, wait_ready,
)

__all__ = ["start_background", "stop_background", "background_status"]


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
                     timeout: float = 180.0, server_dir: str | os.PathLike[str] | None = None) -> tuple[int, str]:
    """Start a detached Neo4j server that outlives this process (``kgllm neo4j start``).

    Writes ``DATA_DIR/neo4j.pid`` (pid and port), logs to ``DATA_DIR/server.log`` and
    returns the server's pid and Bolt URI (``bolt://127.0.0.1:PORT``). ``password`` (8+
    characters) is the password of user ``neo4j``, default authentication disabled;
    ``timeout`` the seconds to wait until the server is ready; ``server_dir`` the
    Maven project (see :func:`find_server_dir`).

    Raises
    ------
    ConfigError
        No Maven project (an installed kgllm), no Java or Maven, or the password is too short.
    StoreError
        A server already runs on this folder, the port is taken, or it failed to start.
    """
    folder = Path(data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(folder)
    if pid is not None and _alive(pid):
        raise StoreError(f"a Neo4j server (pid {pid}) already runs on {folder}; stop it first")
    project = build_server(server_dir)
    if bolt_accepts(port, timeout=0.2):
        raise StoreError(f"port {port} is already in use: cannot start Neo4j at bolt://127.0.0.1:{port}")
    log = folder / LOG_FILE
    cmd = java_command(project, port, folder, password, DEFAULT_JAVA_OPTS)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=folder, start_new_session=True)
    (folder / PID_FILE).write_text(f"{proc.pid} {port}\n")
    try:
        wait_ready(proc, log, port, timeout)
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
    """Stop the server :func:`start_background` started on ``data_dir`` (``kgllm neo4j stop``).

    Sends SIGTERM (clean shutdown), waits up to ``timeout`` seconds, then SIGKILL. Returns
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
