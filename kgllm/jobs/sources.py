"""What a job's sources hold now: one :class:`Unit` per document, with its content hash, or the error reading it.

Scanning reads every file once to hash it; the runner compares the hashes with the ledger and loads the text
again only for new or changed documents. A document that cannot be read is a unit with an ``error`` (the run
records it and goes on); a source that could not be read whole (a missing folder, a malformed JSONL line)
is listed in :attr:`Scan.incomplete`, and documents the ledger knows from it are then not taken as deleted.

Examples
--------
>>> import tempfile, pathlib
>>> from kgllm.jobs.spec import SourceSpec
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.txt").write_text("Oslo is in Norway.")
>>> _ = (folder / "b.txt").write_bytes(b"\\xff\\xfe bad")
>>> scan = scan_sources([SourceSpec(folder=folder)])
>>> [(u.doc_id, u.error is None) for u in scan.units]
[('a.txt', True), ('b.txt', False)]
>>> scan.units[0].load().text
'Oslo is in Norway.'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from kgllm.errors import KgllmError
from kgllm.jobs.spec import JobSpec, SourceSpec
from kgllm.loaders import JSONL_SUFFIXES, TEXT_SUFFIXES, read_kb_tsv
from kgllm.stores.ledger import DocumentRecord, content_hash
from kgllm.types import Document, GraphDelta

__all__ = ["Unit", "Scan", "Plan", "scan_sources", "owns", "absolute"]


@dataclass
class Unit:
    """One document of a source: id, where it comes from, content hash, and how to load it (or why it cannot be)."""

    doc_id: str
    source: str
    content_hash: str = ""
    error: Optional[str] = None
    kind: str = "text"  # "text" (extract) or "kb" (a TSV knowledge base: facts as they are)
    _load: Optional[Callable[[], Union[Document, GraphDelta]]] = field(default=None, repr=False)

    def load(self) -> Union[Document, GraphDelta]:
        """The document (text units) or the knowledge base's delta (kb units)."""
        if self._load is None:
            raise KgllmError(f"{self.doc_id}: {self.error or 'nothing to load'}")
        return self._load()


@dataclass
class Scan:
    """All units of a job's sources, in source order, and the sources that could not be read whole."""

    units: list[Unit] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


def _abs(p: Path) -> str:
    return Path(os.path.abspath(p)).as_posix()


def _stored(p: Path, base: Optional[Path]) -> str:
    """How the ledger records ``p``: relative to the job's folder (the spec's) when it lies below it, so a graph
    moved with its spec and texts keeps meaning; else absolute.

    >>> _stored(Path("/data/jobs/texts/a.txt"), Path("/data/jobs")), _stored(Path("/elsewhere/a.txt"), Path("/data"))
    ('texts/a.txt', '/elsewhere/a.txt')
    """
    full = Path(_abs(p))
    if base is not None:
        try:
            return full.relative_to(_abs(base)).as_posix()
        except ValueError:
            pass
    return full.as_posix()


def absolute(source: str, base: Optional[Path]) -> str:
    """A ledger row's ``source`` as an absolute path (rows written before sources were relative are already).

    >>> absolute("texts/a.txt", Path("/data/jobs")), absolute("/data/feed.jsonl:3", Path("/x"))
    ('/data/jobs/texts/a.txt', '/data/feed.jsonl:3')
    """
    if base is None or source.startswith("/") or (len(source) > 1 and source[1] == ":"):
        return source
    return (Path(_abs(base)) / source).as_posix()


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file (contains NUL bytes); expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def _text_unit(path: Path, doc_id: str, base: Optional[Path]) -> Unit:
    source = _stored(path, base)
    try:
        text = _read_text(path)
    except (OSError, ValueError) as exc:
        return Unit(doc_id, source, error=f"{path}: {exc}")
    digest = content_hash(text)

    def load() -> Document:
        again = _read_text(path)  # read again: the scan keeps no texts in memory
        if content_hash(again) != digest:
            raise ValueError(f"{path} changed while the run was reading it")
        return Document(doc_id, again, source=source)

    return Unit(doc_id, source, digest, _load=load)


