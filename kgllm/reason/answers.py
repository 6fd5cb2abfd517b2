"""Answers made of what the reader found: cited and judged, or saying what the text does not say.

* :func:`from_candidate` -- a supported answer read off a sentence
  (:class:`~kgllm.reason.reader.Candidate`), citing the graph's fact read from that sentence when
  there is one, else the sentence itself as a fact (``extractor="reader"``, never written to the
  graph);
* :func:`not_stated` -- the documents do not state an answer: ``supported`` is False, the text
  says so (:data:`~kgllm.types.NOT_STATED`) with the reason, and the closest facts found are cited;
* :func:`chained` -- a nested question ("In which town is the firm that makes X based?")
  answered in two steps: both steps' citations, the resolved question kept in ``reasons``-free
  form in the text of the second;
* :func:`yes_no` -- "Did X grow up in Y?" answered *Yes* when a sentence states it, with citation.

Examples
--------
>>> from kgllm.types import Answer, Subgraph
>>> a = not_stated("When did Ines Kobal die?", ["no sentence about Ines Kobal states it"], [], Subgraph())
>>> a.text, a.supported
('The text does not say: no sentence about Ines Kobal states it.', False)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from kgllm.reason.analysis import QuestionAnalysis
from kgllm.reason.faithful import unsupported_claims
from kgllm.reason.reader import Candidate, DocumentReader
from kgllm.reason.support import normalize_answer
from kgllm.retrieve.answer_type import IS_A, NOUN_KIND
from kgllm.retrieve.link import tokenize
from kgllm.types import NOT_STATED, Answer, Entity, Fact, Subgraph, entity_id, unique_sources

__all__ = ["names_one", "names_seed", "words_noun", "from_candidate", "not_stated", "chained", "yes_no", "closest_facts", "coordinated", "listed", "Pending",
           "path_confidence",
           "numbered_sentences",
           "worded", "why_not", "asks_place_level", "mentions", "FACT_NUMBER"]


def _node(store: Any, sub: Subgraph, eid: str, name: str) -> str:
    """Make sure ``sub`` can name ``eid`` (the answer may be a span the graph holds no entity for)."""
    if eid not in sub.entities:
        ent = store.get_entity(eid) if store is not None else None
        sub.entities[eid] = ent if ent is not None else Entity(eid, name)
    return eid


def _stated(cand: Candidate, store: Any) -> list[Fact]:
    """The graph's facts read from the candidate's sentence that join its entity and the answer."""
    if cand.fact is not None:
        return [cand.fact]
    if not cand.entity or not cand.seed:
        return []
    out = []
    for fact in store.neighbors(cand.seed, "both"):
        if {fact.subject, fact.object} == {cand.seed, cand.entity} and any(
                p.doc_id == cand.doc_id and p.chunk == cand.chunk for p in fact.provenance):
            out.append(fact)
    return out


def from_candidate(question: str, cand: Candidate, store: Any, sub: Subgraph,
                   others: Sequence[Candidate] = ()) -> Answer:
    """A supported answer from a reader candidate (see the module docstring)."""
    answer_id = _node(store, sub, cand.entity or entity_id(cand.text) or cand.text, cand.text)
    seed = _node(store, sub, cand.seed, cand.seed) if cand.seed else ""
    facts = _stated(cand, store)
    if not facts:
        s, o = (answer_id, seed) if cand.answer_first else (seed, answer_id)
        facts = [Fact(s, cand.relation, o, round(cand.confidence, 4), tuple(cand.provenance()))]
    elif cand.extra:
        facts = [f.with_provenance([*f.provenance, *cand.extra]) for f in facts]
    known = sub.fact_ids()
    for f in facts:
        if f.id not in known:
            sub.add_fact(f)
    entities = list(dict.fromkeys([answer_id] + [c.entity or entity_id(c.text) for c in others if c is not cand]))
    return Answer(question, cand.text, facts, unique_sources(facts), True, entities, cand.confidence, sub)


def coordinated(best: Candidate, good: Sequence[Candidate]) -> list[Candidate]:
    """The other supported answers the best one's sentence gives alongside it, in the same role: "founded by A
    and B" (conjuncts of each other), or facts of the same relation read from the same sentence."""
    out = []
    for c in good:
        if c is best or c.doc_id != best.doc_id or c.chunk != best.chunk or c.fitness < min(best.fitness, 1):
            continue
        if best.reading is not None and c.reading is not None:
            sdoc = best.reading.doc
            if sdoc[c.head] in sdoc[best.head].conjuncts:
                out.append(c)
        elif c.relation == best.relation and c.seed == best.seed:
            out.append(c)
    return out


