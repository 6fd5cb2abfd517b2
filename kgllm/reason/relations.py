"""Relation naming: how one entity relates to another, read off the graph or worded by the LM.

A direct fact ``source --R--> target`` answers ``R`` ("target is the R of source"). A path
of family relations is composed by :func:`kgllm.reason.kinship.compose` ("mother" then
"brother": "uncle"), preferring the shortest all-family path. Other paths are written
out as sentences and the LM names the relation in one word; without an LM the chain is
returned (``"R1 / R2"``). :func:`relation_plan` does the graph half, so prompts from many
graphs can run through the LM in one batch (:func:`finish_relation_plans`).

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(facts=[Fact("rik", "daughter", "mona"), Fact("ilse", "husband", "rik")]))
>>> [a.text for a in finish_relation_plans([relation_plan(store, None, "ilse", "mona")], None)]
['daughter']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from kgllm.errors import ConfigError
from kgllm.lm import Generator, Message
from kgllm.reason.kinship import compose, gender_of, is_kin, kin_facts, kinship_answer
from kgllm.types import Answer, Entity, Fact, Path, Subgraph, entity_id, unique_sources

if TYPE_CHECKING:
    from kgllm.reason.rules import RuleSet

__all__ = ["RelationPlan", "relation_plan", "finish_relation_plans", "derived_answer", "asked_relation",
           "related_pair"]

_REPLY_STOP = frozenset({"he", "she", "is", "the", "a", "an", "her", "his", "of", "answer"})


@dataclass(slots=True)
class RelationPlan:
    """A relation question half answered: ``answer`` when the graph decided, else ``prompt`` for the LM."""

    question: str
    subgraph: Subgraph
    path: Path | None
    prompt: list[Message] | None
    answer: Answer | None
    inference: Any = None  # the rules' derivation behind ``answer``, when the rules decided

    def finish(self, said: str) -> Answer:
        """The answer from the LM's reply to :attr:`prompt` (its first content word)."""
        sub, path = self.subgraph, self.path
        if path is None:
            raise ConfigError("this relation plan was decided by the graph: it has no prompt to finish")
        words = [w.strip(".,!?:;\"'").lower() for w in said.split()]
        stop = _REPLY_STOP | {sub.name(sub.seeds[1]).lower()}
        text = next((w for w in words if w and w not in stop), said.strip())
        return Answer(self.question, text, list(path.facts), unique_sources(path.facts), True, [], path.score, sub,
                      generated=said)


def relation_plan(store: Any, llm: Generator | None, source: str, target: str, question: str | None = None,
                  max_hops: int = 6, rules: "RuleSet | None" = None) -> RelationPlan:
    """The graph half of naming how ``target`` relates to ``source``: an answer, or the LM prompt.

    Parameters
    ----------
    store : GraphStore
        The graph.
    llm : Generator or None
        Only whether there is one matters here: without one, a path that is not a direct fact
        nor a family chain is answered with its relation chain.
    source, target : str
        Entity names or ids.
    question : str, optional
        The question as asked (default: "How is <target> related to <source>?").
    max_hops : int, default 6
        Longest path looked for.
    rules : RuleSet, optional
        Kinship rules (:mod:`kgllm.reason.rules`) tried first on a family path: the answer is the
        derived fact, citing the given facts (and their sentences) it rests on.
    """
    if rules is not None:  # the family the two belong to, composed by the rules: any chain, however long
        src, dst = entity_id(source), entity_id(target)
        family = _family(store, src)
        if any(dst in (f.subject, f.object) for f in family):
            hints = {f.subject: f.object for f in family if f.relation == "gender"}
            derived = kinship_answer(family, src, dst, hints, rules=rules)
            if derived is not None:
                fact, inference = derived
                cited = [fact, *inference.support(fact)]
                sub = Subgraph(seeds=[src, dst], facts=list(cited))
                for eid in {x for f in cited for x in (f.subject, f.object)}:
                    sub.entities[eid] = store.get_entity(eid) or Entity(eid, eid)
                asked = question or f"How is {sub.name(dst)} related to {sub.name(src)}?"
                return RelationPlan(asked, sub, None, None, Answer(asked, fact.relation, cited, unique_sources(cited),
                                                                   True, [], fact.confidence, sub), inference)
    found = _relation_path(store, source, target, question, max_hops)
    if isinstance(found, Answer):
        return RelationPlan(found.question, found.subgraph or Subgraph(), None, None, found)
    question, sub, path = found
    src, dst = sub.seeds
    if rules is not None and all(is_kin(f.relation) for f in path.facts):
        given = _premises(store, path.facts, path.entities)
        hints = {f.subject: f.object for f in given if f.relation == "gender"}
        derived = kinship_answer(given, src, dst, hints, rules=rules)
        if derived is not None:
            fact, inference = derived
            cited = [fact, *inference.support(fact)]
            return RelationPlan(question, sub, path, None, Answer(question, fact.relation, cited,
                                                                  unique_sources(cited), True, [], path.score, sub))
    if len(path.facts) == 1 and path.forward[0]:
        text = path.facts[0].relation
    elif (kin := compose(zip((f.relation for f in path.facts), path.forward),
                         gender_of(dst, store.neighbors(dst, "both")))) is not None:
        text = kin
    elif llm is None:
        text = " / ".join(f.relation if fwd else f"inverse {f.relation}" for f, fwd in zip(path.facts, path.forward))
    else:
        story = " ".join(_verbalise(sub, f) for f in path.facts)
        prompt: list[Message] = [
            {"role": "system", "content": "Answer with a single word naming the family relation."},
            {"role": "user", "content": f"{story}\nQuestion: {question}"}]
        return RelationPlan(question, sub, path, prompt, None)
    return RelationPlan(question, sub, path, None,
                        Answer(question, text, list(path.facts), unique_sources(path.facts), True, [], path.score, sub))