def _jsonl_units(path: Path, file_id: str, spec: SourceSpec, scan: Scan, base: Optional[Path]) -> None:
    source = _stored(path, base)
    try:
        lines = _read_text(path).splitlines()
    except (OSError, ValueError) as exc:
        scan.units.append(Unit(spec.id_prefix + file_id, source, error=f"{path}: {exc}"))
        scan.incomplete.append(_abs(path))
        return
    seen: set[str] = set()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        fallback = f"{spec.id_prefix}{file_id}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            scan.units.append(Unit(fallback, where, error=f"{path}:{lineno}: malformed JSON ({exc.msg} at column "
                                                           f"{exc.colno}); expected one JSON object per line"))
            scan.incomplete.append(_abs(path))
            continue
        if not isinstance(obj, dict):
            scan.units.append(Unit(fallback, where, error=f"{path}:{lineno}: expected a JSON object, "
                                                           f"got {type(obj).__name__}"))
            scan.incomplete.append(_abs(path))
            continue
        raw_id = obj.get(spec.id_field)
        doc_id = fallback if raw_id is None or raw_id == "" else spec.id_prefix + str(raw_id)
        if doc_id in seen:
            doc_id = f"{doc_id}#{lineno}"
        seen.add(doc_id)
        text = obj.get(spec.text_field)
        if not isinstance(text, str):
            got = "nothing" if text is None else type(text).__name__
            scan.units.append(Unit(doc_id, where, error=f"{path}:{lineno}: expected a string field "
                                                        f"{spec.text_field!r}, got {got}"))
            continue
        meta = {k: v for k, v in obj.items() if k != spec.text_field}
        doc = Document(doc_id, text, source=where, metadata=meta)
        scan.units.append(Unit(doc_id, where, content_hash(text), _load=lambda doc=doc: doc))


def _kb_unit(path: Path, spec: SourceSpec, base: Optional[Path]) -> Unit:
    source = _stored(path, base)
    doc_id = f"{spec.id_prefix}kb:{path.name}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Unit(doc_id, source, error=f"{path}: {exc}", kind="kb")
    digest = content_hash(raw)

    def load() -> GraphDelta:
        delta = read_kb_tsv(path)
        if spec.id_prefix:  # the ledger's id is the provenance's document id
            delta.facts = [replace(f, provenance=tuple(replace(p, doc_id=doc_id) for p in f.provenance))
                           for f in delta.facts]
        return delta

    return Unit(doc_id, source, digest, kind="kb", _load=load)


def scan_sources(sources: Sequence[SourceSpec], base: Optional[Path] = None) -> Scan:
    """Every document of ``sources`` with its content hash; unreadable ones carry their error.

    A document id seen twice (two sources holding ``notes.txt``) is an error on the second one. Sources are
    recorded relative to ``base`` (the job's folder) where they lie below it.
    """
    scan = Scan()
    for spec in sources:
        if spec.kind == "folder":
            root = spec.path
            if not root.is_dir():
                scan.units.append(Unit(spec.id_prefix + root.name, _abs(root), error=f"folder not found: {root}"))
                scan.incomplete.append(_abs(root))
                continue
            for p in sorted(root.glob(spec.glob)):
                inside = p.relative_to(root)
                if not p.is_file() or any(part.startswith(".") for part in inside.parts):
                    continue
                if p.suffix.lower() in JSONL_SUFFIXES:
                    _jsonl_units(p, inside.as_posix(), spec, scan, base)
                elif p.suffix.lower() in TEXT_SUFFIXES:
                    scan.units.append(_text_unit(p, spec.id_prefix + inside.as_posix(), base))
                elif p.suffix.lower() == ".tsv":
                    scan.units.append(_kb_unit(p, spec, base))
        elif not spec.path.is_file():
            scan.units.append(Unit(spec.id_prefix + spec.path.name, _abs(spec.path),
                                   error=f"file not found: {spec.path}"))
            scan.incomplete.append(_abs(spec.path))
        elif spec.kind == "jsonl":
            _jsonl_units(spec.path, spec.path.name, spec, scan, base)
        else:
            scan.units.append(_kb_unit(spec.path, spec, base))
    first: dict[str, Unit] = {}
    for unit in scan.units:
        other = first.setdefault(unit.doc_id, unit)
        if other is not unit and unit.error is None:
            unit.error = (f"document id {unit.doc_id!r} of {unit.source} is also the id of {other.source}; ids "
                          "must be unique (give one of the sources an id_prefix)")
            unit._load = None
    return scan


