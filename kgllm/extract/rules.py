"""Rule-based relation extraction from spaCy dependency parses.

:class:`RuleExtractor` splits each document into sentence chunks
(:func:`~kgllm.extract.chunk.chunk_document`), parses them in batches with the
shared spaCy pipeline (:func:`~kgllm.resources.get_nlp`) and reads each
sentence (:func:`~kgllm.extract.reading.read_sentences`) in three steps, with
general English patterns (no per-dataset rules):

1. :mod:`kgllm.extract.mentions` -- the entity mentions (whole names, not head words)
   and values (dates, durations, quantities, money, counts);
2. :mod:`kgllm.extract.coref` and :mod:`kgllm.extract.descriptions` -- what pronouns,
   definite descriptions ("the company"), short names ("Ostby") and "there" stand for,
   from the mentions of the document so far and what the text said each entity is;
3. :mod:`kgllm.extract.patterns` and :mod:`kgllm.extract.nominal` -- facts read off the
   dependency tree, named by :mod:`kgllm.extract.relnames`, with dates and relative
   dates from :mod:`kgllm.extract.values`.

Provenance
    One :class:`~kgllm.types.Provenance` per sentence a fact rests on: the document
    id, the chunk index, ``start``/``end`` = the character span of the *sentence* in
    the document (``document.text[start:end] == sentence``), ``extractor="rules"``.
    A fact whose date was computed from a year stated in an earlier sentence ("two
    years later") cites that sentence first, then its own.

Failures
    The extractor never raises on text. A document whose text is empty, or one
    where a sentence fails to parse or to read, contributes nothing (no partial
    facts) and is listed in the result's ``skipped``
    (:class:`~kgllm.extract.base.SkippedDocument`); the other documents are read
    as usual.

Examples
--------
>>> from kgllm.extract.rules import RuleExtractor
>>> from kgllm.types import Document
>>> result = RuleExtractor().extract([Document("d", "Claire Martin was born in Lyon."), Document("e", " ")])
>>> [f.as_line() for f in result.facts]
['claire martin --born_in--> lyon']
>>> p = result.facts[0].provenance[0]
>>> (p.doc_id, p.chunk, p.start, p.end, p.extractor)
('d', 0, 0, 31, 'rules')
>>> [str(s) for s in result.skipped]
['e: empty text']
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from kgllm.errors import InputError
from kgllm.extract.base import ExtractionResult, SkippedDocument
from kgllm.extract.chunk import chunk_document
from kgllm.extract.coref import DocState, noun_gender
from kgllm.extract.mentions import Mention
from kgllm.extract.patterns import SentencePatterns, relation_name
from kgllm.extract.reading import paragraph_of, read_sentences
from kgllm.progress import progress as track_progress
from kgllm.types import Chunk, Document, Entity, Fact, Provenance, entity_id

__all__ = ["RuleExtractor", "relation_name"]


class RuleExtractor:
    """Extract facts with spaCy dependency patterns (see the module docstring for the rules).

    Parameters
    ----------
    batch_size : int, optional
        Sentences per :meth:`spacy.Language.pipe` batch.
    nlp : spacy.Language, optional
        Pipeline to use; default the shared one from :func:`kgllm.resources.get_nlp`,
        loaded on first use (construction does no heavy work).
    genders : bool, optional
        Also emit ``(person, gender, male|female)`` facts for the people the text genders: by a
        gendered noun naming them ("his daughter Mira") or by the pronouns resolved to them (the
        kinship rules read them; off by default).
    kinship : bool, optional
        Read family relations with :mod:`kgllm.extract.kinship` (the kinship schema's reader:
        possessives, lists, "His name is ...", run-on sentences) instead of the general patterns'
        kinship facts; other facts are read as usual. Off by default.

    Examples
    --------
    >>> from kgllm.types import Document
    >>> text = "Oslo is the capital of Norway. Omar and his sister Ines visited it."
    >>> delta = RuleExtractor().extract([Document("d", text)])
    >>> sorted(f.as_line() for f in delta.facts)  # "it": the previous sentence's subject
    ['ines --visit--> oslo', 'omar --sister--> ines', 'omar --visit--> oslo', 'oslo --capital_of--> norway']
    """

    name = "rules"

    def __init__(self, batch_size: int = 64, nlp: Any = None, genders: bool = False, kinship: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self._nlp = nlp
        self.genders = genders
        self.kinship = kinship

    @property
    def nlp(self) -> Any:
        """The spaCy pipeline (loaded lazily)."""
        if self._nlp is None:
            from kgllm.resources import get_nlp

            self._nlp = get_nlp()
        return self._nlp

    def extract(self, documents: Sequence[Document], progress: bool = False) -> ExtractionResult:
        """Extract entities and facts from ``documents``.

        Parameters
        ----------
        documents : Sequence[Document]
            Documents to read. An empty sequence gives an empty result.
        progress : bool, optional
            Show a rich progress bar over documents.

        Returns
        -------
        ExtractionResult
            One :class:`~kgllm.types.Entity` per distinct mention id and the facts, with
            raw (unresolved) entity ids and one provenance per fact and document; ``skipped``
            lists the documents that gave nothing because they could not be read.

        Raises
        ------
        InputError
            If a document's text is not a string (nothing is read then).
        """
        docs = list(documents)
        for doc in docs:
            if not isinstance(doc.text, str):
                raise InputError(f"document {doc.id!r}: text must be a str, got {type(doc.text).__name__}")
        result = ExtractionResult()
        readable: list[tuple[Document, list[Chunk]]] = []
        for doc in docs:
            try:
                chunks = chunk_document(doc)
            except Exception as exc:  # noqa: BLE001 - never fatal: the document is reported instead
                result.skipped.append(SkippedDocument(doc.id, -1, _describe(exc)))
                continue
            if not chunks:
                result.skipped.append(SkippedDocument(doc.id, -1, "empty text"))
                continue
            readable.append((doc, chunks))
        parsed = self._parse([c.text for _, chunks in readable for c in chunks])
        entities: dict[str, Entity] = {}
        facts: dict[tuple[str, str], Fact] = {}
        for doc, chunks in track_progress(readable, "extracting", enabled=progress):
            sdocs = [next(parsed) for _ in chunks]
            read = _read_document(doc, chunks, sdocs, self.name, self.genders and not self.kinship)
            if self.kinship and not isinstance(read, SkippedDocument):
                read = _with_kinship(doc.id, chunks, sdocs, self.name, read, entities, self.genders)
            if isinstance(read, SkippedDocument):
                result.skipped.append(read)
                continue
            used, found = read
            for m in used:
                _add_entity(entities, m)
            for fact in found:
                key = (doc.id, fact.id)
                if key not in facts or facts[key].confidence < fact.confidence:
                    facts[key] = fact
        for fact in facts.values():
            if fact.relation == "gender":  # the value of a gender fact is a node too
                entities.setdefault(fact.object, Entity(fact.object, fact.object))
        result.entities = list(entities.values())
        result.facts = list(facts.values())
        return result

    def _parse(self, texts: list[str]) -> Iterator[Any]:
        """Parsed docs of ``texts`` in order; the exception instead of a text that failed to parse."""
        done = 0
        try:
            for sdoc in self.nlp.pipe(texts, batch_size=self.batch_size):
                done += 1
                yield sdoc
        except Exception:  # noqa: BLE001 - one bad text spoils its batch: parse the rest one at a time
            for text in texts[done:]:
                try:
                    yield self.nlp(text)
                except Exception as exc:  # noqa: BLE001 - reported with its document
                    yield exc


def _read_document(doc: Document, chunks: list[Chunk], parsed: list[Any], extractor: str,
                   genders: bool = False) -> tuple[list[Mention], list[Fact]] | SkippedDocument:
    """Mentions and facts of one document's sentences, or why the document was skipped."""
    doc_id = doc.id
    used: list[Mention] = []
    facts: list[Fact] = []
    provs: list[Provenance] = []
    by_chunk: dict[int, Provenance] = {}
    state: DocState | None = None
    at = 0  # the chunk being read (for the report when one fails)
    try:
        for reading in read_sentences(chunks, parsed, paragraphs=paragraph_of(doc.text, chunks)):
            chunk, refs = reading.chunk, reading.refs
            at, state = chunk.index, refs.state
            found = SentencePatterns(refs).run()
            prov = Provenance(doc_id, chunk.index, chunk.start, chunk.end, extractor, chunk.text)
            provs.append(prov)
            by_chunk[chunk.index] = prov
            used.extend(refs.local)
            for s, rel, o, conf in found:
                used.extend((s, o))
                # a value computed from an earlier sentence (a relative date) cites that sentence too
                cited = tuple(by_chunk[m.anchor] for m in (s, o) if m.anchor in by_chunk and m.anchor != chunk.index)
                facts.append(Fact(s.id, rel, o.id, conf, cited + (prov,)))
                gender = noun_gender(rel)
                if gender is not None:
                    state.learn_gender(s if rel.lower().endswith("_of") else o, gender, strong=True)
            at = chunk.index + 1
    except Exception as exc:  # noqa: BLE001 - never fatal: the whole document is reported instead
        return SkippedDocument(doc_id, chunks[min(at, len(chunks) - 1)].index if chunks else -1, _describe(exc))
    if genders and state is not None:
        for eid, gender in state.gender.items():
            facts.append(Fact(eid, "gender", gender, 0.6, (provs[min(state.evidence.get(eid, 0), len(provs) - 1)],)))
    return used, facts


