"""An answer candidate: read off a sentence, or stated by a fact of the graph, with its judgement."""

from __future__ import annotations

from dataclasses import dataclass, field

from kgllm.extract.reading import SentenceReading
from kgllm.types import Fact, Provenance

__all__ = ["Candidate"]


@dataclass(slots=True)
class Candidate:
    """An answer read off one sentence (``reading``), or a fact of the graph (``fact``), with its judgement."""

    text: str
    entity: str | None
    kind: str
    score: float
    doc_id: str
    reading: SentenceReading | None = field(repr=False)
    predicate: float = 0.0
    supported: bool = False
    reasons: tuple[str, ...] = ()
    confidence: float = 0.0
    seed: str = ""
    answer_first: bool = False  # the answer is the doer of the predicate ("Y founded X")
    extra: tuple[Provenance, ...] = ()  # other sentences the answer rests on (a relative date's anchor)
    head: int = -1
    relation: str = ""  # the relation as the sentence words it: its predicate word's lemma (+ the answer's preposition)
    nouns: frozenset[str] = frozenset()  # what the text says the answer is ("city")
    nearly: bool = False  # every check passed but the asked noun: a place of another level ("a city" for "which country")
    fitness: int = 0  # how its kind fits the question (2: the text says it is the X asked; 1: of the asked kind)
    fact: Fact | None = field(default=None, repr=False)  # the graph's fact that states it, when one does

    @property
    def sentence(self) -> str:
        """The sentence the answer was read from."""
        if self.reading is not None:
            return self.reading.chunk.text
        return next((p.sentence for p in self.fact.provenance if p.sentence), "") if self.fact is not None else ""

    @property
    def chunk(self) -> int:
        """The index of that sentence in its document (-1: unknown)."""
        if self.reading is not None:
            return self.reading.chunk.index
        return self.fact.provenance[0].chunk if self.fact is not None and self.fact.provenance else -1

    def provenance(self) -> list[Provenance]:
        """The sentences the answer rests on: its own, then any other."""
        if self.reading is None:
            return list(self.fact.provenance) if self.fact is not None else []
        c = self.reading.chunk
        return [Provenance(self.doc_id, c.index, c.start, c.end, "reader", c.text), *self.extra]