def owns(sources: Sequence[SourceSpec], source: str, base: Optional[Path] = None) -> bool:
    """Whether a ledger row's ``source`` lies in one of ``sources`` (so its absence there means it was deleted);
    a relative ``source`` is read relative to ``base``.

    >>> from kgllm.jobs.spec import SourceSpec
    >>> owns([SourceSpec(folder=Path("/data/texts"))], "/data/texts/a.txt")
    True
    >>> owns([SourceSpec(jsonl=Path("/data/feed.jsonl"))], "/data/feed.jsonl:12"), owns([], "/x")
    (True, False)
    >>> owns([SourceSpec(folder=Path("/data/texts"))], "texts/a.txt", base=Path("/data"))
    True
    """
    source = absolute(source, base)
    for spec in sources:
        root = _abs(spec.path)
        if source == root or source.startswith(root + ("/" if spec.kind == "folder" else ":")):
            return True
    return False


class Plan:
    """What a run would do: documents to ingest (new, changed), unchanged ones, deleted ones, unreadable ones."""

    def __init__(self, scan: Scan, ledger: dict[str, DocumentRecord], spec: JobSpec) -> None:
        self.new: list[Unit] = []
        self.changed: list[Unit] = []
        self.unchanged: list[Unit] = []
        self.failed: list[Unit] = []
        self.units = scan.units
        self.scan, self.ledger = scan, ledger
        seen: set[str] = set()
        for unit in scan.units:
            if unit.error is not None:
                self.failed.append(unit)
                continue
            seen.add(unit.doc_id)
            old = ledger.get(unit.doc_id)
            if old is None:
                self.new.append(unit)
            elif old.content_hash == unit.content_hash:
                self.unchanged.append(unit)
            elif absolute(old.source, spec.base) != absolute(unit.source, spec.base) \
                    and not owns(spec.sources, old.source, spec.base):
                unit.error = (f"document id {unit.doc_id!r} is already in the store from {old.source} (another "
                              "job?); give this source an id_prefix")
                self.failed.append(unit)
            else:
                self.changed.append(unit)
        seen.update(u.doc_id for u in self.failed)  # a document that failed to read is not deleted
        def incomplete(source: str) -> bool:
            full = absolute(source, spec.base)
            return any(full == s or full.startswith(s + ":") for s in scan.incomplete)

        self.deleted = [r for r in ledger.values() if r.doc_id not in seen and owns(spec.sources, r.source, spec.base)
                        and not incomplete(r.source)]
        self.duplicates: list[tuple[Unit, str]] = []  # a new document and the document holding its content
        if not spec.allow_duplicates:
            self._find_duplicates(ledger)

    def _find_duplicates(self, ledger: dict[str, DocumentRecord]) -> None:
        """Move new documents whose content another document holds (in the ledger and staying, or earlier in
        the sources) from :attr:`new` to :attr:`duplicates`, as ``kgllm build`` skips them."""
        gone = {r.doc_id for r in self.deleted}
        holder = {r.content_hash: r.doc_id for r in sorted(ledger.values(), key=lambda r: r.doc_id, reverse=True)
                  if r.doc_id not in gone}
        new, changed = {id(u) for u in self.new}, {id(u) for u in self.changed}
        for unit in self.units:
            if unit.error is None and (id(unit) in new or id(unit) in changed):
                twin = holder.setdefault(unit.content_hash, unit.doc_id)
                if id(unit) in new and twin != unit.doc_id:
                    self.duplicates.append((unit, twin))
        dropped = {id(u) for u, _ in self.duplicates}
        self.new = [u for u in self.new if id(u) not in dropped]

    @property
    def pending(self) -> list[Unit]:
        """New and changed documents, knowledge bases first, then texts, each in source order."""
        todo = [u for u in self.new + self.changed]
        order = {id(u): i for i, u in enumerate(todo)}
        return sorted(todo, key=lambda u: (u.kind != "kb", order[id(u)]))

    def counts(self) -> dict[str, int]:
        """``new``, ``changed``, ``unchanged``, ``deleted``, ``unreadable`` and ``duplicate`` document counts."""
        return {"new": len(self.new), "changed": len(self.changed), "unchanged": len(self.unchanged),
                "deleted": len(self.deleted), "unreadable": len(self.failed), "duplicate": len(self.duplicates)}
