"""What a file is, read from its first bytes: a kgllm graph file (SQLite or JSON), or something else, named.

A graph file is recognised by its content, whatever its name: ``kgllm build --graph g.kg`` writes a SQLite
database called ``g.kg``, and every command that reads a graph file must open it as one. A file that is not
one is refused with what it looks like and what a graph file is (:func:`check_graph_file`).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "g.kg").write_bytes(b"SQLite format 3\\x00" + bytes(84))
>>> _ = (folder / "old.json").write_text('{"format": "kgllm-graph", "version": 1}')
>>> _ = (folder / "notes.txt").write_text("Ada Lindqvist was born in Tromsø.")
>>> graph_file_kind(folder / "g.kg"), graph_file_kind(folder / "old.json"), graph_file_kind(folder / "notes.txt")
('sqlite', 'json', '')
>>> describe(folder / "notes.txt")
'plain text'
>>> check_graph_file(folder / "notes.txt")
Traceback (most recent call last):
...
kgllm.errors.InputError: .../notes.txt: not a kgllm graph file (it holds plain text). A graph file is a SQLite database written by `kgllm build --graph FILE` or `kgllm import-kb` (any name), or a JSON graph export (`kgllm export --to FILE.json`).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from kgllm.errors import InputError, NotFoundError

__all__ = ["graph_file_kind", "describe", "check_graph_file", "WHAT_A_GRAPH_FILE_IS"]

WHAT_A_GRAPH_FILE_IS = ("A graph file is a SQLite database written by `kgllm build --graph FILE` or `kgllm import-kb` "
                        "(any name), or a JSON graph export (`kgllm export --to FILE.json`).")
"""The sentence every refusal of a non-graph file ends with."""

_SQLITE = b"SQLite format 3\x00"
_GZIP = b"\x1f\x8b"
_HEAD = 65536  # bytes read to tell what a file is
_MARK = b'"kgllm-graph"'
_MAGIC = [  # (first bytes, what the file is)
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x7fELF", "an executable program"),
]
_RDF_SUFFIXES = {".ttl": "Turtle", ".nt": "N-Triples", ".jsonld": "JSON-LD", ".trig": "TriG", ".nq": "N-Quads",
                 ".rdf": "RDF/XML", ".owl": "OWL"}


def _head(path: Path) -> bytes:
    """The first bytes of ``path``, decompressed when it is gzip (a ``.json.gz`` graph file)."""
    with open(path, "rb") as fh:
        raw = fh.read(_HEAD)
    if raw.startswith(_GZIP):
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, _HEAD)
        except zlib.error:
            return b""
    return raw


def graph_file_kind(path: str | os.PathLike[str]) -> str:
    """``"sqlite"`` or ``"json"`` for a kgllm graph file (by content, whatever its name), else ``""``.

    A JSON file counts when it names the graph format near its start (kgllm writes ``"format"`` first), or,
    when it is too long to tell from its start, when its name ends in ``.json`` or ``.json.gz`` (the loader then
    checks it whole).
    A missing or unreadable path is ``""``.
    """
    p = Path(path)
    try:
        if not p.is_file():
            return ""
        with open(p, "rb") as fh:
            if fh.read(16) == _SQLITE:
                return "sqlite"
        head = _head(p).lstrip()
    except OSError:
        return ""
    whole = len(head) < _HEAD - 64  # the head is the whole (decompressed) file: the mark would be in it
    if head.startswith(b"{") and (_MARK in head or (not whole and p.name.lower().endswith((".json", ".json.gz")))):
        return "json"
    return ""


def describe(path: str | os.PathLike[str]) -> str:
    """What ``path`` looks like, in a few words, for messages (``"a PNG image"``, ``"plain text"``, ``"empty"``).

    >>> import tempfile, pathlib
    >>> png = pathlib.Path(tempfile.mkdtemp()) / "graph.sqlite"
    >>> _ = png.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(40))
    >>> describe(png)
    'a PNG image'
    """
    p = Path(path)
    if not p.exists():
        return "nothing (no such file)"
    if p.is_dir():
        return "a folder"
    try:
        with open(p, "rb") as fh:
            raw = fh.read(_HEAD)
    except OSError as exc:
        return f"nothing readable ({exc.strerror or exc})"
    if not raw:
        return "nothing (an empty file)"
    if raw.startswith(_SQLITE):
        return "a SQLite database"
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            return what
    if raw.startswith(_GZIP):
        try:
            with gzip.open(p, "rb") as fh:
                inner = fh.read(_HEAD)
        except (OSError, EOFError):
            return "gzip-compressed data"
        raw = inner
    suffix = (Path(p.stem) if p.suffix.lower() == ".gz" else p).suffix.lower()
    if suffix in _RDF_SUFFIXES:
        return f"RDF ({_RDF_SUFFIXES[suffix]}; `kgllm import` or `kgllm sparql` read it)"
    if b"\x00" in raw[:8192]:
        return "binary data"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4:   # not merely a character cut at the end of what was read
            return "binary data, not UTF-8 text"
        text = raw[:exc.start].decode("utf-8")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        if '"@context"' in stripped:
            return "JSON-LD (RDF; pass --format jsonld to `kgllm import` or `kgllm sparql`)"
        return "JSON, but not a kgllm graph (no \"format\": \"kgllm-graph\")"
    if stripped.startswith("@prefix") or stripped.startswith("PREFIX"):
        return "RDF (Turtle; `kgllm import` or `kgllm sparql` read it with --format ttl)"
    return "plain text"


def check_graph_file(path: str | os.PathLike[str]) -> str:
    """The kind of the graph file ``path`` (``"sqlite"`` or ``"json"``).

    Raises
    ------
    NotFoundError
        ``path`` does not exist.
    InputError
        ``path`` is not a kgllm graph file: the message says what it holds and what a graph file is.
    """
    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"graph file not found: {p}")
    kind = graph_file_kind(p)
    if not kind:
        raise InputError(f"{p}: not a kgllm graph file (it holds {describe(p)}). {WHAT_A_GRAPH_FILE_IS}")
    return kind
