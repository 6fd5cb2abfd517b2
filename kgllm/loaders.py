"""Load documents (text files, folders, JSONL) and knowledge bases (TSV).

Document ids are stable and unique: a text file given by path gets that path
(POSIX form, folders included: ``notes/2024/a.txt``), a file found in a folder
its path inside that folder, a JSONL line its ``id`` field or else
``<file id>:<line>``. :func:`load_sources` refuses two documents with one id,
so retracting a document never removes another.

Every error names the file and, for line formats, the line and what was expected.

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
from pathlib import Path
from typing import Iterable, Iterator

from kgllm.errors import InputError, NotFoundError
from kgllm.types import Document, Entity, Fact, GraphDelta, Provenance, entity_id

__all__ = ["load_text", "load_text_file", "load_jsonl", "load_folder", "load_sources", "read_kb_tsv", "iter_jsonl"]

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


def _read_utf8(path: Path) -> str:
    if not path.exists():
        raise NotFoundError(f"file not found: {path}")
    if not path.is_file():
        raise InputError(f"not a regular file: {path}")
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise InputError(f"{path}: binary file (contains NUL bytes); expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from exc


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
        raise InputError(f"{p}: empty file, nothing to ingest")
    return Document(doc_id or p.as_posix(), text, source=str(p))


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


def load_jsonl(path: str | os.PathLike[str], text_field: str = "text", id_field: str = "id",
               file_id: str | None = None) -> list[Document]:
    """Read documents from JSONL, one object a line with a ``text_field`` string.

    Lines without an id get ``<file id>:<line>``, the file id being ``file_id``
    or else the path as given (POSIX form); a repeated id gets ``#<line>``. The
    whole file is checked before anything is returned, so a bad line never
    half-loads a file.
    """
    p = Path(path)
    file_id = file_id or p.as_posix()
    docs: list[Document] = []
    seen: set[str] = set()
    for lineno, obj in iter_jsonl(p):
        text = obj.get(text_field)
        if not isinstance(text, str):
            raise InputError(f"{p}:{lineno}: expected a string field {text_field!r}, "
                             f"got {'nothing' if text is None else type(text).__name__}")
        if not text.strip():
            raise InputError(f"{p}:{lineno}: field {text_field!r} is empty")
        raw_id = obj.get(id_field)
        doc_id = f"{file_id}:{lineno}" if raw_id is None or raw_id == "" else str(raw_id)  # id 0 is an id
        if doc_id in seen:  # datasets reuse ids across lines; keep documents distinct
            doc_id = f"{doc_id}#{lineno}"
        seen.add(doc_id)
        meta = {k: v for k, v in obj.items() if k not in (text_field,)}
        docs.append(Document(doc_id, text, source=f"{p}:{lineno}", metadata=meta))
    return docs


def load_folder(path: str | os.PathLike[str], pattern: str = "**/*") -> list[Document]:
    """Load every text and JSONL file under ``path`` matching ``pattern`` (sorted, hidden files skipped).

    A file's document id is its path inside the folder (``2024/notes.txt``).
    """
    root = Path(path)
    if not root.is_dir():
        raise NotFoundError(f"folder not found: {root}")
    docs: list[Document] = []
    for p in sorted(root.glob(pattern)):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        inside = p.relative_to(root).as_posix()
        if p.suffix.lower() in JSONL_SUFFIXES:
            docs.extend(load_jsonl(p, file_id=inside))
        elif p.suffix.lower() in TEXT_SUFFIXES:
            docs.append(load_text_file(p, doc_id=inside))
    return docs


def load_sources(sources: Iterable[str | os.PathLike[str]], text_field: str = "text") -> list[Document]:
    """Load files and folders: ``.jsonl`` by line, folders recursively, anything else as one text file.

    Raises
    ------
    InputError
        If nothing was found, or two documents would share an id (say, two
        folders that both hold ``notes.txt``), naming the id and both sources.
    """
    sources = list(sources)  # iterated twice (the error message names them)
    docs: list[Document] = []
    for source in sources:
        p = Path(source)
        if p.is_dir():
            docs.extend(load_folder(p))
        elif p.suffix.lower() in JSONL_SUFFIXES:
            docs.extend(load_jsonl(p, text_field=text_field))
        else:
            docs.append(load_text_file(p))
    first: dict[str, Document] = {}
    for doc in docs:
        other = first.setdefault(doc.id, doc)
        if other is not doc:
            raise InputError(f"document id {doc.id!r} of {doc.source} is also the id of {other.source}; "
                             "ids must be unique (load the folders separately or give the files distinct paths)")
    if not docs:
        raise InputError(f"no documents found in {', '.join(map(str, sources)) or 'the given sources'}")
    return docs


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
