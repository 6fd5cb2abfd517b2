"""``kgllm jobs``: run, schedule and inspect graph-building jobs (YAML specs in ``pipelines/``)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from kgllm.cli.common import JsonOpt, command, emit_json, err, new_app, out, run, when

__all__ = ["register"]

jobs_app = new_app("Run graph-building jobs from YAML specs: once, on a cron schedule, and see their state.")

SpecArg = typer.Argument(..., metavar="SPEC", help="A job spec (YAML), e.g. pipelines/demo.yaml.")
LogOpt = typer.Option(None, "--log", metavar="FILE",
                      help="Append the job's events to FILE as JSON lines (default: the spec's 'log').")


def register(app: typer.Typer) -> None:
    """Add the ``jobs`` command group to ``app``."""
    command(jobs_app, "run")(run_job)
    command(jobs_app, "schedule")(schedule)
    command(jobs_app, "status")(status)
    command(jobs_app, "history")(history)
    command(jobs_app, "check")(check)
    app.add_typer(jobs_app, name="jobs")


def _attach(job: Any, log: Optional[Path], stream: bool = False) -> list:
    from kgllm.jobs.logs import attach_json_log

    handlers = []
    target = log or job.spec.log
    if target is not None:
        handlers.append(attach_json_log(target))
    if stream:
        handlers.append(attach_json_log(sys.stderr))
    return handlers


def run_job(
    spec: Path = SpecArg,
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first document that fails to load or "
                                   "extract (default: record it, skip it, go on)."),
    wait: Optional[float] = typer.Option(None, "--wait", min=0, metavar="SECONDS",
                                         help="Wait this long for another job writing the same store (default: the "
                                              "spec's lock_timeout, 0: refuse at once)."),
    log: Optional[Path] = LogOpt,
    log_stderr: bool = typer.Option(False, "--log-stderr", help="Write the JSON log lines to stderr too."),
    as_json: bool = JsonOpt,
) -> None:
    """Run the job of SPEC once: extract new and changed documents, retract deleted ones, record the run.

    Documents that fail are recorded and skipped (exit status 0, listed); --fail-fast stops at the first (exit 1).
    SIGTERM or Ctrl-C end the run after the document being written (exit 130); the next run goes on from there.
    """
    from kgllm.jobs import Job
    from kgllm.jobs.logs import detach

    def go() -> None:
        job = Job.from_file(spec)
        handlers = _attach(job, log, log_stderr)
        stop = threading.Event()
        old = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            record = job.run(progress=err.is_terminal and not as_json, fail_fast=fail_fast or None,
                             lock_timeout=wait, stop=stop)
        finally:
            signal.signal(signal.SIGTERM, old)
            for h in handlers:
                detach(h)
        from kgllm.stores.ledger import run_to_dict

        if as_json:
            emit_json(run_to_dict(record))
        else:
            c = record.counts
            err.print(f"{job.name} {record.status}: {c.get('new', 0)} new, {c.get('changed', 0)} changed, "
                      f"{c.get('unchanged', 0)} unchanged, {c.get('deleted', 0)} deleted documents; "
                      f"{c.get('facts', 0)} facts written, {c.get('retracted_facts', 0)} retracted; "
                      f"{c.get('failed', 0)} failed -> {job.spec.store.where}", highlight=False, markup=False)
            if c.get("duplicate"):
                err.print(f"{c['duplicate']} new documents skipped: another document holds the same content "
                          "(allow_duplicates: true in the spec ingests them; the log names them)",
                          highlight=False, markup=False)
            for e in record.errors:
                err.print(f"failed: {e['doc_id']}: {e['error']}", highlight=False, markup=False)
        if record.status == "interrupted":
            raise typer.Exit(130)
        if record.status == "failed":
            raise typer.Exit(1)

    run(go)


def schedule(
    specs: List[Path] = typer.Argument(..., metavar="SPEC", help="Job specs (YAML) with a 'schedule' key."),
    run_now: bool = typer.Option(False, "--run-now", help="Also run every job once at start."),
    log: Optional[Path] = LogOpt,
) -> None:
    """Run the jobs of SPEC... on their cron schedules (UTC) until SIGTERM or Ctrl-C.

    A job never overlaps itself: a firing while its previous run is going is skipped and logged. Events go to
    stderr as JSON lines (and to --log FILE). On SIGTERM no new run starts and a running one ends after its
    current document.
    """
    from kgllm.jobs import Job
    from kgllm.jobs.logs import attach_json_log, detach
    from kgllm.jobs.scheduler import serve

    def go() -> None:
        jobs = [Job.from_file(s) for s in specs]
        handlers = [attach_json_log(sys.stderr)]
        for target in dict.fromkeys([log] if log else [j.spec.log for j in jobs if j.spec.log]):
            handlers.append(attach_json_log(target))
        try:
            serve(jobs, run_now=run_now)
        finally:
            for h in handlers:
                detach(h)

    run(go)


def status(spec: Path = SpecArg, as_json: bool = JsonOpt) -> None:
    """Show the job of SPEC: its store, schedule and next run, last run, documents and pending changes."""
    from kgllm.jobs import Job

    def go() -> None:
        info = Job.from_file(spec).status()
        if as_json:
            emit_json(info)
            return
        table = Table("", "", show_header=False, title=f"job {info['job']}")
        last = info["last_run"]
        pending = info["pending"]
        for key, value in [
            ("store", info["store"]), ("executor", info["executor"]),
            ("schedule", f"{info['schedule']} (next {info['next_run']} UTC)" if info["schedule"] else "none"),
            ("last run", "never" if last is None else
             f"{last['status']} {last['started_at']} -> {last['ended_at'] or '...'} "
             f"({last['counts'].get('new', 0)} new, {last['counts'].get('changed', 0)} changed, "
             f"{len(last['errors'])} failed)"),
            ("writer", info["writing"] or "none (no run in progress)"),
            ("documents", f"{info['documents']} ({info['facts']} facts)"),
            ("pending", ", ".join(f"{v} {k}" for k, v in pending.items())),
        ]:
            table.add_row(key, escape(str(value)))
        out.print(table)

    run(go)


def history(spec: Path = SpecArg, limit: int = typer.Option(20, "--limit", "-n", min=1, metavar="N",
                                                           help="The last N runs."),
            as_json: bool = JsonOpt) -> None:
    """List the recorded runs of the job of SPEC, newest first: status, start, end, counts, failures."""
    from kgllm.jobs import Job
    from kgllm.stores.ledger import run_to_dict

    def go() -> None:
        runs = Job.from_file(spec).history(limit=limit)
        if as_json:
            emit_json({"runs": [run_to_dict(r) for r in runs]})
            return
        # Fits 80 columns: times in UTC to the second (the end's date only when another day), counts; the run ids
        # are in --json.
        table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
        for name in ("status", "started (UTC)", "ended"):
            table.add_column(name, no_wrap=True)
        for name in ("new", "changed", "deleted", "facts", "failed"):
            table.add_column(name, justify="right", no_wrap=True)
        for r in runs:
            c = r.counts
            table.add_row(r.status, when(r.started_at, True), when(r.ended_at, True, day_of=r.started_at),
                          *(str(c.get(k, 0)) for k in ("new", "changed", "deleted", "facts", "failed")))
        out.print(table)
        if not runs:
            err.print("no runs recorded yet", highlight=False)

    run(go)


def check(specs: List[Path] = typer.Argument(..., metavar="SPEC", help="Job specs (YAML) to validate.")) -> None:
    """Validate job specs without running them (errors name the file, line, key and what was expected)."""
    from kgllm.jobs import load_spec

    def go() -> None:
        for s in specs:
            spec = load_spec(s)
            out.print(f"{s}: ok (job {spec.name}, {len(spec.sources)} sources -> {spec.store.where})",
                      highlight=False, markup=False)

    run(go)
