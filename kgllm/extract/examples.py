"""Labelled extraction examples: reading them, and aligning their gold triples with the text's spans.

The format is the extraction JSONL of ``../shared/data`` (one object a line)::

    {"text": "...", "triples": [["subject", "relation", "object"], ...], "relations": ["...", ...]}

``relations`` (the schema the item was annotated with) is optional; ``category`` or the id's
ontology prefix (``ont_3_airport_train_1`` -> ``ont_3``) names the example's ontology.
:func:`read_examples` checks every line and names the file and line of a bad one.
:func:`align` finds, for each gold subject and object, the candidate span it stands for
(:func:`kgllm.extract.normalise.similarity`).

Examples
--------
>>> import json, tempfile, pathlib
>>> f = pathlib.Path(tempfile.mkdtemp()) / "train.jsonl"
>>> _ = f.write_text(json.dumps({"id": "ont_2_city_train_1", "text": "Oslo is in Norway.",
...                              "triples": [["Oslo", "country", "Norway"]], "relations": ["country"]}) + "\\n")
>>> ex = read_examples([f])[0]
>>> ex.triples, ex.relations, ex.group
((('Oslo', 'country', 'Norway'),), ('country',), 'ont_2')
>>> _ = f.write_text('{"text": "Oslo.", "triples": [["Oslo", "country"]]}\\n')
>>> read_examples([f])
Traceback (most recent call last):
...
kgllm.errors.InputError: ...train.jsonl:1: triple 0 must be a list of 3 strings [subject, relation, object], got ['Oslo', 'country']
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from kgllm.errors import InputError, NotFoundError
from kgllm.extract.candidates import Candidate
from kgllm.extract.normalise import similarity

__all__ = ["Example", "iter_items", "read_examples", "validate_item", "align", "ALIGN_THRESHOLD"]

#: Lowest :func:`~kgllm.extract.normalise.similarity` at which a gold string is aligned with a span.
ALIGN_THRESHOLD = 0.8
_ONTOLOGY = re.compile(r"^(ont_\d+)_")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text.

    Attributes
    ----------
    text : str
    triples : tuple of (subject, relation, object)
    relations : tuple of str, optional
        The relations the item was annotated with (its schema), when the file gives them.
    group : str
        Its ontology: the id's ``ont_N`` prefix, else ``category``, else ``""``.
    where : str
        ``file:line``.
    """

    text: str
    triples: tuple[tuple[str, str, str], ...]
    relations: tuple[str, ...] | None
    group: str
    where: str


def validate_item(where: str, obj: dict[str, Any]) -> None:
    """Raise :class:`~kgllm.errors.InputError` naming ``where`` unless ``obj`` is an extraction item."""
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: expected a non-empty string field 'text'")
    triples = obj.get("triples")
    if not isinstance(triples, list):
        raise InputError(f"{where}: expected 'triples' as a list of [subject, relation, object]")
    for k, t in enumerate(triples):
        if not (isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t)):
            raise InputError(f"{where}: triple {k} must be a list of 3 strings [subject, relation, object], "
                             f"got {t!r}")
    relations = obj.get("relations")
    if relations is not None and not (isinstance(relations, list) and all(isinstance(r, str) for r in relations)):
        raise InputError(f"{where}: optional 'relations' must be a list of strings")


def iter_items(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of each non-blank line of a JSONL file; a bad line is an ``InputError`` naming it.

    Lines end at ``\\n`` only: a JSON string may hold U+0085 or U+2028 (mojibake in scraped text does), which
    ``str.splitlines`` would take for line ends.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = f.write_text('{"text": "a\\u0085b"}\\n\\n{"text": "c\u2028d"}\\n', encoding="utf-8")
    >>> [(n, len(o["text"])) for n, o in iter_items(f)]
    [(1, 3), (3, 3)]
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"file not found: {p}")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text (byte {exc.start}); expected JSONL, one JSON object per line") from exc
    for lineno, line in enumerate(text.split("\n"), 1):
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


def _group(obj: dict[str, Any]) -> str:
    m = _ONTOLOGY.match(str(obj.get("id", "")))
    if m:
        return m.group(1)
    return str(obj.get("category") or "")


def read_examples(paths: Iterable[str | os.PathLike[str]]) -> list[Example]:
    """Every item of the extraction JSONL files ``paths``, checked (bad line: ``InputError`` naming it)."""
    out: list[Example] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise NotFoundError(f"training file not found: {p}")
        for lineno, obj in iter_items(p):
            where = f"{p}:{lineno}"
            validate_item(where, obj)
            rels = obj.get("relations")
            out.append(Example(obj["text"], tuple(tuple(t) for t in obj["triples"]),
                               tuple(rels) if rels else None, _group(obj), where))
        if not out:
            raise InputError(f"{p}: no examples in the file")
    return out


def align(cands: Sequence[Candidate], triples: Sequence[Sequence[str]],
          threshold: float = ALIGN_THRESHOLD) -> dict[str, int]:
    """The candidate each gold subject and object stands for: ``{gold string: candidate index}``.

    A gold string takes the candidate it is most similar to (ties: the longer span); strings no
    candidate reaches ``threshold`` with are left out.

    >>> c = [Candidate(0, 2, "Mira Holt", "PERSON", 1, "ent"), Candidate(5, 6, "Tallinn", "GPE", 5, "ent")]
    >>> align(c, [("Mira Holt", "birthPlace", "Tallinn, Estonia"), ("Mira Holt", "employer", "Nordlys")])
    {'Mira Holt': 0, 'Tallinn, Estonia': 1}
    """
    out: dict[str, int] = {}
    for name in dict.fromkeys(x for t in triples for x in (t[0], t[2])):
        best, best_score = -1, threshold - 1e-9
        for i, c in enumerate(cands):
            score = similarity(c.text, name)
            if score > best_score or score == best_score and best >= 0 and \
                    c.end - c.start > cands[best].end - cands[best].start:
                best, best_score = i, score
        if best >= 0:
            out[name] = best
    return out
