"""Demonstrations for the LM extractor: solved examples, the most similar ones chosen per text.

A demonstration file is in the extraction format (JSONL, one
``{"text": ..., "triples": [[s, r, o], ...]}`` object per line; other fields
are ignored). :class:`DemoBank` embeds the texts with MiniLM
(:func:`kgllm.resources.get_embedder`) and :meth:`DemoBank.select` returns the
``k`` closest to a new text, never one with the same text (so a file can serve
as its own demonstrations without showing an item its own answer).

Examples
--------
>>> bank = DemoBank([("Oslo is the capital of Norway.", [("Oslo", "capital", "Norway")]),
...                  ("Ada was born in 1990.", [("Ada", "birthYear", "1990")])])
>>> [d.text for d in bank.select("Lima is the capital of Peru.", k=1)]
['Oslo is the capital of Norway.']
>>> bank.select("Oslo is the capital of Norway.", k=1)[0].text
'Ada was born in 1990.'
>>> format_facts([("Oslo", "capital", "Norway")])
'[{"s": "Oslo", "r": "capital", "o": "Norway"}]'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from kgllm.errors import InputError
from kgllm.types import entity_id

__all__ = ["Demo", "DemoBank", "format_facts"]


@dataclass(frozen=True, slots=True)
class Demo:
    """One solved example: a text and its (subject, relation, object) triples."""

    text: str
    triples: tuple[tuple[str, str, str], ...]


def format_facts(triples: Iterable[Sequence[str]]) -> str:
    """Triples in the extractor's output format (a JSON list of ``{"s", "r", "o"}`` objects)."""
    return json.dumps([{"s": s, "r": r, "o": o} for s, r, o in triples], ensure_ascii=False)


class DemoBank:
    """Solved examples, searchable by similarity of their texts.

    Parameters
    ----------
    demos : iterable of (text, triples) or Demo
        The examples; empty texts are ignored.
    embedder : Embedder, optional
        Default the shared MiniLM one (loaded on the first :meth:`select`).
    """

    def __init__(self, demos: Iterable[Any], embedder: Any = None) -> None:
        self.demos: list[Demo] = []
        for item in demos:
            text, triples = (item.text, item.triples) if isinstance(item, Demo) else item
            if isinstance(text, str) and text.strip():
                self.demos.append(Demo(text.strip(), tuple(tuple(str(x) for x in t) for t in triples)))
        self._embedder, self._vectors = embedder, None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], embedder: Any = None) -> "DemoBank":
        """Read a demonstration file in the extraction format.

        Raises
        ------
        InputError
            For a line that is not an object with ``text`` and ``triples`` (naming ``file:line``).
        """
        from kgllm.loaders import iter_jsonl

        items = []
        for lineno, obj in iter_jsonl(path):
            triples = obj.get("triples")
            if not isinstance(obj.get("text"), str) or not isinstance(triples, list) or not all(
                    isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t) for t in triples):
                raise InputError(f"{path}:{lineno}: a demonstration needs 'text' (a string) and 'triples' "
                                 "(a list of [subject, relation, object] strings)")
            items.append((obj["text"], triples))
        if not items:
            raise InputError(f"{path}: no demonstrations in the file")
        return cls(items, embedder)

    def __len__(self) -> int:
        return len(self.demos)

    def select(self, text: str, k: int = 1) -> list[Demo]:
        """The ``k`` demonstrations whose texts are most similar to ``text`` (never ``text`` itself)."""
        if k <= 0 or not self.demos:
            return []
        if self._embedder is None:
            from kgllm.resources import get_embedder

            self._embedder = get_embedder()
        if self._vectors is None:
            self._vectors = self._embedder.encode([d.text for d in self.demos])
        scores = self._vectors @ self._embedder.encode([text])[0]
        key = entity_id(text)
        out: list[Demo] = []
        for i in scores.argsort()[::-1]:
            if entity_id(self.demos[int(i)].text) != key:
                out.append(self.demos[int(i)])
                if len(out) == k:
                    break
        return out
