"""The extractor interface: documents in, a :class:`~kgllm.types.GraphDelta` out.

Any object with a ``name`` and an ``extract`` method of this shape can fill a
graph; :class:`~kgllm.extract.rules.RuleExtractor` is the built-in one.

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

from typing import Protocol, Sequence, runtime_checkable

from kgllm.types import Document, GraphDelta

__all__ = ["Extractor"]


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
            Entities and facts (with provenance) found in the documents.
        """
        ...