def listed(first: Answer, others: Sequence[Answer]) -> Answer:
    """One answer naming every answer of a list question ("A and B"), citing each one's facts."""
    names = [first.text, *(a.text for a in others)]
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    facts = list(dict.fromkeys([*first.facts, *(f for a in others for f in a.facts)]))
    entities = list(dict.fromkeys([*first.entities[:1], *(a.entities[0] for a in others if a.entities),
                                   *first.entities[1:]]))
    return Answer(first.question, text, facts, unique_sources(facts), True, entities,
                  min([first.confidence, *(a.confidence for a in others)]), first.subgraph)


def closest_facts(cands: Sequence[Candidate], sub: Subgraph, limit: int = 2) -> list[Fact]:
    """What the graph holds nearest to the question: the facts of the best relation paths."""
    return list(sub.paths[0].facts)[:limit] if sub.paths else list(sub.facts[:limit])


def not_stated(question: str, reasons: Sequence[str], cands: Sequence[Candidate], sub: Subgraph,
               facts: Sequence[Fact] = ()) -> Answer:
    """The documents do not state an answer (see the module docstring)."""
    why = reasons[0] if reasons else "no sentence states it"
    entities = [c.entity or entity_id(c.text) for c in cands[:3]]
    return Answer(question, f"{NOT_STATED}: {why}.", list(facts), unique_sources(facts), False, entities, 0.0, sub,
                  reasons=tuple(dict.fromkeys(reasons)) or (why,))


def chained(question: str, resolved: str, inner: Answer, outer: Answer) -> Answer:
    """A nested question answered in two steps; ``resolved`` is the second step's question.

    Supported when both steps are; the confidence is their product; the citations are both
    steps' facts, the inner step first.
    """
    facts = list(dict.fromkeys([*inner.facts, *outer.facts]))
    sub = outer.subgraph or Subgraph()
    if inner.subgraph is not None:
        for eid, ent in inner.subgraph.entities.items():
            sub.entities.setdefault(eid, ent)
    if not outer.supported:
        reasons = (f"{inner.text} is the answer to the inner question, but for {resolved!r}: "
                   + "; ".join(outer.reasons or ("nothing is stated",)),)
        return Answer(question, f"{NOT_STATED}: {reasons[0]}.", facts, unique_sources(facts), False, outer.entities,
                      0.0, sub, reasons=reasons)
    return Answer(question, outer.text, facts, unique_sources(facts), True, outer.entities,
                  round(inner.confidence * outer.confidence, 4), sub, outer.generated)


def yes_no(question: str, analysis: QuestionAnalysis, reader: DocumentReader, sub: Subgraph) -> Answer | None:
    """*Yes* when a sentence states the question with its last-named entity as the answer; None when the
    question does not name two entities (then it is not read as one to check)."""
    if len(analysis.seeds) < 2:
        return None
    main, target = analysis.seeds[0], analysis.seeds[-1]
    asked = replace(analysis, seeds=[main], want=None,
                    qualifiers=[q for q in analysis.qualifiers if q.entity != target.entity_id])
    cands = [c for c in reader.candidates(asked) if c.supported]
    key = normalize_answer(target.mention)
    hit = next((c for c in cands if c.entity == target.entity_id or normalize_answer(c.text) == key), None)
    if hit is not None:
        ans = from_candidate(question, hit, reader.store, sub)
        return replace(ans, text="Yes")
    if cands:
        ans = from_candidate(question, cands[0], reader.store, sub)
        named = reader.store.get_entity(target.entity_id)
        why = f"the text says {cands[0].text}, not {named.name if named is not None else target.mention}"
        return Answer(question, f"No: {why}.", ans.facts, ans.sources, False, ans.entities, 0.0, sub, reasons=(why,))
    return not_stated(question, ["no sentence states it"], [], sub)


FACT_NUMBER = re.compile(r"\[\d+\]\s*")
"""A fact number a model may write ("[1] "), dropped from its wording."""


@dataclass(slots=True)
class Pending:
    """What the language model may still do for one question: choose among graph candidates (``sub``,
    ``ranked``) or among answers read from text (``answers``, best first), or word the answer."""

    index: int = -1
    sub: Subgraph | None = None
    ranked: list[tuple[str, float]] = field(default_factory=list)
    context: str = ""
    answers: list[Answer] = field(default_factory=list)


