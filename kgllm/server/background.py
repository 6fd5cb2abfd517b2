"""Run an ASGI app with uvicorn in a background thread: ``start()``, ``url``, ``stop()``.

The listening socket is bound in :meth:`BackgroundServer.start`, so a busy port raises there
(``OSError``) and port 0 reports the free port the system picked.

Examples
--------
>>> from fastapi import FastAPI
>>> server = BackgroundServer(FastAPI(), port=0).start()
>>> server.url.startswith("http://127.0.0.1:") and server.port > 0
True
>>> server.stop()
"""

from __future__ import annotations

import socket
import signal
import threading
import time
from typing import Any

import uvicorn

from kgllm.errors import GenerationError

__all__ = ["BackgroundServer", "serve_until_stopped"]


class BackgroundServer:
    """Serve ``app`` on ``host:port`` from a daemon thread (port 0 picks a free port).

    Parameters
    ----------
    app : ASGI application
        A FastAPI (or any ASGI) app.
    host, port : str, int
        Where to listen; :attr:`port` holds the real port once started.
    grace : float
        Seconds :meth:`stop` lets open connections finish before closing them.
    keep_alive : float
        Seconds an idle keep-alive connection stays open (uvicorn's default is 5).
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8000, grace: float = 2.0,
                 keep_alive: float = 5.0) -> None:
        self.app, self.host, self.port, self.grace, self.keep_alive = app, host, port, grace, keep_alive
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "BackgroundServer":
        """Bind the socket, start uvicorn and return once it accepts connections.

        Raises
        ------
        OSError
            The address cannot be bound (port in use, unknown host).
        GenerationError
            uvicorn did not come up within ``timeout`` seconds.
        """
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_keep_alive=self.keep_alive)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"kgllm-http-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise GenerationError(f"the HTTP server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop accepting, give open connections ``grace`` seconds, then close them."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=self.grace)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None


def serve_until_stopped(server: Any) -> None:
    """Block until Ctrl-C or SIGTERM (read as Ctrl-C), then call ``server.stop()``: how the CLI's servers end."""

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