def _relation_path(store: Any, source: str, target: str, question: str | None,
                   max_hops: int) -> Answer | tuple[str, Subgraph, Path]:
    """The shortest (preferably all-forward, all-family) path from source to target, or an unsupported answer."""
    src, dst = entity_id(source), entity_id(target)
    sub = Subgraph(seeds=[src, dst])
    for eid in (src, dst):
        entity = store.get_entity(eid)
        if entity is None:
            return Answer.unsupported(question or f"{target} -> {source}", f"{eid!r} is not in the graph", sub)
        sub.entities[eid] = entity
    question = question or f"How is {sub.name(dst)} related to {sub.name(src)}?"
    paths = store.paths(src, dst, max_hops=max_hops, limit=50)
    if not paths:
        return Answer.unsupported(question, f"no path links {sub.name(src)} and {sub.name(dst)}", sub)
    family = [p for p in paths if all(is_kin(f.relation) for f in p.facts)]   # read by kinship composition
    path = min(family or paths, key=lambda p: (len(p.facts), not all(p.forward)))
    sub.paths, sub.facts = [path], list(path.facts)
    for eid in path.entities:
        sub.entities.setdefault(eid, store.get_entity(eid) or Entity(eid, eid))
    return question, sub, path


def _family(store: Any, start: str, limit: int = 10_000) -> list[Fact]:
    """The family facts (kinship terms and genders) of everyone linked to ``start`` by kinship."""
    seen, todo, out, facts = {start}, [start], [], set()
    while todo and len(out) < limit:
        eid = todo.pop()
        for f in store.neighbors(eid, "both"):
            if f.id in facts or not (is_kin(f.relation) or f.relation == "gender"):
                continue
            facts.add(f.id)
            out.append(f)
            other = f.object if f.subject == eid else f.subject
            if is_kin(f.relation) and other not in seen:
                seen.add(other)
                todo.append(other)
    return out


def _verbalise(sub: Subgraph, fact: Fact) -> str:
    """One English sentence for a fact: ``(x, capital_of, y)`` reads "x is the capital of y",
    ``(x, daughter, y)`` (the extractor's possessive form) reads "y is the daughter of x"."""
    rel = fact.relation.replace("_", " ")
    if rel.endswith(" of"):
        return f"{sub.name(fact.subject)} is the {rel} {sub.name(fact.object)}."
    return f"{sub.name(fact.object)} is the {rel} of {sub.name(fact.subject)}."


def finish_relation_plans(plans: Sequence[RelationPlan], llm: Generator | None) -> list[Answer]:
    """Answers of ``plans``: the prompts of all of them go to ``llm`` in one batched call.

    Raises
    ------
    ConfigError
        Some plan needs the LM and ``llm`` is None.
    """
    pending = [p for p in plans if p.answer is None]
    if pending and llm is None:
        raise ConfigError("these relation plans need a language model")
    said = llm.chat([p.prompt for p in pending], max_new_tokens=8) if pending and llm is not None else []
    replies = dict(zip(map(id, pending), said))
    return [p.answer if p.answer is not None else p.finish(replies[id(p)]) for p in plans]


