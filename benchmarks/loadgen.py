"""Serving a graph with ``kgllm serve`` and loading it with ``wrk`` (Debian: ``apt-get install wrk``).

The load generator is a separate native program, so the Python clients no longer measure themselves on
the same cores. Each endpoint is loaded for a fixed time by ``wrk`` with a Lua script that cycles through
its requests; ``/health`` (no graph access) is measured in the same run as the baseline.

    from loadgen import Explorer, wrk           # benchmarks/ on sys.path
    with Explorer("g.sqlite") as url:
        print(wrk(url, ["/health"], connections=50, seconds=10))
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import httpx

ROOT = Path(__file__).resolve().parents[1]
KGLLM = [sys.executable, "-m", "kgllm.cli"]

__all__ = ["Explorer", "wrk", "WrkResult"]

_LUA = """
local paths = {PATHS}
local bodies = {BODIES}
local method = "{METHOD}"
local i = 0
request = function()
  i = i % #paths + 1
  if method == "POST" then
    return wrk.format("POST", paths[i], {{["Content-Type"] = "application/json"}}, bodies[i])
  end
  return wrk.format("GET", paths[i])
end
"""


def _lua_list(items: Sequence[str]) -> str:
    return "{" + ", ".join(json.dumps(x) for x in items) + "}"


class WrkResult(dict):
    """``requests_per_s``, ``p50_ms``, ``p90_ms``, ``p99_ms``, ``requests``, ``errors`` (non-2xx and socket errors)."""


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(base: str, paths: Sequence[str], connections: int = 50, seconds: float = 10, threads: int = 2,
        bodies: Sequence[str] | None = None, timeout_s: float = 30) -> WrkResult:
    """Load ``base`` + each of ``paths`` in turn (POSTing ``bodies`` when given) with ``wrk``; its figures."""
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian), or see https://github.com/wg/wrk")
    script = _LUA.format(PATHS=_lua_list(paths), BODIES=_lua_list(bodies or [""] * len(paths)),
                         METHOD="POST" if bodies else "GET")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run([exe, f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", f"--timeout={int(timeout_s)}s",
                              "--latency", "-s", fh.name, base], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    result = WrkResult(requests_per_s=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore
                       requests=int(re.search(r"(\d+) requests in", out).group(1)))  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        result[f"p{pct}_ms"] = round(_ms(m.group(1)), 2) if m else None
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = errors + (int(m.group(1)) if m else 0)
    return result


class Explorer:
    """``kgllm serve --graph FILE`` (or ``--store neo4j``) on a free loopback port, ready once it answered
    a search, a question and the statistics; a context manager giving the base URL."""

    def __init__(self, graph: str | os.PathLike[str] | None = None, extra: Sequence[str] = (),
                 warm: Sequence[str] = ()) -> None:
        self.args = [*KGLLM, "serve", "--port", "0", *(["--graph", str(graph)] if graph else []), *extra]
        self.warm = warm
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
        line = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not line.startswith("http"):
            self.__exit__()
            raise SystemExit(f"kgllm serve did not start: {line!r}")
        self.url = line.rstrip("/")
        with httpx.Client(base_url=self.url, timeout=600) as c:
            c.get("/api/stats").raise_for_status()
            for q in self.warm:  # the first question loads the models
                c.post("/api/ask", json={"question": q}).raise_for_status()
        return self.url

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def wait_port_free(seconds: float = 1.0) -> None:
    """Let sockets of a stopped server leave TIME_WAIT pressure behind before the next run."""
    time.sleep(seconds)
