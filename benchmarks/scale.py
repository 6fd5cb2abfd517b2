"""kgllm at 10k / 100k / 1M facts, on a SQLite graph file and on Neo4j: what each size costs.

For each size, a synthetic knowledge base (``benchmarks/scale_data.py``: invented people, cities,
countries and organisations, about N/5 entities, with the same two-hop chains at every size) is
imported, then measured:

* ``kgllm import-kb`` wall time and peak memory (``/usr/bin/time``; for Neo4j the client's, and the
  server's resident memory at the end);
* cold CLI runs, each a new process: ``kgllm stats`` and ``kgllm ask QUESTION --no-llm`` (median of
  ``--cold`` runs, peak memory of the largest);
* warm in-process answering: ``Reasoner(store, llm=None).ask`` over the questions, p50/p99;
* the explorer (``kgllm serve``, SQLite only) under ``wrk`` with ``--connections`` connections:
  ``/health`` (the baseline, no graph access), ``/api/search``, ``/api/neighbours``, ``/api/ask``:
  requests/s, p50/p99, errors.

Then the ratios the targets name, from this one run: 1M against 10k (cold ask and stats, search p50),
neighbours against /health throughput, Neo4j against SQLite (ask). ``uptime`` is printed beside them.

    python benchmarks/scale.py                              # 10k, 100k, 1M; SQLite and Neo4j
    python benchmarks/scale.py --sizes 10000 100000 --stores sqlite --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from loadgen import KGLLM, ROOT, Explorer, wrk  # noqa: E402
from scale_data import CHAINS, QUESTIONS, SEARCHES, write_kb  # noqa: E402

QUESTION = QUESTIONS[0]  # "In which country was Greta Ulvang born?": two facts


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; (wall seconds, peak resident MB, stdout). Fails loudly when the command fails."""
    out = subprocess.run(["/usr/bin/time", "-f", "KGLLM_TIME %e %M", *cmd], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    line = [x for x in out.stderr.splitlines() if x.startswith("KGLLM_TIME")]
    if out.returncode != 0 or not line:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    _, wall, kb = line[-1].split()
    return float(wall), int(kb) / 1024, out.stdout


def cold(cmd: list[str], runs: int, expect: str = "") -> dict[str, float]:
    """Median wall time and largest peak memory of ``runs`` new processes running ``cmd``."""
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak, out = timed(cmd)
        if expect and expect not in out:
            raise SystemExit(f"{' '.join(cmd)} did not answer {expect!r}:\n{out[-1000:]}")
        walls.append(wall)
        peaks.append(peak)
    return {"s": round(statistics.median(walls), 2), "peak_mb": round(max(peaks))}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


def warm_asks(store: Any, rounds: int) -> dict[str, float]:
    """p50/p99 of graph-only answers in one process, after one round to load the models."""
    from kgllm.reason.reasoner import Reasoner

    reasoner = Reasoner(store, llm=None)
    for q in QUESTIONS:
        reasoner.ask(q)
    times = []
    for _ in range(rounds):
        for q in QUESTIONS:
            start = time.perf_counter()
            reasoner.ask(q)
            times.append(time.perf_counter() - start)
    return {"p50_ms": pct(times, 0.5), "p99_ms": pct(times, 0.99)}


def explorer(graph: Path | None, connections: int, seconds: float, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The explorer on ``graph`` (or the store ``extra`` names) under wrk: /health, search, neighbours, ask."""
    people = [c[0].lower() for c in CHAINS] + [c[1].lower() for c in CHAINS]
    out: dict[str, Any] = {}
    with Explorer(graph, extra=extra, warm=QUESTIONS[:1]) as url:
        out["health"] = wrk(url, ["/health"], connections, seconds)
        out["search"] = wrk(url, [f"/api/search?q={q.replace(' ', '%20')}" for q in SEARCHES], connections, seconds)
        out["neighbours"] = wrk(url, [f"/api/neighbours?id={p.replace(' ', '%20')}" for p in people], connections,
                                seconds)
        out["ask"] = wrk(url, ["/api/ask"] * len(QUESTIONS), connections, seconds,
                         bodies=[json.dumps({"question": q}) for q in QUESTIONS], timeout_s=120)
    return out


def sqlite_size(n: int, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    from kgllm.stores.memory import MemoryStore

    kb, graph = folder / f"kb{n}.tsv", folder / f"g{n}.sqlite"
    row: dict[str, Any] = {"facts": n}
    if not kb.exists():
        write_kb(n, kb)
    if args.fresh or not graph.exists():
        for p in folder.glob(f"g{n}.sqlite*"):
            p.unlink()
        wall, peak, _ = timed([*KGLLM, "import-kb", str(kb), "--graph", str(graph)])
        row["import"] = {"s": round(wall, 1), "peak_mb": round(peak)}
    row["stats"] = cold([*KGLLM, "stats", "--graph", str(graph)], args.cold, expect=str(n))
    row["ask"] = cold([*KGLLM, "ask", QUESTION, "--graph", str(graph), "--no-llm"], args.cold, expect="Norhavn")
    store = MemoryStore.open(graph)
    row["retrieval"] = warm_asks(store, args.rounds)
    store.close()
    if not args.no_explorer:
        row["explorer"] = explorer(graph, args.connections, args.seconds)
    return row


def neo4j_size(n: int, folder: Path, args: argparse.Namespace, server: Any) -> dict[str, Any]:
    from kgllm.stores.neo4j import Neo4jStore

    kb = folder / f"kb{n}.tsv"
    if not kb.exists():
        write_kb(n, kb)
    store = Neo4jStore.connect(server.uri, auth=server.auth)
    store.clear()
    where = ["--store", "neo4j", "--uri", server.uri]
    if server.auth:
        where += ["--user", server.auth[0], "--password", server.auth[1]]
    row: dict[str, Any] = {"facts": n}
    wall, peak, _ = timed([*KGLLM, "import-kb", str(kb), *where])
    row["import"] = {"s": round(wall, 1), "peak_mb": round(peak), "server_mb": round(server_rss(server))}
    row["stats"] = cold([*KGLLM, "stats", *where], args.cold, expect=str(n))
    row["ask"] = cold([*KGLLM, "ask", QUESTION, *where, "--no-llm"], args.cold, expect="Norhavn")
    row["retrieval"] = warm_asks(store, args.rounds)
    store.close()
    if not args.no_explorer:
        row["explorer"] = explorer(None, args.connections, args.seconds, tuple(where))
    return row


def server_rss(server: Any) -> float:
    try:
        for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, AttributeError):
        pass
    return float("nan")


def ratios(results: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """The targets' ratios, from this run."""
    out: dict[str, float] = {}
    rows = {r["facts"]: r for r in results.get("sqlite", [])}
    small, big = (rows[min(rows)], rows[max(rows)]) if len(rows) > 1 else (None, None)
    if small and big:
        out["sqlite cold ask, largest / smallest"] = round(big["ask"]["s"] / small["ask"]["s"], 2)
        out["sqlite cold stats, largest / smallest"] = round(big["stats"]["s"] / small["stats"]["s"], 2)
        out["sqlite cold ask peak MB, largest"] = big["ask"]["peak_mb"]
        if "explorer" in big and "explorer" in small:
            out["search p50, largest / smallest"] = round(
                big["explorer"]["search"]["p50_ms"] / max(small["explorer"]["search"]["p50_ms"], 0.01), 2)
            out["search p50 ms, largest"] = big["explorer"]["search"]["p50_ms"]
    for n, r in rows.items():
        if "explorer" in r:
            e = r["explorer"]
            out[f"neighbours / health throughput, {n}"] = round(
                e["neighbours"]["requests_per_s"] / e["health"]["requests_per_s"], 3)
            out[f"explorer errors, {n}"] = sum(v["errors"] for v in e.values())
    for r in results.get("neo4j", []):
        if r["facts"] in rows:
            out[f"neo4j / sqlite cold ask, {r['facts']}"] = round(r["ask"]["s"] / rows[r["facts"]]["ask"]["s"], 2)
            out[f"neo4j / sqlite warm ask p50, {r['facts']}"] = round(
                r["retrieval"]["p50_ms"] / rows[r["facts"]]["retrieval"]["p50_ms"], 2)
        out[f"neo4j import s, {r['facts']}"] = r["import"]["s"]
    return out


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| store | facts | import s / MB | cold stats s / MB | cold ask s / MB | warm ask p50 / p99 ms | "
             "search p50 / p99 ms, req/s | neighbours p50 / p99 ms, req/s | ask p50 / p99 ms, req/s | /health req/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for kind, rows in results.items():
        for r in rows:
            imp = r.get("import")
            cells = [kind, f"{r['facts']:,}", f"{imp['s']} / {imp['peak_mb']}" if imp else "(kept)",
                     f"{r['stats']['s']} / {r['stats']['peak_mb']}", f"{r['ask']['s']} / {r['ask']['peak_mb']}",
                     f"{r['retrieval']['p50_ms']} / {r['retrieval']['p99_ms']}"]
            e = r.get("explorer")
            for k in ("search", "neighbours", "ask"):
                cells.append(f"{e[k]['p50_ms']} / {e[k]['p99_ms']}, {e[k]['requests_per_s']:.0f}" if e else "")
            cells.append(f"{e['health']['requests_per_s']:.0f}" if e else "")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--stores", nargs="+", default=["sqlite", "neo4j"], choices=["sqlite", "neo4j"])
    ap.add_argument("--folder", type=Path, default=Path(".kgllm/scale"), help="Where the files go (reused).")
    ap.add_argument("--fresh", action="store_true", help="Import again even when the graph file exists.")
    ap.add_argument("--cold", type=int, default=3, help="New processes per cold CLI measurement.")
    ap.add_argument("--rounds", type=int, default=10, help="Rounds over the questions for warm answering.")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--no-explorer", action="store_true")
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    args = ap.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {}

    def keep(kind: str, row: dict[str, Any]) -> None:  # written after every size: a long run keeps what it measured
        results.setdefault(kind, []).append(row)
        print(table({kind: [row]}).splitlines()[-1], flush=True)
        if args.json:
            args.json.write_text(json.dumps({"results": results, "ratios": ratios(results), "load": os.getloadavg()},
                                            indent=1))

    if "sqlite" in args.stores:
        for n in args.sizes:
            keep("sqlite", sqlite_size(n, args.folder, args))
    if "neo4j" in args.stores:
        from kgllm.neo4j_server import Neo4jServer

        server = Neo4jServer(java_opts=("-Xms1g", "-Xmx2g", "-XX:+UseParallelGC"))
        server.build()
        server.start()
        try:
            for n in args.sizes:
                keep("neo4j", neo4j_size(n, args.folder, args, server))
        finally:
            server.stop()
    load = os.getloadavg()
    print(table(results))
    print(f"\nload average during the run (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs")
    for name, value in ratios(results).items():
        print(f"{name}: {value}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratios": ratios(results), "load": load}, indent=1))


if __name__ == "__main__":
    main()