# ------------------------------------------------------------ rule inference (kgllm.reason.rules)
_WORD = re.compile(r"[a-z0-9]+")
_TRAILING = frozenset("of the a an has have had is was are were does do did to s for by".split())
_RELATED = re.compile(r"^\s*how\s+is\s+(.+?)\s+related\s+to\s+(.+?)\s*[?.!]*\s*$", re.IGNORECASE)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def asked_relation(question: str, relations: Iterable[str], names: Iterable[str] = ()) -> str | None:
    """The relation among ``relations`` the question asks for: its words occur in the question and only
    names (``names``, the question's entities, or capitalised words) and function words follow them (the longest such name).

    A relation named on the way ("where was Bo's father born?") is not the one asked.

    >>> asked_relation("Who does Bo report to?", {"reports_to", "manages"}, ["Bo"])
    'reports_to'
    >>> asked_relation("Name Ann's granddaughter.", {"daughter", "granddaughter"}, ["Ann"])
    'granddaughter'
    >>> asked_relation("Where was Bo's father born?", {"father"}, ["Bo"]) is None
    True
    """
    words = [_stem(w) for w in _WORD.findall(question.lower())]
    capitalised = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", question)[1:] if w[0].isupper()]  # names as written
    allowed = _TRAILING | {_stem(w) for w in _TRAILING} | {_stem(w) for n in names for w in _WORD.findall(n.lower())} | set(map(_stem, capitalised))
    hits = []
    for rel in relations:
        parts = [_stem(w) for w in _WORD.findall(rel.lower())]
        n = len(parts)
        if parts and any(words[i:i + n] == parts and set(words[i + n:]) <= allowed
                         for i in range(len(words) - n + 1)):
            hits.append(rel)
    return max(hits, key=lambda r: (len(_WORD.findall(r)), len(r), r), default=None)


def related_pair(question: str) -> tuple[str, str] | None:
    """``(target, source)`` of a "How is A related to B?" question (A is named as B's relation).

    >>> related_pair("How is Ines related to Mara Lind?")
    ('Ines', 'Mara Lind')
    """
    m = _RELATED.match(question)
    return (m.group(1), m.group(2)) if m else None


def _premises(store: Any, facts: Iterable[Fact], seeds: Iterable[str]) -> list[Fact]:
    """``facts``, the seeds' own facts, and the ``gender`` facts of every entity they mention."""
    out = {f.id: f for f in facts}
    for s in seeds:
        out.update((f.id, f) for f in store.neighbors(s, "both"))
    people = {e for f in list(out.values()) for e in (f.subject, f.object)}
    for e in sorted(people):
        out.update((f.id, f) for f in store.neighbors(e, "out") if f.relation == "gender")
    return list(out.values())


def derived_answer(store: Any, rules: "RuleSet", question: str, sub: Subgraph) -> Answer | None:
    """Answer ``question`` from facts ``rules`` derive over the retrieved subgraph, when it asks a rule's relation
    that no retrieved path holds; the answer cites the derived fact and the given facts it rests on.

    None when the question names no relation the rules derive, the paths already hold it, or nothing is derived.
    """
    derivable = {a.relation for r in rules.rules for a in r.head}
    rel = asked_relation(question, derivable, [sub.name(s) for s in sub.seeds])
    if rel is None or not sub.seeds or any(rel in p.relations for p in sub.paths):
        return None
    given = _premises(store, sub.facts, sub.seeds)
    inference = rules.infer([*given, *kin_facts(given)])
    found = [(f, f.object) for f in inference.derived if f.relation == rel and f.subject in sub.seeds]
    found = found or [(f, f.subject) for f in inference.derived if f.relation == rel and f.object in sub.seeds]
    found = [(f, e) for f, e in found if store.get_entity(e) is not None]
    if not found:
        return None
    fact, end = min(found, key=lambda fe: (len(inference.support(fe[0])), sub.seeds.index(
        fe[0].subject if fe[0].subject in sub.seeds else fe[0].object)))
    cited = [fact, *inference.support(fact)]
    for f in cited:
        for eid in (f.subject, f.object):
            if eid not in sub.entities and (entity := store.get_entity(eid)) is not None:
                sub.entities[eid] = entity
    entities = [end] + sorted({e for _, e in found} - {end})
    return Answer(question, sub.name(end), cited, unique_sources(cited), True, entities, 1.0, sub)
