"""From documents to one delta per document: extraction (batched, anywhere), then typing and resolution (driver).

:func:`extract_batch` runs the extractor on a batch and splits its output by document
(:class:`DocResult`); it is what an executor runs, here or on a Ray worker. The driver then
:meth:`Finisher.finish` es each document's delta in document order -- relation typing onto the schema,
and entity resolution against the store as it is at that moment -- and writes it through the ledger.
A document's delta depends only on its text and the store before it, so a run that was killed and run
again, or one whose extraction ran on other machines, writes the same graph.

Examples
--------
>>> from kgllm.types import Document, Entity, Fact, GraphDelta, Provenance
>>> class Two:
...     name = "two"
...     def extract(self, documents, progress=False):
...         return GraphDelta(entities=[Entity("a", "A"), Entity("b", "B"), Entity("c", "C")],
...                           facts=[Fact("a", "r", "b", provenance=(Provenance("d1"),)),
...                                  Fact("b", "r", "c", provenance=(Provenance("d2"),))])
>>> out = extract_batch(Two(), [Document("d1", "x"), Document("d2", "y")])
>>> [(r.doc_id, [e.id for e in r.delta.entities], len(r.delta.facts)) for r in out]
[('d1', ['a', 'b'], 1), ('d2', ['b', 'c'], 1)]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

import numpy as np

from kgllm.errors import ConfigError
from kgllm.extract.base import ExtractionResult, Extractor
from kgllm.jobs.spec import ExtractorSpec
from kgllm.types import Document, Entity, GraphDelta

__all__ = ["DocResult", "extract_batch", "make_extractor", "combine", "Finisher"]


@dataclass
class DocResult:
    """One document's extraction: its delta, or the error that stopped it (then nothing of it is written).

    ``text``: the document's text, kept in the ledger with it (set by the driver, not sent back by workers).
    """

    doc_id: str
    delta: GraphDelta
    error: Optional[str] = None
    text: str = ""


def make_extractor(settings: ExtractorSpec) -> Extractor:
    """The extractor ``settings`` ask for: the rule extractor, or the language-model modes where available.

    >>> make_extractor(ExtractorSpec()).name
    'rules'
    """
    if settings.mode == "rules":
        from kgllm.extract.rules import RuleExtractor

        return RuleExtractor()
    try:
        from kgllm.extract.lm import make_extractor as make_mode
    except ImportError:
        raise ConfigError(f"extractor mode {settings.mode!r} is not available in this kgllm (expected 'rules')") \
            from None
    llm = None
    if settings.model is not None and settings.mode != "trained":
        from kgllm.lm import LocalLM

        llm = LocalLM(settings.model)
    schema = None
    if settings.schema_ is not None:
        from kgllm.schema import Schema

        schema = Schema.from_file(settings.schema_)
    return make_mode(settings.mode, llm=llm, schema=schema, model_dir=settings.model_dir)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def extract_batch(extractor: Extractor, docs: Sequence[Document]) -> list[DocResult]:
    """Extract ``docs`` at once and split the result by document (facts by provenance, entities by use).

    An extractor that raises on the batch is tried one document at a time, so one bad document does not
    spoil the others; a document the extractor skipped carries its reason, except an empty text, which is a
    document without facts.
    """
    try:
        delta = extractor.extract(list(docs))
    except Exception:  # noqa: BLE001 - find the document that fails, keep the others
        if len(docs) == 1:
            try:
                extractor.extract(list(docs))
            except Exception as exc:  # noqa: BLE001 - reported with its document
                return [DocResult(docs[0].id, GraphDelta(), _describe(exc))]
        return [r for d in docs for r in extract_batch(extractor, [d])]
    errors: dict[str, str] = {}
    if isinstance(delta, ExtractionResult):
        for s in delta.skipped:
            if s.reason != "empty text":
                errors.setdefault(s.doc_id, str(s))
    ids = [d.id for d in docs]
    facts: dict[str, list] = {i: [] for i in ids}
    for f in delta.facts:
        by_doc: dict[str, list] = {}
        for p in f.provenance:
            by_doc.setdefault(p.doc_id, []).append(p)
        for doc_id, provs in by_doc.items():
            if doc_id in facts:
                facts[doc_id].append(replace(f, provenance=tuple(provs)))
    entities: dict[str, Entity] = {e.id: e for e in delta.entities}
    out = []
    for doc_id in ids:
        if doc_id in errors:
            out.append(DocResult(doc_id, GraphDelta(), errors[doc_id]))
            continue
        used = dict.fromkeys(x for f in facts[doc_id] for x in (f.subject, f.object))
        out.append(DocResult(doc_id, GraphDelta(entities=[entities[e] for e in used if e in entities],
                                                facts=facts[doc_id])))
    return out


def combine(deltas: Sequence[GraphDelta]) -> GraphDelta:
    """Several documents' deltas as one: facts and merges in order, each entity once (its first name and type,
    the other names as aliases).

    >>> a = GraphDelta(entities=[Entity("ines", "Ines", "PERSON")])
    >>> b = GraphDelta(entities=[Entity("ines", "INES"), Entity("oslo", "Oslo")])
    >>> [(e.id, e.name, e.type, e.aliases) for e in combine([a, b]).entities]
    [('ines', 'Ines', 'PERSON', ('INES',)), ('oslo', 'Oslo', '', ())]
    """
    entities: dict[str, Entity] = {}
    out = GraphDelta()
    for d in deltas:
        for e in d.entities:
            old = entities.get(e.id)
            if old is None:
                entities[e.id] = e
                continue
            aliases = tuple(dict.fromkeys([*old.aliases, *(n for n in (e.name, *e.aliases)
                                                             if n != old.name)]))
            entities[e.id] = Entity(e.id, old.name, old.type or e.type, aliases)
        out.facts.extend(d.facts)
        out.merges.extend(d.merges)
    out.entities = list(entities.values())
    return out


class _Index:
    """Resolver keys of every entity in the store (a superset: keys of removed or renamed entities may stay).

    Built once per run with one scan, then kept current from what each document wrote, so resolving a
    document costs its candidates, not a scan of the graph.
    """

    def __init__(self, store: Any) -> None:
        self.keys: list[str] = []
        self.ids: list[list[str]] = []
        self._pos: dict[str, int] = {}
        self._surnames: dict[str, list[str]] = {}   # the resolver's person rule pairs names that share one
        for e in store.entities():
            self.add(e.id, e.name, e.type)

    def add(self, eid: str, name: str, type: str = "") -> None:
        from kgllm.extract.resolve import _key, person_words

        words = person_words(name)
        if len(words) > 1 and type in ("", "PERSON", "ORG", "NORP"):   # what the person rule may pair
            family = self._surnames.setdefault(words[-1], [])
            if eid not in family:
                family.append(eid)
        key = _key(name)
        pos = self._pos.get(key)
        if pos is None:
            self._pos[key] = len(self.keys)
            self.keys.append(key)
            self.ids.append([eid])
        elif eid not in self.ids[pos]:
            self.ids[pos].append(eid)

    def candidates(self, store: Any, delta: GraphDelta, threshold: float) -> "_Candidates":
        """The store's entities the resolver may join to ``delta``'s: same id, or a name that may fuzzy-match.

        The resolver pairs a delta's entities only with entities whose names score at or above its fuzzy
        threshold or share their surname (pairs of two store entities are never its business), so these
        candidates, or any superset of them, give the same merges as the whole store.
        """
        from rapidfuzz import fuzz, process

        from kgllm.extract.resolve import _key, person_words, surname

        ids = dict.fromkeys([e.id for e in delta.entities] + [x for f in delta.facts for x in (f.subject, f.object)])
        names = {e.id: e.name for e in delta.entities}
        found: dict[str, Entity] = {}
        for eid in ids:
            e = store.get_entity(eid)
            if e is not None and e.id == eid:
                found[eid] = e
        for name in [names.get(i, i) for i in ids] + [e.name for e in found.values()]:
            for eid in self._surnames.get(surname(name), ()) if len(person_words(name)) > 1 else ():
                if eid not in found:
                    e = store.get_entity(eid)
                    if e is not None and e.id == eid:
                        found[eid] = e
        queries = sorted({_key(n) for n in [names.get(i, i) for i in ids] + [e.name for e in found.values()]})
        if queries and self.keys:
            scores = process.cdist(queries, self.keys, scorer=fuzz.ratio, score_cutoff=threshold, workers=1,
                                   dtype=np.uint8)
            for col in np.flatnonzero(scores.max(axis=0)).tolist():
                for eid in self.ids[col]:
                    if eid not in found:
                        e = store.get_entity(eid)
                        if e is not None and e.id == eid:
                            found[eid] = e
        return _Candidates(store, [found[k] for k in sorted(found)])

    def written(self, store: Any, delta: GraphDelta) -> None:
        """Add the current names of every entity ``delta`` touched (new entities, renamed ones, merge targets)."""
        touched = dict.fromkeys([e.id for e in delta.entities] + [x for f in delta.facts for x in (f.subject, f.object)]
                                + [x for m in delta.merges for x in (m.alias, m.canonical)])
        for eid in touched:
            e = store.get_entity(eid)
            if e is not None:
                self.add(e.id, e.name, e.type)


class _Candidates:
    """A store seen through a few of its entities (what :class:`EntityResolver` reads of a store)."""

    def __init__(self, store: Any, found: list[Entity]) -> None:
        self._store = store
        self._found = found

    def entities(self) -> Any:
        return iter(self._found)

    def get_entity(self, eid: str) -> Optional[Entity]:
        return self._store.get_entity(eid)


class Finisher:
    """Type a document's delta onto the schema (or canonicalize relations) and resolve it against the store."""

    def __init__(self, settings: ExtractorSpec) -> None:
        self.settings = settings
        self._typer: Any = None
        self._resolver: Any = None
        self._index: Optional[_Index] = None
        self._index_store: Any = None
        if settings.schema_ is not None:
            from kgllm.extract.typing import RelationTyper
            from kgllm.schema import Schema

            self._typer = RelationTyper(Schema.from_file(settings.schema_))
        if settings.resolve != "none":
            from kgllm.extract.resolve import EntityResolver, ResolverConfig

            self._resolver = EntityResolver(ResolverConfig(use_embeddings=settings.resolve == "embedding"))

    def finish(self, delta: GraphDelta, store: Any) -> GraphDelta:
        """``delta`` typed and resolved against ``store`` as it is now."""
        if not delta.facts and not delta.entities:
            return delta
        if self._typer is not None:
            delta = self._typer.type_delta(delta)
        elif self.settings.canonicalize:
            from kgllm.extract.typing import canonicalize_relations

            delta = canonicalize_relations(delta)
        if self._resolver is None:
            return delta
        if self.settings.resolve == "embedding":
            return self._resolver.resolve(delta, store)
        if self._index is None or self._index_store is not store:
            self._index, self._index_store = _Index(store), store
        return self._resolver.resolve(delta, self._index.candidates(store, delta, self._resolver.config.fuzzy_threshold))

    def start(self) -> None:
        """Forget what the last run learnt of the store (another process may have written since)."""
        self._index = self._index_store = None

    def written(self, store: Any, delta: GraphDelta) -> None:
        """Tell the finisher ``delta`` was written to ``store`` (keeps its index of entity names current)."""
        if self._index is not None and self._index_store is store:
            self._index.written(store, delta)