def numbered_sentences(answers: Sequence[Answer]) -> str:
    """The sentences the answers cite, numbered, for the model's prompt."""
    lines = list(dict.fromkeys(p.sentence for a in answers for p in a.sources if p.sentence))
    return "\n".join(f"[{i}] {line}" for i, line in enumerate(lines, 1))


def worded(answer: Answer, generated: str | None, question: str) -> Answer:
    """``answer`` worded by the model when its wording names the answer and claims nothing the cited facts
    and sentences do not hold; the model's words are kept in ``generated`` either way."""
    text = " ".join(FACT_NUMBER.sub("", generated or "").split())
    answer.generated = generated
    if text and mentions(entity_id(text), entity_id(answer.text)) and not unsupported_claims(
            text, answer.facts, answer.subgraph, question):
        answer.text = text
    return answer


def asks_place_level(analysis: Any) -> bool:
    """Whether the question asks for a place of a named level ("which country", "in which district")."""
    want = analysis.want
    return bool(want is not None and want.nouns and "place" in want.kinds
                and any(NOUN_KIND.get(n) == "place" for n in want.nouns))


def why_not(analysis: Any, cands: Sequence[Any], sub: Subgraph) -> list[str]:
    """Why no answer is supported, in words: the best candidate's reasons, or what was not found."""
    names = ", ".join(sub.name(s) for s in analysis.seed_ids) or "the question's entities"
    if not analysis.seeds:
        return ["no entity of the question is in the graph"]
    if not analysis.predicate:
        return [f"the question's relation could not be read (about {names})"]
    word = " ".join(analysis.forms or analysis.predicate)          # as the question writes it ("born")
    if not cands:
        return [f"no sentence about {names} states {word!r}"]
    return [f"{cands[0].text!r} was found, but {r}" for r in cands[0].reasons[:1]] + list(cands[0].reasons[1:])


_NON_WORD = re.compile(r"[^\w']+")


def mentions(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text`` as whole words (punctuation and quotes ignored)."""
    words = _NON_WORD.sub(" ", name).split()
    return bool(words) and f" {' '.join(words)} " in f" {' '.join(_NON_WORD.sub(' ', text).split())} "


def path_confidence(sub: Subgraph, choice: str, temperature: float = 0.1) -> float:
    """Share of the softmax mass over the distinct relation paths' best scores on paths reaching ``choice``.

    Every entity one relation path reaches is an equally good answer to it, so the mass is spread over
    relation paths, not over answers: a question with many right answers is not less certain.

    Examples
    --------
    >>> from kgllm.types import Fact, Path, Subgraph
    >>> f, g = Fact("a", "r", "b"), Fact("a", "s", "c")
    >>> sub = Subgraph(paths=[Path(("a", "b"), (f,), (True,), 1.0), Path(("a", "c"), (g,), (True,), 0.8)])
    >>> round(path_confidence(sub, "b"), 3), round(path_confidence(sub, "c"), 3)
    (0.881, 0.119)
    """
    best: dict[tuple, float] = {}
    ends: dict[tuple, set[str]] = {}
    for p in sub.paths:
        key = (p.entities[0] if p.entities else "", p.relations, tuple(p.forward))
        best[key] = max(best.get(key, p.score), p.score)
        ends.setdefault(key, set()).add(p.end)
    if not best:
        return 0.0
    top = max(best.values())
    weights = {k: math.exp((v - top) / temperature) for k, v in best.items()}
    return sum(w for k, w in weights.items() if choice in ends[k]) / sum(weights.values())


def names_one(answer: str, name: str) -> bool:
    """Whether an answer is the one a question names ("cousin Simon" is Simon Bray), or no name was given."""
    return not name or set(tokenize(name)) <= set(tokenize(answer))


def names_seed(parts: Any, seeds: Sequence[str], store: Any) -> bool:
    """Whether the phrase of "Who is <phrase>?" names one of the question's entities: it is that entity's name
    ("the Velmora Bikes"), or a name with what the text says the entity is ("the Corvid diffractometer" when
    "the Corvid is a diffractometer")."""
    phrase = entity_id(re.sub(r"^(?:the|a|an)\s+", "", parts.inner.split(" ", 2)[2].rstrip("?"), flags=re.I))
    if phrase in seeds:
        return True
    return any(f.relation in IS_A and f.subject == s and f.object.split()[-1:] == [parts.noun]
               for s in seeds for f in store.neighbors(s, "out"))


def words_noun(sentence: str, noun: str) -> bool:
    """Whether a sentence words a relation noun ("daughters" for "daughter")."""
    return bool(noun) and any(w.startswith(noun) for w in tokenize(sentence))
