"""The extractor interface: documents in, a :class:`~kgllm.types.GraphDelta` out.

Any object with a ``name`` and an ``extract`` method of this shape can fill a
graph; :class:`~kgllm.extract.rules.RuleExtractor` is the built-in one.

An extractor never raises on the text it reads. A document it cannot read
gives nothing and is reported: the extractor returns an
:class:`ExtractionResult` (a :class:`~kgllm.types.GraphDelta` with a
``skipped`` list of :class:`SkippedDocument`). A plain ``GraphDelta`` means
nothing was skipped.

Examples
--------
>>> from kgllm.extract.base import Extractor
>>> from kgllm.types import GraphDelta
>>> class Nothing:
...     name = "nothing"
...     def extract(self, documents, progress=False):
...         return GraphDelta()
>>> isinstance(Nothing(), Extractor)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

from kgllm.types import Document, GraphDelta

__all__ = ["Extractor", "ExtractionResult", "SkippedDocument"]


@dataclass(frozen=True, slots=True)
class SkippedDocument:
    """A document an extractor could not read; it contributed nothing.

    Attributes
    ----------
    doc_id : str
        The document's id.
    sentence : int
        Index of the sentence (chunk) where reading failed; -1 for the whole document.
    reason : str
        What went wrong, e.g. ``"empty text"`` or ``"ValueError: ..."``.

    Examples
    --------
    >>> str(SkippedDocument("notes/a.txt", 3, "ValueError: bad span"))
    'notes/a.txt (sentence 3): ValueError: bad span'
    """

    doc_id: str
    sentence: int
    reason: str

    def __str__(self) -> str:
        where = f" (sentence {self.sentence})" if self.sentence >= 0 else ""
        return f"{self.doc_id}{where}: {self.reason}"


@dataclass(slots=True)
class ExtractionResult(GraphDelta):
    """An extractor's output: the delta of the documents it read, and the ones it skipped.

    Examples
    --------
    >>> r = ExtractionResult(skipped=[SkippedDocument("d2", -1, "empty text")])
    >>> isinstance(r, GraphDelta), r.facts, [s.doc_id for s in r.skipped]
    (True, [], ['d2'])
    """

    skipped: list[SkippedDocument] = field(default_factory=list)


@runtime_checkable
class Extractor(Protocol):
    """Turns documents into entities and facts with provenance.

    Attributes
    ----------
    name : str
        Short identifier written into every :class:`~kgllm.types.Provenance`
        (``extractor`` field) the extractor produces.
    """

    name: str

    def extract(self, documents: Sequence[Document], progress: bool = False) -> GraphDelta:
        """Extract entities and facts from ``documents``.

        Parameters
        ----------
        documents : Sequence[Document]
            Texts to read; an empty sequence gives an empty delta.
        progress : bool, optional
            Show a progress bar on the terminal.

        Returns
        -------
        GraphDelta
            Entities and facts (with provenance) found in the documents; an
            :class:`ExtractionResult` when the extractor reports skipped documents.
        """
        ...
