"""The :class:`Neo4jServer`: a Neo4j server in a child process owned by the caller (tests, benchmarks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO

from kgllm.errors import StoreError
from kgllm.neo4j_server.build import (
    DEFAULT_JAVA_OPTS, LOG_FILE, bolt_accepts, build_server, free_port, java_command, wait_ready,
)

__all__ = ["Neo4jServer"]


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
        The Maven project (default: see :func:`find_server_dir`).
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
        self.server_dir = Path(server_dir) if server_dir is not None else None
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
        self.server_dir = build_server(self.server_dir)

    def start(self, port: int | None = None, data_dir: str | os.PathLike[str] | None = None) -> str:
        """Build if needed, start the server and wait until Bolt accepts connections; returns the Bolt URI.

        ``port`` and ``data_dir`` default to the ones given before, else a free port and a
        temporary folder. Raises :class:`~kgllm.errors.ConfigError` (no Maven project, Java
        or Maven) or :class:`~kgllm.errors.StoreError` (failed or not ready in time, with the log tail).
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
        if bolt_accepts(self.port, timeout=0.2):
            raise StoreError(f"port {self.port} is already in use: cannot start Neo4j at {self.uri}")
        log = self.data_dir / LOG_FILE
        self._log_fh = open(log, "ab")
        self._log_fh.write(f"--- starting on port {self.port}\n".encode())
        self._log_fh.flush()
        assert self.server_dir is not None  # resolved by build()
        cmd = java_command(self.server_dir, self.port, self.data_dir, self.password, self.java_opts)
        self._proc = subprocess.Popen(cmd, stdout=self._log_fh, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=self.data_dir)
        try:
            wait_ready(self._proc, log, self.port, self.startup_timeout)
        except BaseException:
            self.kill()
            raise
        return self.uri

    def restart(self) -> str:
        """Stop (if running) and start again on the same port and data folder."""
        self.stop(remove_data=False)
        return self.start()

    def stop(self, timeout: float = 60.0, remove_data: bool = True) -> None:
        """Shut the server down cleanly (SIGTERM), with SIGKILL after ``timeout`` seconds.

        ``remove_data`` removes the data folder when it is a temporary one made by :meth:`start`.
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
