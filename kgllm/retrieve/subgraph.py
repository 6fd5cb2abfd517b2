"""Question-guided multi-hop retrieval: link the question's entities, search relation paths, rank.

:class:`Retriever` ties the parts together: the entity linker
(:mod:`kgllm.retrieve.link`), question analysis (:mod:`kgllm.retrieve.question`), the
relation-path beam search (:mod:`kgllm.retrieve.beam`) and ranking
(:mod:`kgllm.retrieve.rank`). When the store's content changes (its ``revision()``), the
relation index is read again, so a retriever built before an ingest sees what it added.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(facts=[
...     Fact("ada", "parents", "byron"), Fact("byron", "place_of_birth", "london"),
...     Fact("ada", "place_of_birth", "marylebone"), Fact("byron", "gender", "male")]))
>>> sub = Retriever(store).retrieve("where was ada 's father born ?")
>>> [p.relations for p in sub.paths[:1]]
[('parents', 'place_of_birth')]
>>> rank_answers(sub)[0][0]
'london'
"""

from __future__ import annotations

import math
from typing import Any

from kgllm.errors import ConfigError
from kgllm.retrieve.answer_type import answer_type, as_when
from kgllm.retrieve.beam import BeamState, RetrieverConfig, search
from kgllm.retrieve.link import EntityLinker, LinkedEntity, store_revision, tokenize
from kgllm.retrieve.question import RelationIndex, analyse, relation_text
from kgllm.retrieve.rank import apply_fits, assemble, best_per_sequence, rank_answers, type_fits
from kgllm.types import Fact, Subgraph

__all__ = ["RetrieverConfig", "Retriever", "rank_answers", "relation_text"]


class Retriever:
    """Retrieve the subgraph that answers a question.

    Parameters
    ----------
    store : GraphStore
        Graph to search.
    embedder : Embedder, optional
        Sentence embedder (default: the shared bundled MiniLM, loaded lazily).
    linker : EntityLinker, optional
        Entity linker (default: an :class:`EntityLinker` on ``store``).
    config : RetrieverConfig, optional
        Search settings.
    """

    def __init__(self, store: Any, embedder: Any = None, linker: EntityLinker | None = None,
                 config: RetrieverConfig | None = None) -> None:
        if config is not None and not isinstance(config, RetrieverConfig):
            raise ConfigError(f"config must be a RetrieverConfig, got {type(config).__name__}")
        self.store = store
        self.linker = linker if linker is not None else EntityLinker(store, embedder=embedder)
        self.config = config or RetrieverConfig()
        self.relations = RelationIndex(store, embedder)
        self._revision: Any = None  # store revision the relation index was read at (no I/O here)

    @property
    def embedder(self) -> Any:
        """The sentence embedder relation names and question phrases are compared with."""
        return self.relations.embedder

    def link(self, question: str) -> list[LinkedEntity]:
        """Entities of the question the search starts from (see :meth:`EntityLinker.link`)."""
        return self.linker.link(question, limit=self.config.max_seeds)

    def retrieve(self, question: str) -> Subgraph:
        """Return the facts, entities and ranked paths that answer ``question``.

        Parameters
        ----------
        question : str
            A natural-language question naming at least one graph entity.

        Returns
        -------
        Subgraph
            ``paths`` holds the ranked relation paths (best first, with scores),
            ``facts`` the facts of the best paths (best first), ``entities`` the
            entities they touch and ``seeds`` the linked entities. When no path
            is found the ``fallback_hops`` neighbourhood of the seeds is
            returned; with no linked entity the subgraph is empty.
        """
        cfg = self.config
        revision = store_revision(self.store)
        if revision != self._revision:  # the store changed: read its relations again
            self._revision = revision
            self.relations.reset()
        linked = self.link(question)
        if not linked:
            return Subgraph()
        tokens = tokenize(question)
        self.relations.ensure()
        nbr_cache: dict[str, list[Fact]] = {}
        states: list[tuple[float, str, BeamState]] = []
        for le in linked:
            found = None
            for _ in range(cfg.max_hops + 1):  # again when the search met relations the index lacked
                q = analyse(as_when(tokens), le.span, self.relations, cfg.max_hops)
                found = search(le.entity_id, q, self.store, self.relations, cfg, nbr_cache)
                if found is not None:
                    break
            # A weaker link costs: the score of its paths drops with its link score.
            states.extend((st.score + math.log(max(le.score, 1e-6)), le.entity_id, st) for st in found or [])
        seeds = [le.entity_id for le in linked]
        if not states:
            sub = self.store.subgraph(seeds, hops=cfg.fallback_hops, limit=cfg.max_facts)
            sub.seeds = [s for s in seeds if self.store.get_entity(s) is not None] or sub.seeds
            return sub
        want = answer_type(tokens)
        fits = (type_fits(want, (e for _, _, st in states for e in st.frontier), self.store,
                          self.relations.relations, cfg, nbr_cache) if want else {})
        return assemble(self.store, seeds, best_per_sequence(apply_fits(states, fits)), cfg, fits)
