"""The extractive reader: answers read off the sentences that speak about a question's entity.

The documents of a graph keep their text (:attr:`~kgllm.stores.ledger.DocumentRecord.text`);
:class:`DocumentReader` reads them once (sentences, parses, what each word refers to:
:func:`~kgllm.extract.reading.read_document`) and, for a question analysed by
:func:`~kgllm.reason.analysis.analyse_question`, proposes answer spans:

1. the sentences that refer to one of the question's entities -- by name, alias, pronoun or
   a noun phrase that refers back to it ("the company") -- and state its predicate: a word with
   the same lemma, a derived form ("founder" for "found", "restoration" for "restore"), or a
   close synonym by embedding similarity (at least :data:`SYNONYM_SIMILARITY`);
2. in each, the spans of the asked kind (names, dates, quantities), never one the question
   names; each scored by how strongly the predicate is stated, how well its kind fits and how
   close it stands to the predicate and the entity in the dependency tree.

Each :class:`Candidate` carries its judgement (:mod:`kgllm.reason.support`): ``supported``
only when the sentence names the entity (or its coreferent), states the asked relation,
contains the answer and the answer is of the asked kind, with the reasons when not.

Examples
--------
>>> from kgllm.graph import KnowledgeGraph
>>> from kgllm.reason.analysis import analyse_question
>>> from kgllm.retrieve.link import EntityLinker
>>> from kgllm.types import Document
>>> kg = KnowledgeGraph()
>>> _ = kg.ingest([Document("varga", "Maria Keller is a chemist from Pernik. In 2004 she founded Tarn Labs.")])
>>> reader = DocumentReader(kg.store)
>>> best = reader.candidates(analyse_question("Who founded Tarn Labs?", EntityLinker(kg.store)))[0]
>>> best.text, best.supported, best.sentence
('Maria Keller', True, 'In 2004 she founded Tarn Labs.')
>>> best = reader.candidates(analyse_question("Where was Maria Keller born?", EntityLinker(kg.store)))
>>> [c for c in best if c.supported]
[]
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

from kgllm.extract.dates import resolve_relative, years_in
from kgllm.extract.reading import SentenceReading, read_document
from kgllm.reason.analysis import QuestionAnalysis
from kgllm.reason.kinship import is_kin
from kgllm.reason.roles import arguments, compatible, distance, role_of
from kgllm.reason.spans import counted, counts_asked, derived, fitness, names_question_entity, part_of, span_kind
from kgllm.reason.support import judge, normalize_answer
from kgllm.reason.candidate import Candidate
from kgllm.reason.stated import merge, stated_candidates
from kgllm.types import Document, Provenance

__all__ = ["Candidate", "DocumentReader", "SYNONYM_SIMILARITY"]

#: Two different words count as the same relation word when their embeddings are at least this close
#: (MiniLM cosine; "bought"/"acquired" 0.66, "founded"/"established" 0.77; "born"/"raised" 0.48 stay apart).
SYNONYM_SIMILARITY = 0.6
#: Verbs of location: "where is X based" is stated by "X is a firm in Linz" as well.
_LOCATIVE = frozenset("base locate situate lie sit stand".split())
_CONTENT = frozenset({"VERB", "NOUN", "ADJ", "ADV", "PROPN"})
_NOMINAL = frozenset({"NOUN", "PROPN", "NUM"})


class DocumentReader:
    """Read a store's documents (once, cached by content) and propose answer spans for questions.

    Parameters
    ----------
    store : GraphStore
        A store whose ledger keeps document texts; without texts nothing is proposed.
    embedder : Embedder, optional
        For synonyms of relation words (default: the bundled MiniLM, loaded on first use).
    nlp : spacy.Language, optional
        The parser (default: the shared pipeline).
    """

    def __init__(self, store: Any, embedder: Any = None, nlp: Any = None) -> None:
        self.store = store
        self._embedder = embedder
        self._nlp = nlp
        self._docs: dict[tuple[str, str], list[SentenceReading]] = {}
        self._canon: dict[str, str | None] = {}
        self._revision: Any = object()
        self._lock = threading.RLock()
        self._sims: dict[tuple[str, str], float] = {}

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from kgllm.resources import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    # ------------------------------------------------------------------ documents
    def _sync(self) -> None:
        revision = self.store.revision() if callable(getattr(self.store, "revision", None)) else None
        if revision != self._revision:
            self._revision = revision
            self._canon.clear()

    def documents_for(self, analysis: QuestionAnalysis) -> list[str]:
        """Ids of the documents that may speak about the question's entities: those their facts cite, and
        those whose text names them."""
        ids: dict[str, None] = {}
        names: set[str] = set()
        for eid in analysis.seed_ids:
            for fact in self.store.neighbors(eid, "both"):
                ids.update((p.doc_id, None) for p in fact.provenance)
            ent = self.store.get_entity(eid)
            if ent is not None:
                names.update(n.lower() for n in (ent.name, *ent.aliases) if len(n) > 2)
        documents = getattr(self.store, "documents", None)
        if names and callable(documents):
            for record in documents():
                text = f" {normalize_answer(record.text)} " if record.text else ""
                if any(f" {normalize_answer(n)} " in text for n in names):
                    ids.setdefault(record.doc_id, None)
        return list(ids)

    def readings(self, doc_id: str) -> list[SentenceReading]:
        """The document's sentences as read (empty when the store keeps no text for it)."""
        document = getattr(self.store, "document", None)
        record = document(doc_id) if callable(document) else None
        if record is None or not record.text:
            return []
        key = (doc_id, record.content_hash)
        with self._lock:
            if key not in self._docs:
                try:
                    self._docs[key] = read_document(Document(doc_id, record.text), self._nlp)
                except Exception:  # noqa: BLE001 - a text spaCy cannot read gives no answers, not an error
                    self._docs[key] = []
            return self._docs[key]

    def canonical(self, mention_id: str) -> str | None:
        """The graph entity a mention id stands for (following merges), or None. A name with words before it
        that stand for no one ("the Dane Henrik Lauesen") stands for the person it ends with, when the graph
        holds that person."""
        if mention_id not in self._canon:
            words = mention_id.split()
            found = None
            for k in range(0, max(1, len(words) - 1)):
                ent = self.store.get_entity(" ".join(words[k:]))
                if ent is None:
                    continue
                if found is None:
                    found = ent.id
                elif (ent.type or "").upper() == "PERSON":
                    found = ent.id
                    break
                if k == 0 and len(words) < 3:
                    break
            self._canon[mention_id] = found
        return self._canon[mention_id]

    # ------------------------------------------------------------------ matching
    def strength(self, word: str, tok: Any, form: str = "") -> float:
        """How strongly token ``tok`` states relation word ``word`` (written ``form`` in the question; 0: not)."""
        lemma, text = tok.lemma_.lower(), tok.lower_
        if word in (lemma, text):
            return 1.0
        if tok.pos_ == "ADP" or len(word) < 3:
            return 0.0
        if tok.pos_ not in _CONTENT:
            return 0.0
        if derived(word, lemma) or derived(word, text):
            return 0.95
        if tok.pos_ == "NOUN" and (is_kin(word) or is_kin(lemma)):
            return 0.0  # kinship nouns are close in meaning but never the same relation ("grandfather"/"godfather")
        # lemmas and the words as written ("founded"/"established" are closer than "found"/"establish")
        sim = max(self._similarity(word, lemma), self._similarity(form, text) if form else 0.0)
        return sim if sim >= SYNONYM_SIMILARITY else 0.0

    def word_strength(self, word: str, other: str, form: str = "") -> float:
        """:meth:`strength` for a word without a sentence (a relation name's word)."""
        if word == other:
            return 1.0
        if len(word) < 3 or len(other) < 3:
            return 0.0
        if derived(word, other):
            return 0.95
        if is_kin(word) and is_kin(other):
            return 0.0
        sim = max(self._similarity(word, other), self._similarity(form, other) if form else 0.0)
        return sim if sim >= SYNONYM_SIMILARITY else 0.0

    def _similarity(self, a: str, b: str) -> float:
        if (a, b) not in self._sims:
            vecs = self.embedder.encode([a, b])
            self._sims[(a, b)] = float(vecs[0] @ vecs[1])
        return self._sims[(a, b)]

    def _predicate_hits(self, analysis: QuestionAnalysis, sdoc: Any) -> list[tuple[int, float]]:
        hits = []
        for tok in sdoc:
            if tok.pos_ == "PROPN":
                continue  # a name states no relation ("Open Mapping Foundation" says nothing of founding)
            best = max((self.strength(w, tok, f) for w, f in zip(analysis.predicate, analysis.forms or analysis.predicate)),
                       default=0.0)
            if not best and tok.pos_ == "ADP" and tok.lower_ in ("in", "at", "on", "near") and set(analysis.predicate) & _LOCATIVE:
                best = 0.7  # "X is a firm in Linz" says where X is based
            if best:
                hits.append((tok.i, best))
        return hits

    # ------------------------------------------------------------------ candidates
    def candidates(self, analysis: QuestionAnalysis, doc_ids: Iterable[str] | None = None) -> list[Candidate]:
        """Answer spans for ``analysis``, best first (see the module docstring); supported ones first."""
        if not analysis.seeds or not analysis.predicate:
            return []
        if analysis.predicate == ("is_a",):  # what someone is: the graph's is_a facts, read from their sentences
            with self._lock:
                self._sync()
                found = stated_candidates(analysis, self.store, self.word_strength, self.canonical)
            return sorted(found, key=lambda c: (not c.supported, -c.score, c.doc_id, c.chunk, c.text))
        with self._lock:
            self._sync()
            seeds = set(analysis.seed_ids)
            excluded = analysis.excluded
            out: list[Candidate] = []
            about_seeds = []
            for doc_id in (self.documents_for(analysis) if doc_ids is None else doc_ids):
                readings = self.readings(doc_id)
                for k, reading in enumerate(readings):
                    about = {i: self.canonical(m.id) for i, ms in reading.referents.items() for m in ms}
                    seed_toks = [i for i, e in about.items() if e in seeds]
                    if seed_toks:
                        about_seeds.append((doc_id, readings, k, about, seed_toks))
            # one batch of embeddings for every word these sentences may match (synonyms of relation words)
            words = {w for _, readings, k, _, _ in about_seeds for t in readings[k].doc if t.pos_ in _CONTENT
                     for w in (t.lemma_.lower(), t.lower_)}
            self.embedder.encode([*analysis.predicate, *analysis.forms, *analysis.context, *sorted(words)])
            for doc_id, readings, k, about, seed_toks in about_seeds:
                hits = self._predicate_hits(analysis, readings[k].doc)
                if hits:
                    out.extend(self._read(analysis, doc_id, readings, k, about, seed_toks, hits, excluded))
            out = merge(out, stated_candidates(analysis, self.store, self.word_strength, self.canonical))
            out.sort(key=lambda c: (not c.supported, -c.score, c.doc_id, c.chunk, c.text))
            return out

    def _read(self, analysis: QuestionAnalysis, doc_id: str, readings: list[SentenceReading], k: int,
              about: dict[int, str | None], seed_toks: list[int], hits: list[tuple[int, float]],
              excluded: set[str]) -> list[Candidate]:
        reading = readings[k]
        sdoc = reading.doc
        nouns_asked = [w for w, pos in analysis.context_pos if pos == "NOUN"]
        said = [w for w in nouns_asked if any(self.strength(w, t) for t in sdoc if t.pos_ in _CONTENT)]
        ctx_share = len(said) / len(nouns_asked) if nouns_asked else 1.0
        quals_ok = all(self._qualified(q, reading, about) for q in analysis.qualifiers)
        found: dict[str, Candidate] = {}
        pred_toks = {i for i, _ in hits}
        args = {i: arguments(sdoc[i]) for i in pred_toks}
        for start, end, head, label, entity in self._spans(reading, about):
            if any(start <= i < end for i in seed_toks) or (entity is not None and entity in excluded):
                continue
            if any(start <= i < end for i in pred_toks) or sdoc[head].tag_ in ("PRP$", "WP$"):
                continue  # the word stating the relation, or a possessive determiner, is no answer
            start, end, label = _trimmed(sdoc, start, end, head, label)
            text = _called(sdoc[head]) or sdoc[start:end].text
            ent = self.store.get_entity(entity) if entity is not None else None
            if ent is not None and (sdoc[head].pos_ in ("PRON", "NOUN") or part_of(text, ent)
                                    or normalize_answer(text).endswith(normalize_answer(ent.name))):
                text = ent.name  # "she", "the photographer Paul Egger", "Moser": the entity, by its name
            if names_question_entity(text, analysis):
                continue
            # the predicate word this span is an argument of (closest first), its roles
            ranked = sorted(hits, key=lambda h: (distance(sdoc[head], sdoc[h[0]]), -h[1]))
            p_tok, p_strength = ranked[0]
            for i, s in ranked:
                if role_of(range(start, end), args[i]):
                    p_tok, p_strength = i, s
                    break
            roles = args[p_tok]
            r_ans = role_of([head, *range(start, end)], roles)
            near_seed = sorted(seed_toks, key=lambda i: distance(sdoc[i], sdoc[p_tok]))
            r_ent = role_of(near_seed, roles) or _owner_of_argument(sdoc, near_seed, roles)
            kinds, nouns = span_kind(text, label, ent, self.store, sdoc[start:end])
            fit = fitness(analysis, kinds, nouns, sdoc[start:end], r_ans)
            if fit is None:
                continue  # of another kind than asked, by its shape or by what the text says it is
            kind = next((k for k, strong in kinds.items() if strong), next(iter(kinds), ""))
            extra: tuple[Provenance, ...] = ()
            if label == "DATE" and "date" in kinds:
                year = self._relative(readings, k, start, text)
                if year is not None:
                    text, extra = year
            if not counts_asked(text, analysis, sdoc[head].head.text if sdoc[head].dep_ == "nummod" else ""):
                continue  # "how many caps": "four years" counts something else
            text = _unqualified(counted(text, analysis), sdoc)
            d_ans = distance(sdoc[head], sdoc[p_tok])
            d_ent = distance(sdoc[near_seed[0]], sdoc[p_tok])
            if fit == 2:
                d_ans = max(1, d_ans - 2)  # "in the district of X": the asked noun is part of the answer's phrase
            role_ok = compatible(analysis.wh_role, r_ans) and compatible(analysis.seed_role, r_ent)
            want = analysis.want
            tolerated = want is not None and kind not in want.kinds and kind in want.tolerated
            score = (1.5 * p_strength + 0.4 * ctx_share + {2: 0.8, 1: 0.25 if tolerated else 0.5}.get(fit, 0.0)
                     + (0.4 if r_ans else -0.3) + (0.3 if r_ent else -0.2) + (0.0 if role_ok else -0.8)
                     - (0.3 if want is not None and want.kinds and fit <= 0 else 0.0)
                     - 0.15 * max(0, d_ans - 1) - 0.1 * max(0, d_ent - 1) + (0.3 if quals_ok else 0.0))
            verdict = judge(analysis, p_strength, kind, fit, d_ans, d_ent, quals_ok, answer_role=r_ans,
                            entity_role=r_ent, roles_ok=role_ok, context_ok=ctx_share >= 0.5)
            word = sdoc[p_tok].lemma_.lower() if sdoc[p_tok].pos_ != "ADP" else ""
            relation = "_".join(w for w in (word, r_ans[5:] if r_ans.startswith("prep:") else "") if w) or "is"
            nearly = fit == 0 and not verdict.supported and want is not None and kind in want.kinds and judge(
                analysis, p_strength, kind, 1, d_ans, d_ent, quals_ok, answer_role=r_ans, entity_role=r_ent,
                roles_ok=role_ok, context_ok=ctx_share >= 0.5).supported
            cand = Candidate(text, entity, kind, round(score, 4), doc_id, reading, p_strength, verdict.supported,
                             verdict.reasons, verdict.confidence, about.get(near_seed[0]) or "",
                             r_ans == "agent", extra, head, relation, frozenset(nouns), nearly, fit)
            key = normalize_answer(text)
            if key and (key not in found or cand.score > found[key].score):
                found[key] = cand
        return list(found.values())

    def _spans(self, reading: SentenceReading, about: dict[int, str | None]) -> list[tuple[int, int, int, str, str | None]]:
        """Candidate spans of a sentence: (start, end, head, NER label, graph entity)."""
        sdoc = reading.doc
        mentions = reading.refs.mentions
        out: dict[int, tuple[int, int, int, str, str | None]] = {}
        for ent in sdoc.ents:
            out[ent.root.i] = (ent.start, ent.end, ent.root.i, ent.label_, about.get(ent.root.i))
        for tok in sdoc:
            if tok.pos_ in _NOMINAL and tok.i not in out and tok.dep_ not in ("compound", "flat", "nummod"):
                if any(s <= tok.i < e for s, e, *_ in out.values()):
                    continue
                m = mentions.mention(tok)
                if m is not None:
                    out[tok.i] = (m.start, m.end, tok.i, m.label, about.get(tok.i))
            elif tok.pos_ == "PRON" and tok.i in about and about[tok.i] is not None:
                out[tok.i] = (tok.i, tok.i + 1, tok.i, "", about[tok.i])
        # a named mention keeps its whole name ("the regional operator X" -> X) and its graph entity
        for head, (s, e, h, label, entity) in list(out.items()):
            if label and label not in ("DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"):
                m = mentions.mention(sdoc[h])
                if m is not None:
                    out[head] = (m.start, m.end, h, label, entity or self.canonical(m.id))
            elif entity is None and label == "":
                m = mentions.mention(sdoc[h])
                if m is not None:
                    out[head] = (s, e, h, label, self.canonical(m.id))
        return sorted(out.values())

    def _qualified(self, q: Any, reading: SentenceReading, about: dict[int, str | None]) -> bool:
        """Whether the sentence says the qualifier too (names its entity, or holds its date or words)."""
        if q.entity is not None:
            return q.entity in about.values() or normalize_answer(q.text) in normalize_answer(reading.chunk.text)
        return normalize_answer(q.text) in normalize_answer(reading.chunk.text) or bool(
            q.date and set(years_in(q.date)) & set(years_in(reading.chunk.text)))

    def _relative(self, readings: list[SentenceReading], k: int, start: int,
                  text: str) -> tuple[str, tuple[Provenance, ...]] | None:
        """A relative date ("two years later") as the year it names, with the sentence of its anchor year."""
        reading = readings[k]
        before = reading.doc[:start].text
        anchors = [(y, reading) for y in years_in(before)]
        j = k - 1
        while not anchors and j >= 0 and readings[j].paragraph == reading.paragraph:
            anchors = [(y, readings[j]) for y in years_in(readings[j].chunk.text)]
            j -= 1
        if not anchors:
            return None
        year, where = anchors[-1]
        resolved = resolve_relative(text, year)
        if resolved is None:
            return None
        c = where.chunk
        extra = () if where is reading else (Provenance(reading.chunk.doc_id, c.index, c.start, c.end, "reader", c.text),)
        return str(resolved), extra


