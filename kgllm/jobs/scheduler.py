"""The job daemon: run job specs on their cron schedules (APScheduler 3), never overlapping a job with itself.

Each job fires on its spec's ``schedule`` (UTC). A firing while the job's previous run is still going is
skipped, with a ``run_skipped`` log line saying so (this process keeps a lock per job; another process
writing the same store is refused by the store's lock, also logged as ``run_skipped``). SIGTERM or SIGINT
stop the daemon cleanly: no new runs start, a running one ends after the document it is writing (its run
recorded as ``interrupted``; the next run continues from there), and :func:`serve` returns.

Examples
--------
>>> import tempfile, pathlib, threading
>>> from kgllm.jobs import Job
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.txt").write_text("Claire Martin was born in Lyon.")
>>> job = Job.from_dict({"name": "demo", "sources": [{"folder": "."}], "store": "g.sqlite",
...                      "schedule": "0 3 * * *"}, base=folder)
>>> daemon = Daemon([job])
>>> daemon.fire(job).status   # what a firing does (the scheduler calls it on the schedule)
'ok'
>>> stop = threading.Event(); stop.set()
>>> daemon.serve(stop)       # returns at once: the stop event is set
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Optional, Sequence

from kgllm.errors import StoreError
from kgllm.jobs.logs import event
from kgllm.jobs.runner import Job
from kgllm.jobs.spec import SpecError
from kgllm.stores.ledger import RunRecord

__all__ = ["Daemon", "serve"]


class Daemon:
    """Jobs on their schedules, in one process (:meth:`serve` blocks until stopped)."""

    def __init__(self, jobs: Sequence[Job], run_now: bool = False) -> None:
        names = [j.name for j in jobs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"two specs define the job {dup[0]!r}; job names must be unique")
        missing = [j for j in jobs if not j.spec.schedule]
        if missing:
            raise SpecError(f"{missing[0].spec.file or missing[0].name}: no 'schedule' key (a cron expression, "
                              "e.g. '0 3 * * *'): nothing to schedule")
        self.jobs = list(jobs)
        self.run_now = run_now
        self.stop = threading.Event()
        self._running: dict[str, threading.Lock] = {j.name: threading.Lock() for j in jobs}
        self._started: dict[str, str] = {}

    def fire(self, job: Job) -> Optional[RunRecord]:
        """Run ``job`` once unless its previous run is still going (then log ``run_skipped``, return ``None``)."""
        lock = self._running[job.name]
        if not lock.acquire(blocking=False):
            event("run_skipped", level=30, job=job.name,
                  reason=f"the previous run of {job.name!r} (started {self._started.get(job.name, '?')}) is still "
                         "running; runs of a job never overlap")
            return None
        try:
            if self.stop.is_set():
                return None
            from kgllm.stores.ledger import utc_now

            self._started[job.name] = utc_now()
            try:
                return job.run(stop=self.stop, lock_timeout=0.0)
            except StoreError as exc:
                event("run_skipped", level=30, job=job.name, reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - the daemon outlives a failed run; the run is recorded
                event("run_crashed", level=40, job=job.name, error=f"{type(exc).__name__}: {exc}")
            return None
        finally:
            lock.release()

    def serve(self, stop: Optional[threading.Event] = None) -> None:
        """Schedule every job and block until ``stop`` (or :attr:`stop`) is set; then wait for running runs."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        if stop is not None:
            self.stop = stop
        scheduler = BackgroundScheduler(timezone="UTC")
        for job in self.jobs:
            # max_instances > 1 so an overlapping firing reaches fire(), which logs the skip itself
            scheduler.add_job(self.fire, CronTrigger.from_crontab(job.spec.schedule, timezone="UTC"), args=[job],
                              id=job.name, name=job.name, max_instances=2, coalesce=True, misfire_grace_time=60)
        scheduler.start()
        for job in self.jobs:
            event("job_scheduled", job=job.name, schedule=job.spec.schedule, next_run=job.next_run(),
                  store=job.spec.store.where)
            if self.run_now:
                scheduler.add_job(self.fire, args=[job], id=f"{job.name}-now", max_instances=2)
        try:
            while not self.stop.wait(0.5):
                pass
        finally:
            event("daemon_stopping", jobs=[j.name for j in self.jobs])
            scheduler.shutdown(wait=True)
            event("daemon_stopped", jobs=[j.name for j in self.jobs])


def serve(jobs: Sequence[Job], run_now: bool = False) -> None:
    """Run ``jobs`` on their schedules until SIGTERM or SIGINT (then stop cleanly and return)."""
    daemon = Daemon(jobs, run_now=run_now)

    def on_signal(signum: int, frame: Any) -> None:
        event("signal", signal=signal.Signals(signum).name)
        daemon.stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.serve()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
