"""One progress bar for long work: rich, on stderr (stdout stays clean for ``--json``), gone when done.

>>> list(progress([1, 2, 3], "counting", enabled=False))
[1, 2, 3]
"""

from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

__all__ = ["progress"]

T = TypeVar("T")


def progress(items: Iterable[T], label: str, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Yield ``items``, advancing a bar labelled ``label`` (``total`` defaults to ``len(items)``)."""
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task)