def _owner_of_argument(sdoc: Any, tokens: list[int], roles: dict[int, str]) -> str:
    """``poss`` when the entity owns an argument of the predicate ("its source code is hosted ..."), else ``""``."""
    for i in tokens:
        tok = sdoc[i]
        if (tok.dep_ == "poss" and tok.head.i in roles) or (
                tok.dep_ == "pobj" and tok.head.lower_ == "of" and tok.head.head.i in roles):
            return "poss"
    return ""


def _called(tok: Any) -> str:
    """The name a noun phrase is given ("a pack called the Fjord": "Fjord"), or ``""``."""
    for c in tok.children:
        if c.dep_ == "acl" and c.lemma_.lower() in ("call", "name"):
            for o in c.children:
                if o.dep_ in ("oprd", "attr", "dobj") and any(t.pos_ == "PROPN" for t in o.subtree):
                    words = [t for t in o.subtree if t.dep_ != "det"]
                    return " ".join(t.text for t in words)
    return ""


def _trimmed(sdoc: Any, start: int, end: int, head: int, label: str) -> tuple[int, int, str]:
    """A span cut to the answer: a place without the region that qualifies it ("Gothenburg, Sweden"), a date
    with its day ("12 April 1983" when the tagger left out "12"), a name without a nationality before it."""
    if label in ("DATE", "TIME") and start > 0 and sdoc[start - 1].like_num and sdoc[start - 1].text.isdigit() \
            and int(sdoc[start - 1].text) <= 31:
        start -= 1
    comma = next((i for i in range(start + 1, end - 1) if sdoc[i].text == ","), None)
    if comma is not None and any(t.ent_type_ in ("GPE", "LOC") for t in sdoc[comma + 1:end]) \
            and any(t.pos_ == "PROPN" for t in sdoc[start:comma]):
        end = comma
    while end - start > 1 and sdoc[start].ent_type_ == "NORP" and sdoc[start].i != head:
        start += 1
    return start, end, label


def _unqualified(text: str, sdoc: Any) -> str:
    """A place without the region the sentence qualifies it with ("Gothenburg, Sweden" -> "Gothenburg")."""
    head, sep, rest = text.partition(", ")
    if not sep or not rest:
        return text
    places = {t.text for t in sdoc if t.ent_type_ in ("GPE", "LOC")}
    return head if rest.split()[0] in places and head[:1].isupper() else text