def _with_kinship(doc_id: str, chunks: list[Chunk], sdocs: list[Any], extractor: str,
                  read: tuple[list[Mention], list[Fact]], entities: dict[str, Entity],
                  genders: bool) -> tuple[list[Mention], list[Fact]] | SkippedDocument:
    """``read`` with its kinship facts replaced by those of :func:`kgllm.extract.kinship.read_kinship`."""
    from kgllm.extract.kinship import read_kinship
    from kgllm.reason.kinship import kin_term

    try:
        reading = read_kinship(sdocs, [c.index for c in chunks])
    except Exception as exc:  # noqa: BLE001 - never fatal: the whole document is reported instead
        return SkippedDocument(doc_id, -1, _describe(exc))
    used, facts = read
    by_index = {c.index: c for c in chunks}

    def prov(index: int) -> Provenance:
        c = by_index[index]
        return Provenance(doc_id, c.index, c.start, c.end, extractor, c.text)

    def person(name: str) -> str:
        eid = entity_id(name)
        if eid not in entities:
            entities[eid] = Entity(eid, name, "PERSON")
        return eid

    people = {entity_id(n) for _, o, _, v in reading.facts for n in (o, v)}

    def run_on(eid: str) -> bool:  # "michele joseph" read across a missing full stop, when the reader saw "michele"
        words = eid.split()
        return len(words) > 1 and eid not in people and any(w in people for w in words)

    facts = [f for f in facts if kin_term(f.relation) is None and not run_on(f.subject) and not run_on(f.object)]
    used = [m for m in used if not run_on(m.id)]
    for index, owner, term, value in reading.facts:
        facts.append(Fact(person(owner), term, person(value), 0.85, (prov(index),)))
    if genders:
        for name, gender in reading.gender.items():
            facts.append(Fact(person(name), "gender", gender, 0.6, (prov(reading.evidence.get(name, 0)),)))
    return used, facts


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _add_entity(entities: dict[str, Entity], m: Mention) -> None:
    eid = m.id
    old = entities.get(eid)
    if old is None:
        entities[eid] = Entity(eid, m.text, m.label)
        return
    aliases = old.aliases if m.text == old.name or m.text in old.aliases else (*old.aliases, m.text)
    if aliases is not old.aliases or (m.label and not old.type):
        entities[eid] = Entity(eid, old.name, old.type or m.label, aliases)
