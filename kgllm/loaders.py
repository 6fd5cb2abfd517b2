"""Load documents (text files, folders, JSONL) and knowledge bases (TSV).

Document ids are stable and unique: a text file given by path gets that path
(POSIX form, folders included: ``notes/2024/a.txt``), a file found in a folder
its path inside that folder, a JSONL line its ``id`` field or else
``<file id>:<line>``. :func:`load_sources` refuses two documents with one id,
so retracting a document never removes another.

Every error names the file and, for line formats, the line and what was expected.
:func:`read_sources` reads what it can and lists the rest (:class:`SkippedFile`: an empty or binary
file, every malformed JSONL line), so one bad file does not stop a build; :func:`load_sources` refuses them.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.txt").write_text("Warsaw is the capital of Poland.")
>>> _ = (folder / "b.jsonl").write_text('{"id": "x", "text": "Oslo is in Norway."}\\n')
>>> [d.id for d in load_sources([folder])]
['a.txt', 'x']
>>> _ = (folder / "kb.tsv").write_text("warsaw\\tcapital_of\\tpoland\\n")
>>> [f.as_line() for f in read_kb_tsv(folder / "kb.tsv").facts]
['warsaw --capital_of--> poland']
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from kgllm.errors import InputError, NotFoundError
from kgllm.types import Document, Entity, Fact, GraphDelta, Provenance, entity_id

__all__ = ["load_text", "load_text_file", "load_jsonl", "load_folder", "load_sources", "read_sources", "read_kb_tsv",
           "iter_jsonl", "SkippedFile", "Sources"]

TEXT_SUFFIXES = (".txt", ".md", ".text")
JSONL_SUFFIXES = (".jsonl", ".ndjson")


def load_text(text: str, doc_id: str | None = None) -> Document:
    """Wrap a string as a document; the id defaults to a hash of the text.

    >>> load_text("Oslo is in Norway.").id
    'text:50c396985811'
    """
    import hashlib

    if not isinstance(text, str):
        raise InputError(f"expected text as str, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"empty text{f' in document {doc_id!r}' if doc_id else ''}: nothing to ingest")
    return Document(doc_id or "text:" + hashlib.sha1(text.encode()).hexdigest()[:12], text)


@dataclass(frozen=True)
class SkippedFile:
    """A file, or a line of a JSONL file, that could not be read as a document: where, and why.

    >>> str(SkippedFile("notes/scan.txt", "binary file (contains NUL bytes); expected UTF-8 text"))
    'notes/scan.txt: binary file (contains NUL bytes); expected UTF-8 text'
    """

    where: str  # the file, or FILE:LINE
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class Sources:
    """What :func:`read_sources` found: the documents, what it skipped (with the reason) and the files of folders
    it did not read because their kind is not one it reads (``.pdf``, ``.png``...)."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # each document's place among documents and skipped items

    def add(self, doc: Document) -> None:
        """Add a document read, at the next place in source order."""
        self.positions.append(len(self.documents) + len(self.skipped))
        self.documents.append(doc)

    def skip(self, item: SkippedFile) -> None:
        """Add a file or line that could not be read; it takes its place in source order."""
        self.skipped.append(item)

    def groups(self, size: int) -> list[list[Document]]:
        """The documents in groups fixed by their places in the sources (``size`` consecutive places each, skipped
        items counted), as a job groups a folder's documents: the same files give the same groups."""
        out: dict[int, list[Document]] = {}
        for place, doc in zip(self.positions, self.documents):
            out.setdefault(place // size, []).append(doc)
        return list(out.values())

    def refuse_skipped(self) -> None:
        """Raise one :class:`~kgllm.errors.InputError` naming every skipped file and line (if any)."""
        if len(self.skipped) == 1:
            raise InputError(str(self.skipped[0]))
        if self.skipped:
            raise InputError(f"{len(self.skipped)} files or lines cannot be read:\n"
                             + "\n".join(f"  {s}" for s in self.skipped))


def _decode(path: Path) -> str:
    """The UTF-8 text of ``path``; :class:`_Unreadable` says why not (the path is not in the reason)."""
    if not path.exists():
        raise NotFoundError(f"file not found: {path}")
    if not path.is_file():
        raise _Unreadable("not a regular file")
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise _Unreadable("binary file (contains NUL bytes); expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not UTF-8 text (byte {exc.start}: {exc.reason})") from exc


class _Unreadable(Exception):
    """A file that exists but holds no readable text (becomes a :class:`SkippedFile`, or an InputError)."""


def _read_utf8(path: Path) -> str:
    try:
        return _decode(path)
    except _Unreadable as exc:
        raise InputError(f"{path}: {exc}") from None


def _relative(path: Path) -> str:
    """``path`` as a document's source: relative to the working directory (where the build runs) when it lies
    below it, so a graph moved with its texts keeps meaning; a path given relative stays as given, one outside
    the working directory stays absolute.

    >>> import os
    >>> _relative(Path(os.getcwd()) / "notes" / "a.txt"), _relative(Path("notes/a.txt")), _relative(Path("/x/a.txt"))
    ('notes/a.txt', 'notes/a.txt', '/x/a.txt')
    """
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:  # not below the working directory
        return str(path)


def load_text_file(path: str | os.PathLike[str], doc_id: str | None = None) -> Document:
    """Read one UTF-8 text file as a document (id: the path as given, POSIX form, unless ``doc_id`` is given).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "2024").mkdir()
    >>> _ = (folder / "2024" / "notes.txt").write_text("Oslo is in Norway.")
    >>> load_text_file(folder / "2024" / "notes.txt").id == f"{folder.as_posix()}/2024/notes.txt"
    True
    """
    p = Path(path)
    text = _read_utf8(p)
    if not text.strip():
        raise InputError(f"{p}: {_EMPTY}")
    return Document(doc_id or p.as_posix(), text, source=_relative(p))


_EMPTY = "empty file, nothing to ingest"


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line; errors name file and line."""
    p = Path(path)
    for lineno, line in enumerate(_read_utf8(p).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno}); "
                             "expected one JSON object per line") from exc
        if not isinstance(obj, dict):
            raise InputError(f"{p}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def _jsonl(p: Path, text_field: str, id_field: str, file_id: str, found: Sources) -> None:
    """Add the documents of the JSONL file ``p`` to ``found``, and a :class:`SkippedFile` for every bad line."""
    try:
        lines = _decode(p).splitlines()
    except _Unreadable as exc:
        found.skip(SkippedFile(str(p), str(exc)))
        return
    seen: set[str] = set()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            found.skip(SkippedFile(where, f"malformed JSON ({exc.msg} at column {exc.colno}); "
                                                    "expected one JSON object per line"))
            continue
        if not isinstance(obj, dict):
            found.skip(SkippedFile(where, f"expected a JSON object, got {type(obj).__name__}"))
            continue
        text = obj.get(text_field)
        if not isinstance(text, str):
            found.skip(SkippedFile(where, f"expected a string field {text_field!r}, "
                                                    f"got {'nothing' if text is None else type(text).__name__}"))
            continue
        if not text.strip():
            found.skip(SkippedFile(where, f"field {text_field!r} is empty"))
            continue
        raw_id = obj.get(id_field)
        doc_id = f"{file_id}:{lineno}" if raw_id is None or raw_id == "" else str(raw_id)  # id 0 is an id
        if doc_id in seen:  # datasets reuse ids across lines; keep documents distinct
            doc_id = f"{doc_id}#{lineno}"
        seen.add(doc_id)
        meta = {k: v for k, v in obj.items() if k not in (text_field,)}
        found.add(Document(doc_id, text, source=f"{_relative(p)}:{lineno}", metadata=meta))


def load_jsonl(path: str | os.PathLike[str], text_field: str = "text", id_field: str = "id",
               file_id: str | None = None) -> list[Document]:
    """Read documents from JSONL, one object a line with a ``text_field`` string.

    Lines without an id get ``<file id>:<line>``, the file id being ``file_id``
    or else the path as given (POSIX form); a repeated id gets ``#<line>``. The
    whole file is checked before anything is returned, so a bad line never
    half-loads a file: the error names every bad line.

    >>> import tempfile, pathlib
    >>> rows = pathlib.Path(tempfile.mkdtemp()) / "rows.jsonl"
    >>> _ = rows.write_text('{"text": "Oslo is in Norway."}\\n{oops}\\n[1]\\n')
    >>> load_jsonl(rows)
    Traceback (most recent call last):
    ...
    kgllm.errors.InputError: 2 files or lines cannot be read:
      .../rows.jsonl:2: malformed JSON (Expecting property name enclosed in double quotes at column 2); expected one JSON object per line
      .../rows.jsonl:3: expected a JSON object, got list
    """
    p = Path(path)
    found = Sources()
    _jsonl(p, text_field, id_field, file_id or p.as_posix(), found)
    found.refuse_skipped()
    return found.documents


def load_folder(path: str | os.PathLike[str], pattern: str = "**/*") -> list[Document]:
    """Load every text and JSONL file under ``path`` matching ``pattern`` (sorted, hidden files skipped).

    A file's document id is its path inside the folder (``2024/notes.txt``).
    """
    found = Sources()
    _folder(Path(path), pattern, "text", found)
    found.refuse_skipped()
    return found.documents


def _text_file(p: Path, doc_id: str, found: Sources) -> None:
    try:
        text = _decode(p)
    except _Unreadable as exc:
        found.skip(SkippedFile(str(p), str(exc)))
        return
    if not text.strip():
        found.skip(SkippedFile(str(p), _EMPTY))
        return
    found.add(Document(doc_id, text, source=_relative(p)))


def _folder(root: Path, pattern: str, text_field: str, found: Sources) -> None:
    if not root.is_dir():
        raise NotFoundError(f"folder not found: {root}")
    for p in sorted(root.glob(pattern)):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        inside = p.relative_to(root).as_posix()
        if p.suffix.lower() in JSONL_SUFFIXES:
            _jsonl(p, text_field, "id", inside, found)
        elif p.suffix.lower() in TEXT_SUFFIXES:
            _text_file(p, inside, found)
        else:
            found.ignored.append(str(p))


def read_sources(sources: Iterable[str | os.PathLike[str]], text_field: str = "text") -> Sources:
    """Read files and folders as :func:`load_sources` does, but skip what cannot be read, saying why.

    An empty, binary or non-UTF-8 file, and every bad line of a JSONL file, become a :class:`SkippedFile`
    and the rest is read; files in folders whose kind is not read (``.pdf``) are listed in
    :attr:`Sources.ignored`.

    Raises
    ------
    NotFoundError
        A source does not exist.
    InputError
        Two documents would share an id (say, two folders that both hold ``notes.txt``), naming the id and
        both sources, or nothing readable was found (the message lists what was skipped).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("Oslo is in Norway.")
    >>> _ = (folder / "b.txt").write_text("")
    >>> _ = (folder / "c.txt").write_bytes(b"\\x00\\x01")
    >>> found = read_sources([folder])
    >>> [d.id for d in found.documents], [s.reason for s in found.skipped]
    (['a.txt'], ['empty file, nothing to ingest', 'binary file (contains NUL bytes); expected UTF-8 text'])
    """
    sources = list(sources)  # iterated twice (the error message names them)
    found = Sources()
    for source in sources:
        p = Path(source)
        if p.is_dir():
            _folder(p, "**/*", text_field, found)
        elif p.suffix.lower() in JSONL_SUFFIXES:
            if not p.exists():
                raise NotFoundError(f"file not found: {p}")
            _jsonl(p, text_field, "id", p.as_posix(), found)
        else:
            _text_file(p, p.as_posix(), found)
    first: dict[str, Document] = {}
    for doc in found.documents:
        other = first.setdefault(doc.id, doc)
        if other is not doc:
            raise InputError(f"document id {doc.id!r} of {doc.source} is also the id of {other.source}; "
                             "ids must be unique (load the folders separately or give the files distinct paths)")
    if not found.documents:
        named = ', '.join(map(str, sources)) or 'the given sources'
        if found.skipped:
            raise InputError(f"no readable documents in {named}:\n" + "\n".join(f"  {s}" for s in found.skipped))
        raise InputError(f"no documents found in {named}")
    return found


def load_sources(sources: Iterable[str | os.PathLike[str]], text_field: str = "text") -> list[Document]:
    """Load files and folders: ``.jsonl`` by line, folders recursively, anything else as one text file.

    Raises
    ------
    InputError
        If nothing was found, a file or a JSONL line cannot be read (the message names every one), or two
        documents would share an id (say, two folders that both hold ``notes.txt``), naming the id and both
        sources.
    """
    found = read_sources(sources, text_field=text_field)
    found.refuse_skipped()
    return found.documents


def read_kb_tsv(path: str | os.PathLike[str]) -> GraphDelta:
    """Read a ``subject<TAB>relation<TAB>object`` knowledge base into a delta.

    Entity names are kept as written (``ada_lindqvist``); ids are normalised
    with :func:`~kgllm.types.entity_id`, except that a name made only of
    punctuation (``.``, ``!!!``, ``?``) keeps its characters as its id. Any
    non-empty name is accepted; blank lines and ``#`` comments are skipped.
    Each fact's provenance is the file and line it came from.

    Raises
    ------
    InputError
        For a line without exactly three tab-separated fields or with an empty
        field, naming the file, the line and the field; for a file without facts.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> kb = pathlib.Path(tempfile.mkdtemp()) / "kb.tsv"
    >>> _ = kb.write_text("Ada_Lindqvist\\tfavourite_symbol\\t!!!\\n.\\tis_a\\tpunctuation mark\\n")
    >>> [f.as_line() for f in read_kb_tsv(kb).facts]
    ['ada lindqvist --favourite_symbol--> !!!', '. --is_a--> punctuation mark']
    """
    p = Path(path)
    delta = GraphDelta()
    names: dict[str, str] = {}
    for lineno, line in enumerate(_read_utf8(p).splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise InputError(f"{p}:{lineno}: expected 3 tab-separated fields subject<TAB>relation<TAB>object, "
                             f"got {len(parts)}: {line[:80]!r}")
        empty = [name for name, x in zip(("subject", "relation", "object"), parts) if not x.strip()]
        if empty:
            raise InputError(f"{p}:{lineno}: empty {' and '.join(empty)} field in {line[:80]!r}")
        s, r, o = (x.strip() for x in parts)
        sid, oid = _kb_id(s), _kb_id(o)
        names.setdefault(sid, s)
        names.setdefault(oid, o)
        prov = Provenance(doc_id=f"kb:{p.name}", chunk=lineno, extractor="tsv", sentence=line)
        delta.facts.append(Fact(sid, r, oid, 1.0, (prov,)))
    if not delta.facts:
        raise InputError(f"{p}: no facts found (expected subject<TAB>relation<TAB>object lines)")
    delta.entities = [Entity(eid, name) for eid, name in names.items()]
    return delta


def _kb_id(name: str) -> str:
    """Id of a knowledge-base name: :func:`~kgllm.types.entity_id`, or the name itself when that strips it to nothing.

    >>> _kb_id("Ada_Lindqvist"), _kb_id("?"), _kb_id("!! !")
    ('ada lindqvist', '?', '!! !')
    """
    return entity_id(name) or " ".join(unicodedata.normalize("NFKC", name).split()).casefold()
