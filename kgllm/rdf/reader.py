"""Where an import's statements come from: N-Triples / N-Quads streamed line by line, other formats via rdflib.

Both sources can be read twice (an import validates everything in a first pass before it writes in a second).
A line source yields ``(lineno, quad)`` in batches so that a progress bar costs nothing per line; an rdflib
source parses the file once, keeps it, and yields each subject's statements together.

>>> import tempfile, pathlib
>>> f = pathlib.Path(tempfile.mkdtemp()) / "g.nt"
>>> _ = f.write_text('<http://x.org/a> <http://x.org/r> <http://x.org/b> .\\n', encoding="utf-8")
>>> [q for batch in LineSource(f, "nt").batches() for q in batch]
[(1, ('http://x.org/a', 'http://x.org/r', 'http://x.org/b', None))]
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, Iterator

from kgllm.errors import InputError, NotFoundError
from kgllm.rdf.export import FORMATS
from kgllm.rdf.terms import Quad, from_rdflib, parse_line

__all__ = ["LineSource", "RdflibSource", "open_source", "BATCH_LINES"]

BATCH_LINES = 20_000
"""Lines per batch of a line source (one progress step)."""


def _check_file(path: Path) -> None:
    if not path.exists():
        raise NotFoundError(f"RDF file not found: {path}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")


class LineSource:
    """An N-Triples (``fmt="nt"``) or N-Quads (``"nq"``) file read line by line (bounded memory)."""

    def __init__(self, path: str | os.PathLike[str], fmt: str) -> None:
        self.path = Path(path)
        self.fmt = fmt
        _check_file(self.path)
        self.batches_seen = 0

    def batches(self) -> Iterator[list[tuple[int, Quad]]]:
        try:
            yield from self._batches()
        except (OSError, EOFError) as exc:  # a truncated or corrupt .gz file
            raise InputError(f"{self.path}: cannot be read: {exc}") from None

    def _batches(self) -> Iterator[list[tuple[int, Quad]]]:
        where = str(self.path)
        batch: list[tuple[int, Quad]] = []
        count = 0
        opener = gzip.open if self.path.suffix.lower() == ".gz" else open
        with opener(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"{where}:{lineno}: not UTF-8 ({exc.reason})") from None
                quad = parse_line(line, where, lineno)
                if quad is None:
                    continue
                if quad[3] is not None and self.fmt == "nt":
                    raise InputError(f"{where}:{lineno}: a graph name in an N-Triples file (N-Quads files end "
                                     "in .nq; pass --format nq)")
                batch.append((lineno, quad))
                if len(batch) >= BATCH_LINES:
                    count += 1
                    yield batch
                    batch = []
        if batch:
            count += 1
            yield batch
        self.batches_seen = count


class RdflibSource:
    """A Turtle, TriG or JSON-LD file parsed by rdflib (held in memory), statements grouped by subject."""

    def __init__(self, path: str | os.PathLike[str], fmt: str) -> None:
        from rdflib import Dataset

        self.path = Path(path)
        self.fmt = fmt
        _check_file(self.path)
        if self.path.suffix.lower() == ".gz":
            raise InputError(f"{self.path}: compressed {fmt} is not read (only .nt.gz and .nq.gz are); "
                             "decompress it first")
        self.dataset = Dataset(default_union=True)
        try:
            self.dataset.parse(str(self.path), format=FORMATS[fmt][0])
        except Exception as exc:  # rdflib raises many types (BadSyntax, ValueError, JSON errors)
            text = " ".join(str(exc).split())
            raise InputError(f"{self.path}: malformed {fmt} ({type(exc).__name__}: {text[:300]})") from None
        self.batches_seen = 1

    def batches(self) -> Iterator[list[tuple[int, Quad]]]:
        ds: Any = self.dataset
        batch: list[tuple[int, Quad]] = []
        for subject in sorted(set(ds.subjects()), key=lambda t: (type(t).__name__, str(t))):
            for s, p, o, g in ds.quads((subject, None, None, None)):
                graph = from_rdflib(g)
                batch.append((0, (from_rdflib(s), str(p), from_rdflib(o), graph)))  # type: ignore[arg-type]
        yield batch


def open_source(path: str | os.PathLike[str], fmt: str) -> LineSource | RdflibSource:
    """The source that reads ``path`` in format ``fmt`` (see :data:`~kgllm.rdf.export.FORMATS`)."""
    return LineSource(path, fmt) if fmt in ("nt", "nq") else RdflibSource(path, fmt)
