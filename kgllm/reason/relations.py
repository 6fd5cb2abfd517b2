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

from dataclasses import dataclass
from typing import Any, Sequence

from kgllm.errors import ConfigError
from kgllm.lm import Generator, Message
from kgllm.reason.kinship import compose, gender_of, is_kin
from kgllm.types import Answer, Entity, Fact, Path, Subgraph, entity_id, unique_sources

__all__ = ["RelationPlan", "relation_plan", "finish_relation_plans"]

_REPLY_STOP = frozenset({"he", "she", "is", "the", "a", "an", "her", "his", "of", "answer"})


@dataclass(slots=True)
class RelationPlan:
    """A relation question half answered: ``answer`` when the graph decided, else ``prompt`` for the LM."""

    question: str
    subgraph: Subgraph
    path: Path | None
    prompt: list[Message] | None
    answer: Answer | None

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
                  max_hops: int = 6) -> RelationPlan:
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
    """
    found = _relation_path(store, source, target, question, max_hops)
    if isinstance(found, Answer):
        return RelationPlan(found.question, found.subgraph or Subgraph(), None, None, found)
    question, sub, path = found
    dst = sub.seeds[1]
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
