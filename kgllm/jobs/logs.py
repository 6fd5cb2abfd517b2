"""Job logs as JSON lines, and the progress bar of a run (documents, facts, rate, ETA).

Every event of a run goes to the ``kgllm.jobs`` logger as one record whose fields
:class:`JsonLines` writes as one JSON object a line: ``ts`` (ISO-8601 UTC), ``level``, ``event``
(``run_started``, ``document_failed``, ``run_finished``, ``run_skipped``, ...) and the event's fields.

Examples
--------
>>> import io, logging
>>> buf = io.StringIO()
>>> handler = attach_json_log(buf)
>>> event("run_started", job="nightly", run_id="r1")
>>> detach(handler)
>>> import json; rec = json.loads(buf.getvalue()); rec["event"], rec["job"], rec["level"]
('run_started', 'nightly', 'info')
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import IO, Any, Optional

from kgllm.stores.ledger import utc_now

__all__ = ["LOGGER", "JsonLines", "event", "attach_json_log", "detach", "RunProgress"]

LOGGER = logging.getLogger("kgllm.jobs")
LOGGER.setLevel(logging.INFO)
LOGGER.propagate = False


class JsonLines(logging.Formatter):
    """Format a record as one JSON object: ``ts``, ``level``, ``event`` and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": utc_now(), "level": record.levelname.lower(), "event": record.getMessage()}
        data.update(getattr(record, "fields", {}))
        return json.dumps(data, ensure_ascii=False, default=str)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log event ``name`` with ``fields`` (one JSON line on every attached handler)."""
    LOGGER.log(level, name, extra={"fields": fields})


def attach_json_log(target: str | os.PathLike[str] | IO[str]) -> logging.Handler:
    """Write the job events as JSON lines to a stream or append them to a file (folders created)."""
    if isinstance(target, (str, os.PathLike)):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(target, encoding="utf-8")
    else:
        handler = logging.StreamHandler(target)
    handler.setFormatter(JsonLines())
    LOGGER.addHandler(handler)
    return handler


def detach(handler: Optional[logging.Handler]) -> None:
    """Stop writing to ``handler`` and close it."""
    if handler is not None:
        LOGGER.removeHandler(handler)
        handler.close()


class RunProgress:
    """A rich progress bar on stderr: documents done of those to extract, facts written, documents/s, ETA.

    Disabled, it counts without drawing (``docs`` and ``facts`` stay current either way).

    >>> bar = RunProgress(3, enabled=False)
    >>> bar.advance(facts=2); bar.advance(facts=1); (bar.docs, bar.facts)
    (2, 3)
    """

    def __init__(self, total: int, enabled: bool = True, label: str = "ingesting") -> None:
        self.total, self.docs, self.facts = total, 0, 0
        self._bar: Any = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("docs"),
                                 TextColumn("{task.fields[facts]} facts"), TextColumn("{task.fields[rate]}"),
                                 TaskProgressColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task(label, total=total, facts=0, rate="")
            self._bar.start()

    def advance(self, docs: int = 1, facts: int = 0) -> None:
        """Count ``docs`` more documents done, ``facts`` more facts written."""
        self.docs += docs
        self.facts += facts
        if self._bar is not None:
            task = self._bar.tasks[0]
            speed = task.speed
            self._bar.update(self._task, advance=docs, facts=self.facts,
                             rate=f"{speed:.1f} docs/s" if speed else "")

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
