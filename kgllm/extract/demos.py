"""Demonstrations for the LM extractor: solved examples, the most similar ones chosen per text.

A demonstration file is in the extraction format (JSONL, one
``{"text": ..., "triples": [[s, r, o], ...], "relations": [...]}`` object per
line; other fields are ignored), such as a benchmark's training split.
:class:`DemoBank` embeds the texts with MiniLM
(:func:`kgllm.resources.get_embedder`) and :meth:`DemoBank.select` returns the
``k`` closest to a new text, never one with the same text (so a file can serve
as its own demonstrations without showing an item its own answer). Given the
relations of the text's schema, it draws only from the demonstrations annotated
with that same relation set (the same ontology: the protocol of the published
Text2KGBench baselines), when there are any.

Examples
--------
>>> bank = DemoBank([("Oslo is the capital of Norway.", [("Oslo", "capital", "Norway")]),
...                  ("Ada was born in 1990.", [("Ada", "birthYear", "1990")])])
>>> [d.text for d in bank.select("Lima is the capital of Peru.", k=1)]
['Oslo is the capital of Norway.']
>>> bank.select("Oslo is the capital of Norway.", k=1)[0].text
'Ada was born in 1990.'
>>> bank = DemoBank([Demo("Lima is the capital of Peru.", (("Lima", "capital", "Peru"),), ("capital",)),
...                  Demo("Lima has 10 million people.", (("Lima", "population", "10 million"),), ("population",))])
>>> bank.select("Quito is the capital of Ecuador.", k=1, relations=["population"])[0].text
'Lima has 10 million people.'
>>> format_facts([("Oslo", "capital", "Norway")])
'[{"s": "Oslo", "r": "capital", "o": "Norway"}]'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from kgllm.errors import InputError
from kgllm.types import entity_id

__all__ = ["Demo", "DemoBank", "format_facts"]


@dataclass(frozen=True, slots=True)
class Demo:
    """One solved example: a text, its (subject, relation, object) triples and, when known, its schema's relations."""

    text: str
    triples: tuple[tuple[str, str, str], ...]
    relations: tuple[str, ...] | None = None


def format_facts(triples: Iterable[Sequence[str]]) -> str:
    """Triples in the extractor's output format (a JSON list of ``{"s", "r", "o"}`` objects)."""
    return json.dumps([{"s": s, "r": r, "o": o} for s, r, o in triples], ensure_ascii=False)


class DemoBank:
    """Solved examples, searchable by similarity of their texts.

    Parameters
    ----------
    demos : iterable of (text, triples), (text, triples, relations) or Demo
        The examples; empty texts are ignored.
    embedder : Embedder, optional
        Default the shared MiniLM one (loaded on the first :meth:`select`).
    """

    def __init__(self, demos: Iterable[Any], embedder: Any = None) -> None:
        self.demos: list[Demo] = []
        for item in demos:
            text, triples, relations = (item.text, item.triples, item.relations) if isinstance(item, Demo) else \
                (*item, None)[:3]
            if isinstance(text, str) and text.strip():
                self.demos.append(Demo(text.strip(), tuple(tuple(str(x) for x in t) for t in triples),
                                       tuple(relations) if relations else None))
        self._embedder, self._vectors = embedder, None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], embedder: Any = None) -> "DemoBank":
        """Read a demonstration file in the extraction format.

        Raises
        ------
        InputError
            For a line that is not an object with ``text`` and ``triples`` (naming ``file:line``).
        """
        from kgllm.extract.examples import iter_items

        items = []
        for lineno, obj in iter_items(path):
            triples = obj.get("triples")
            if not isinstance(obj.get("text"), str) or not isinstance(triples, list) or not all(
                    isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t) for t in triples):
                raise InputError(f"{path}:{lineno}: a demonstration needs 'text' (a string) and 'triples' "
                                 "(a list of [subject, relation, object] strings)")
            relations = obj.get("relations")
            items.append((obj["text"], triples, relations if isinstance(relations, list) else None))
        if not items:
            raise InputError(f"{path}: no demonstrations in the file")
        return cls(items, embedder)

    def __len__(self) -> int:
        return len(self.demos)

    def select(self, text: str, k: int = 1, relations: Sequence[str] | None = None) -> list[Demo]:
        """The ``k`` demonstrations whose texts are most similar to ``text`` (never ``text`` itself).

        With ``relations`` (the text's schema), only demonstrations annotated with that same set of relations
        are drawn from, unless there are none.
        """
        if k <= 0 or not self.demos:
            return []
        if self._embedder is None:
            from kgllm.resources import get_embedder

            self._embedder = get_embedder()
        if self._vectors is None:
            self._vectors = self._embedder.encode([d.text for d in self.demos])
        scores = self._vectors @ self._embedder.encode([text])[0]
        if relations:
            wanted = frozenset(relations)
            same = np.array([d.relations is not None and frozenset(d.relations) == wanted for d in self.demos])
            if same.any():
                scores = np.where(same, scores, -np.inf)
        key = entity_id(text)
        out: list[Demo] = []
        for i in scores.argsort(kind="stable")[::-1]:
            if not np.isfinite(scores[int(i)]):
                break
            if entity_id(self.demos[int(i)].text) != key:
                out.append(self.demos[int(i)])
                if len(out) == k:
                    break
        return out
