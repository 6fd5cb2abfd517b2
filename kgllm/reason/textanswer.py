"""Answer a question from ranked text evidence: an answer span of the expected type, cited and judged.

:func:`answer_from_evidence` reads the sentences of the best passages of an
:class:`~kgllm.retrieve.evidence.Evidence`, proposes the graph entities (and dates and
numbers) they mention as candidates, and scores each by the rank of its passage, the
similarity of its sentence to the question, the question's relation words in that
sentence and how well its kind fits the answer type the question asks for; the best
candidate is judged by :func:`kgllm.reason.support.judge_support`. Candidates the
question itself names are skipped, except in "A or B" questions, which choose between
the two (by their dates for "which came first" / "which is older"...). Yes/no questions
get "yes" and are never marked supported.

The scoring weights are fixed by hand (not fitted): passage rank ``1/(1+r)``, sentence
similarity ``1``, relation-word share ``0.5``, kind fit ``+0.4`` (``+0.6`` when the graph
says the entity is the noun asked for), ``-1`` for a kind that contradicts the question,
``-0.2`` for an unknown kind when one is asked for; when the question asks for no kind, a
bare date or number ``-0.3`` and a typed entity ``+0.1``.

Examples
--------
>>> from kgllm.types import Document
>>> from kgllm.retrieve.passages import passages_from_documents
>>> from kgllm.retrieve.evidence import EvidenceRetriever
>>> docs = [Document("Ines Kobal", "Ines Kobal is a chemist. She was born in 1961 in Drava."),
...         Document("Drava", "Drava is a town on a river.")]
>>> ev = EvidenceRetriever(passages_from_documents(docs)).retrieve("When was Ines Kobal born?")
>>> ans = answer_from_evidence("When was Ines Kobal born?", ev)
>>> ans.text, ans.supported, ans.doc_id
('1961', True, 'Ines Kobal')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kgllm.reason.support import judge_support, normalize_answer, question_type, relation_words, stem
from kgllm.retrieve.answer_type import AnswerType, entity_kind, relation_nouns, shape_kind
from kgllm.retrieve.evidence import Evidence, norm_tokens
from kgllm.retrieve.link import STOPWORDS, tokenize
from kgllm.types import Entity, Fact

__all__ = ["TextAnswer", "answer_from_evidence", "choose_with_llm", "YES_NO_OPENERS"]

#: Words that open a yes/no question.
YES_NO_OPENERS = frozenset("is are was were do does did can could has have had will would should".split())
_DATE = re.compile(r"\b(?:\d{1,2} )?(?:January|February|March|April|May|June|July|August|September|October|"
                   r"November|December)(?: \d{1,2})?,? \d{4}\b|\b1[0-9]{3}\b|\b20[0-9]{2}\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_EARLY = frozenset("first earlier earliest older oldest before prior".split())
_LATE = frozenset("later latest last younger youngest newer newest recent after".split())
_OR = re.compile(r"(?:,|:)?\s([^,?]+?)\s+or\s+([^,?]+?)\s*\?*$")


@dataclass(slots=True)
class TextAnswer:
    """An answer composed from text evidence, the sentence it cites and the judgement of its support."""

    question: str
    text: str
    supported: bool
    confidence: float
    doc_id: str = ""
    sentence: str = ""
    facts: list[Fact] = field(default_factory=list)
    reasons: tuple[str, ...] = ()
    candidates: list[tuple[str, float]] = field(default_factory=list)


@dataclass(slots=True)
class _Candidate:
    name: str
    kind: str
    nouns: set[str]
    score: float
    doc_id: str
    title: str
    sentence: str


def _entity_index(store: Any) -> dict[tuple[str, ...], tuple[Entity, set[str]]]:
    index: dict[tuple[str, ...], tuple[Entity, set[str]]] = {}
    if store is None:
        return index
    nouns: dict[str, set[str]] = {}
    for fact in store.facts():
        nouns.setdefault(fact.subject, set()).update(relation_nouns(fact.relation, fact.object))
    for ent in store.entities():
        key = norm_tokens(ent.name)
        if key and not all(t in STOPWORDS for t in key) and len(key) <= 8:
            index.setdefault(key, (ent, nouns.get(ent.id, set())))
    return index


def _spans(sentence: str, index: dict[tuple[str, ...], tuple[Entity, set[str]]]) -> list[tuple[str, str, set[str]]]:
    """(name, kind, nouns) of the entities, dates and numbers a sentence names."""
    toks = norm_tokens(sentence)
    found: dict[str, tuple[str, str, set[str]]] = {}
    for n in range(min(8, len(toks)), 0, -1):
        for i in range(len(toks) - n + 1):
            hit = index.get(toks[i:i + n])
            if hit:
                ent, nouns = hit
                found.setdefault(normalize_answer(ent.name), (ent.name, entity_kind(ent), nouns))
    dates = []
    for m in _DATE.finditer(sentence):
        dates.append(m.span())
        found.setdefault(normalize_answer(m.group()), (m.group(), "date", set()))
    for m in _NUMBER.finditer(sentence):
        if any(a <= m.start() and m.end() <= b for a, b in dates):
            continue  # a day or year inside a date is no number of its own
        found.setdefault(normalize_answer(m.group()), (m.group(), shape_kind(m.group()) or "number", set()))
    return list(found.values())


def _fit(want: AnswerType | None, kind: str, nouns: set[str]) -> float:
    if want is None or (not want.kinds and not want.nouns):
        return -0.3 if kind in ("date", "number") else (0.1 if kind else 0.0)
    if want.nouns and want.nouns & {stem(n) for n in nouns} | (want.nouns & nouns):
        return 0.6
    if not want.kinds:
        return -0.3 if kind in ("date", "number") else (0.1 if kind else 0.0)
    if kind in want.kinds:
        return 0.4
    if kind and kind not in want.tolerated:
        return -1.0
    return -0.2


def answer_from_evidence(question: str, evidence: Evidence, store: Any = None, embedder: Any = None,
                         top_passages: int = 5) -> TextAnswer:
    """Compose and judge an answer to ``question`` from ``evidence`` (see the module docstring).

    Parameters
    ----------
    question : str
    evidence : Evidence
        Ranked passages (and facts) from :class:`~kgllm.retrieve.evidence.EvidenceRetriever`.
    store : GraphStore, optional
        The graph built from the passages: its entities (with their types) are the candidates.
        Without it only dates and numbers are proposed.
    embedder : Embedder, optional
        Sentence embedder (default: the bundled MiniLM).
    top_passages : int, default 5
        How many of the best passages are read.
    """
    tokens = tokenize(question)
    want = question_type(question)
    entities = list(evidence.seeds)
    if tokens and tokens[0] in YES_NO_OPENERS:
        return TextAnswer(question, "yes", False, 0.5, reasons=("yes/no questions are not judged",))
    passages = evidence.passages[:top_passages]
    sentences = [(r, p, s) for r, p in enumerate(passages) for s in p.sentences]
    if not sentences:
        return TextAnswer(question, "", False, 0.0, reasons=("no evidence passage",))
    if embedder is None:
        from kgllm.resources import get_embedder

        embedder = get_embedder()
    vecs = embedder.encode([question] + [s for _, _, s in sentences])
    sims = vecs[1:] @ vecs[0]
    index = _entity_index(store)
    options = _options(question, entities)
    q_toks = set(norm_tokens(question))
    rel = relation_words(question, entities)
    best: dict[str, _Candidate] = {}
    for (rank, passage, sentence), sim in zip(sentences, sims):
        said = {stem(t) for t in tokenize(sentence)}
        rel_share = len(rel & said) / len(rel) if rel else 0.0
        base = 1.0 / (1 + rank) + float(sim) + 0.5 * rel_share
        for name, kind, nouns in _spans(sentence, index):
            key = normalize_answer(name)
            if not key:
                continue
            if options:
                if key not in options:
                    continue
            elif set(norm_tokens(name)) <= q_toks:
                continue
            score = base + _fit(want, kind, nouns)
            if key not in best or score > best[key].score:
                best[key] = _Candidate(name, kind, nouns, score, passage.doc_id, passage.title, sentence)
    if options:
        return _choose_option(question, options, evidence, best)
    if not best:
        return TextAnswer(question, "", False, 0.0, reasons=("no candidate answer in the evidence",))
    ranked = sorted(best.values(), key=lambda c: (-c.score, c.name))
    top = ranked[0]
    bridged = _bridged(top.title, evidence, entities)
    own = normalize_answer(top.title) in {normalize_answer(e) for e in entities}
    judgement = judge_support(question, top.name, top.sentence, top.title, entities, top.kind, top.nouns,
                              bridged, want, own)
    facts = [f for f in evidence.facts if any(p.doc_id == top.doc_id and p.sentence == top.sentence
                                              for p in f.provenance)][:3]
    return TextAnswer(question, top.name, judgement.supported, judgement.confidence, top.doc_id, top.sentence,
                      facts, judgement.reasons, [(c.name, round(c.score, 4)) for c in ranked[:5]])


def _bridged(title: str, evidence: Evidence, entities: list[str]) -> bool:
    """Whether the passage titled ``title`` is named in a passage that names a question entity."""
    key = normalize_answer(title)
    for p in evidence.passages:
        text = f" {normalize_answer(p.full_text)} "
        if p.title != title and f" {key} " in text and any(f" {normalize_answer(e)} " in text for e in entities):
            return True
    return False


def _options(question: str, entities: list[str]) -> dict[str, str]:
    """The two named options of an "A or B" question (normalised -> as written), else empty."""
    m = _OR.search(question.strip())
    if not m:
        return {}
    sides = [m.group(1), m.group(2)]
    found: dict[str, str] = {}
    for side in sides:
        side_key = f" {normalize_answer(side)} "
        match = sorted((e for e in entities if f" {normalize_answer(e)} " in side_key), key=len, reverse=True)
        if match:
            found[normalize_answer(match[0])] = match[0]
    return found if len(found) == 2 else {}


def _choose_option(question: str, options: dict[str, str], evidence: Evidence,
                   found: dict[str, _Candidate]) -> TextAnswer:
    """Pick between the two options: by their earliest year for temporal comparisons, else by evidence."""
    words = set(tokenize(question))
    years: dict[str, int] = {}
    for key, name in options.items():
        passage = next((p for p in evidence.passages if normalize_answer(p.title) == key), None)
        if passage is None:
            passage = next((p for p in evidence.passages if f" {key} " in f" {normalize_answer(p.text)} "), None)
        if passage is not None:
            ys = [int(y) for y in re.findall(r"\b(1[0-9]{3}|20[0-9]{2})\b", passage.text)]
            if ys:
                years[key] = min(ys)
    early, late = bool(words & _EARLY), bool(words & _LATE)
    if len(years) == 2 and early != late:
        a, b = sorted(years, key=lambda k: years[k])
        pick = a if early else b
        if years[a] != years[b]:
            return TextAnswer(question, options[pick], True, 0.7, reasons=(),
                              candidates=[(options[k], float(years[k])) for k in (a, b)])
    ranked = sorted(options, key=lambda k: -(found[k].score if k in found else -9.0))
    return TextAnswer(question, options[ranked[0]], False, 0.5,
                      reasons=("a comparison the evidence does not decide",),
                      candidates=[(options[k], found[k].score if k in found else 0.0) for k in ranked])


_LLM_SYSTEM = ("Answer the question from the numbered sentences. Reply with the answer only: a name, date, "
               "number or short phrase copied from the sentences.")


def choose_with_llm(llm: Any, pairs: list[tuple[TextAnswer, Evidence]], sentences: int = 6) -> list[TextAnswer]:
    """Let the LM choose among each answer's candidates (all prompts in one batch).

    The LM reads the cited sentence and the first sentences of the best passages; its reply
    counts only when it names one of the candidates the evidence proposed. A choice other
    than the judged answer is returned unsupported (it has no judged citation).
    """
    convs = []
    for ans, ev in pairs:
        lines = list(dict.fromkeys(([ans.sentence] if ans.sentence else [])
                                   + [s for p in ev.passages[:3] for s in p.sentences[:2]]))[:sentences]
        context = "\n".join(f"[{i}] {s}" for i, s in enumerate(lines, 1))
        convs.append([{"role": "system", "content": _LLM_SYSTEM},
                      {"role": "user", "content": f"{context}\n\nQuestion: {ans.question}"}])
    texts = llm.chat(convs, max_new_tokens=24) if convs else []
    out = []
    for (ans, _), text in zip(pairs, texts):
        said = f" {normalize_answer(text or '')} "
        pick = next((name for name, _ in ans.candidates if f" {normalize_answer(name)} " in said), None)
        if pick is None or normalize_answer(pick) == normalize_answer(ans.text):
            out.append(ans)
        else:
            out.append(TextAnswer(ans.question, pick, False, min(ans.confidence, 0.3), reasons=(
                "the LM chose a candidate other than the judged one",), candidates=ans.candidates))
    return out
