"""Question -> retrieved subgraph -> grounded, cited :class:`~kgllm.types.Answer`.

The graph proposes, the language model chooses and words: retrieval ranks
candidate answer entities by the relation paths that reach them; the LM reads
the numbered facts and answers; its answer is accepted only when it names one
of the top candidates, otherwise the best-supported candidate is returned. Every
answer carries the facts of the path that supports it and their source
sentences; when no entity of the question is in the graph, or no path leads
anywhere, the answer says the graph does not support one.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta, Provenance
>>> store = MemoryStore()
>>> p = Provenance("bio", 0, 0, 31, "rules", "Marie Curie was born in Warsaw.")
>>> _ = store.upsert(GraphDelta(facts=[Fact("marie curie", "born_in", "warsaw", provenance=(p,))]))
>>> ans = Reasoner(store, llm=None).ask("Where was Marie Curie born?")
>>> ans.text, ans.supported, ans.sources[0].sentence
('warsaw', True, 'Marie Curie was born in Warsaw.')
>>> Reasoner(store, llm=None).ask("Who founded Atlantis?").supported
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from kgllm.errors import ConfigError, InputError
from kgllm.progress import progress as track_progress
from kgllm.reason.kinship import compose, gender_of, is_kin
from kgllm.reason.llm import Generator, Message, StreamingGenerator, resolve_llm
from kgllm.reason.prompts import answer_prompt
from kgllm.retrieve.context import build_context
from kgllm.retrieve.subgraph import Retriever, rank_answers
from kgllm.stores.base import GraphStore
from kgllm.types import Answer, Entity, Fact, Path, Provenance, Subgraph, entity_id

__all__ = ["Reasoner", "ReasonerConfig", "RelationPlan", "finish_relation_plans", "NOT_SUPPORTED"]

NOT_SUPPORTED = "The graph does not support an answer"
_FACT_NUMBER = re.compile(r"\[\d+\]\s*")


@dataclass(slots=True)
class ReasonerConfig:
    """Knobs of the reasoner.

    ``llm_choices``: how many top graph candidates the LM may choose among (2: the LM can fix the
    retriever going one hop too far, as in "Where was X born?" answered with the country). Measured
    trade-off: on the first 100 PQ-2H dev questions the bundled 135M model's picks score 0.90
    Hits@1 against 0.96 for the graph's own; set 1 to let the graph pick and the LM only word
    the answer, and measure any choice with ``kgllm eval kgqa --llm``.
    ``context_tokens``: token budget of the facts block in the prompt.
    """

    llm_choices: int = 2
    context_tokens: int = 600
    max_new_tokens: int = 40

    def __post_init__(self) -> None:
        for name in ("llm_choices", "context_tokens", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ReasonerConfig.{name} must be >= 1, got {getattr(self, name)}")


class Reasoner:
    """Answer questions from a graph, citing the facts and sources used.

    Parameters
    ----------
    graph:
        A :class:`~kgllm.KnowledgeGraph` or any :class:`~kgllm.stores.base.GraphStore`.
    llm:
        ``"auto"`` (the bundled local model on kgllm's batched engine, loaded on first use), the
        URL of an OpenAI-compatible server (``kgllm serve-llm``, vLLM, llama.cpp), a model path,
        a :class:`~kgllm.reason.llm.Generator`, or ``None`` to answer from the graph alone (fast;
        used by the KGQA evaluation). See :func:`kgllm.reason.llm.resolve_llm`.
    """

    def __init__(self, graph, llm: Generator | str | None = "auto", retriever: Retriever | None = None,
                 config: ReasonerConfig | None = None) -> None:
        store = getattr(graph, "store", graph)
        if not isinstance(store, GraphStore):
            raise ConfigError(f"Reasoner needs a KnowledgeGraph or GraphStore, got {type(graph).__name__}")
        self.store = store
        self.llm = resolve_llm(llm)
        self.retriever = retriever or Retriever(store)
        self.config = config or ReasonerConfig()

    def ask(self, question: str, on_token: Callable[[str], None] | None = None) -> Answer:
        """Answer one question (see :meth:`ask_many`).

        ``on_token`` receives the LM's text piece by piece as it is generated (when the LM can
        stream; otherwise once, whole); it is not called when the graph alone decides.
        """
        return self.ask_many([question], on_token=on_token)[0]

    def ask_many(self, questions: Sequence[str], progress: bool = False,
                 on_token: Callable[[str], None] | None = None) -> list[Answer]:
        """Answer questions; the LM runs over all of them together (continuous batching)."""
        for q in questions:
            if not isinstance(q, str) or not q.strip():
                raise InputError("empty question: nothing to answer")
        retrieved = [self.retriever.retrieve(q) for q in track_progress(questions, "retrieving", enabled=progress)]
        answers: list[Answer | None] = []
        pending: list[tuple[int, Subgraph, list[tuple[str, float]], str]] = []
        for i, (q, sub) in enumerate(zip(questions, retrieved)):
            ranked = rank_answers(sub)
            if not sub.seeds:
                answers.append(_unsupported(q, sub, "no entity of the question is in the graph"))
            elif not ranked or not sub.facts:
                answers.append(_unsupported(q, sub, "no relevant facts were found around "
                                            + ", ".join(_name(sub, s) for s in sub.seeds)))
            else:
                answers.append(None)
                context, _ = build_context(sub, max_tokens=self.config.context_tokens)
                pending.append((i, sub, ranked, context))
        texts: list[str] = [""] * len(pending)
        if self.llm is not None and pending:
            convs = [answer_prompt(questions[i], context) for i, _, _, context in pending]
            texts = self._generate(convs, self.config.max_new_tokens, on_token)
        for (i, sub, ranked, _), text in zip(pending, texts):
            answers[i] = self._decide(questions[i], sub, ranked, text)
        return [a for a in answers if a is not None]

    def _generate(self, convs: list, max_new_tokens: int, on_token: Callable[[str], None] | None) -> list[str]:
        if on_token is None or len(convs) != 1:
            return self.llm.chat(convs, max_new_tokens=max_new_tokens)
        if not isinstance(self.llm, StreamingGenerator):
            texts = self.llm.chat(convs, max_new_tokens=max_new_tokens)
            on_token(texts[0])
            return texts
        pieces = []
        for piece in self.llm.stream_chat(convs[0], max_new_tokens=max_new_tokens):
            pieces.append(piece)
            on_token(piece)
        return ["".join(pieces).strip()]

    def relation(self, source: str, target: str, question: str | None = None, max_hops: int = 6) -> Answer:
        """How ``target`` relates to ``source``: a relation name, read off the graph or worded by the LM.

        A direct fact ``source --R--> target`` answers ``R`` ("target is the R of
        source"). A path of family relations is composed by
        :func:`kgllm.reason.kinship.compose` ("mother" then "brother": "uncle"),
        preferring the shortest all-family path. Other paths are written out as
        sentences and the LM names the relation in one word; without an LM the
        chain is returned (``"R1 / R2"``). See :meth:`relations` for many pairs at once.
        """
        return self.relations([(source, target, question)], max_hops=max_hops)[0]

    def relations(self, pairs: Sequence[tuple[str, str, str | None]], max_hops: int = 6) -> list[Answer]:
        """:meth:`relation` for many ``(source, target, question)`` triples; the LM runs over all together."""
        plans = [self.relation_plan(s, t, q, max_hops) for s, t, q in pairs]
        return finish_relation_plans(plans, self.llm)

    def relation_plan(self, source: str, target: str, question: str | None = None,
                      max_hops: int = 6) -> "RelationPlan":
        """The graph half of :meth:`relation`: an answer, or the LM prompt that will word it.

        Lets a caller gather prompts from many graphs and run them through the LM in one batch
        (:func:`finish_relation_plans`).
        """
        found = self._relation_path(source, target, question, max_hops)
        if isinstance(found, Answer):
            return RelationPlan(found.question, found.subgraph, None, None, found)
        question, sub, path = found
        dst = sub.seeds[1]
        if len(path.facts) == 1 and path.forward[0]:
            text = path.facts[0].relation
        elif (kin := compose(zip((f.relation for f in path.facts), path.forward),
                             gender_of(dst, self.store.neighbors(dst, "both")))) is not None:
            text = kin
        elif self.llm is None:
            text = " / ".join(f.relation if fwd else f"inverse {f.relation}"
                              for f, fwd in zip(path.facts, path.forward))
        else:
            story = " ".join(_verbalise(sub, f) for f in path.facts)
            prompt = [{"role": "system", "content": "Answer with a single word naming the family relation."},
                      {"role": "user", "content": f"{story}\nQuestion: {question}"}]
            return RelationPlan(question, sub, path, prompt, None)
        return RelationPlan(question, sub, path, None,
                            Answer(question, text, list(path.facts), _sources(path.facts), True, [], path.score, sub))

    def _relation_path(self, source: str, target: str, question: str | None,
                       max_hops: int) -> Answer | tuple[str, Subgraph, Path]:
        """The shortest (preferably all-forward) path from source to target, or an unsupported answer."""
        src, dst = entity_id(source), entity_id(target)
        sub = Subgraph(seeds=[src, dst])
        for eid in (src, dst):
            entity = self.store.get_entity(eid)
            if entity is None:
                return _unsupported(question or f"{target} -> {source}", sub, f"{eid!r} is not in the graph")
            sub.entities[eid] = entity
        question = question or f"How is {sub.entities[dst].name} related to {sub.entities[src].name}?"
        paths = self.store.paths(src, dst, max_hops=max_hops, limit=50)
        if not paths:
            return _unsupported(question, sub, f"no path links {sub.entities[src].name} and {sub.entities[dst].name}")
        family = [p for p in paths if all(is_kin(f.relation) for f in p.facts)]   # read by kinship composition
        path = min(family or paths, key=lambda p: (len(p.facts), not all(p.forward)))
        sub.paths, sub.facts = [path], list(path.facts)
        for eid in path.entities:
            sub.entities.setdefault(eid, self.store.get_entity(eid) or Entity(eid, eid))
        return question, sub, path

    def _decide(self, question: str, sub: Subgraph, ranked: list[tuple[str, float]], text: str) -> Answer:
        choice, score = ranked[0]
        text = " ".join(_FACT_NUMBER.sub("", text).split())
        if text:
            said = entity_id(text)
            for eid, s in ranked[: self.config.llm_choices]:
                if any(_mentions(said, entity_id(n)) for n in _names(sub, eid)):
                    choice, score = eid, s
                    break
        name = _name(sub, choice)
        if not text or not any(_mentions(entity_id(text), entity_id(n)) for n in _names(sub, choice)):
            text = name
        path = _best_path(sub.paths, choice)
        facts = list(path.facts) if path else [f for f in sub.facts if choice in (f.subject, f.object)][:1]
        entities = [choice] + [e for e, _ in ranked if e != choice]
        return Answer(question, text, facts, _sources(facts), True, entities, score, sub)


def _verbalise(sub: Subgraph, fact: Fact) -> str:
    """One English sentence for a fact: ``(x, capital_of, y)`` reads "x is the capital of y",
    ``(x, daughter, y)`` (the extractor's possessive form) reads "y is the daughter of x"."""
    rel = fact.relation.replace("_", " ")
    if rel.endswith(" of"):
        return f"{_name(sub, fact.subject)} is the {rel} {_name(sub, fact.object)}."
    return f"{_name(sub, fact.object)} is the {rel} of {_name(sub, fact.subject)}."


_NON_WORD = re.compile(r"[^\w']+")


def _mentions(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text`` as whole words (punctuation and quotes ignored)."""
    words = _NON_WORD.sub(" ", name).split()
    return bool(words) and f" {' '.join(words)} " in f" {' '.join(_NON_WORD.sub(' ', text).split())} "


def _names(sub: Subgraph, eid: str) -> list[str]:
    entity: Entity | None = sub.entities.get(eid)
    return [eid] if entity is None else [entity.name, *entity.aliases, eid]


def _name(sub: Subgraph, eid: str) -> str:
    entity = sub.entities.get(eid)
    return entity.name if entity else eid


def _best_path(paths: Iterable[Path], end: str) -> Path | None:
    return next((p for p in paths if p.end == end), None)


def _sources(facts: Iterable[Fact]) -> list[Provenance]:
    seen: dict[tuple, Provenance] = {}
    for f in facts:
        for p in f.provenance:
            seen.setdefault(p.key(), p)
    return list(seen.values())


def _unsupported(question: str, sub: Subgraph, why: str) -> Answer:
    return Answer(question, f"{NOT_SUPPORTED}: {why}.", [], [], False, [], 0.0, sub)


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
        words = [w.strip(".,!?:;\"'").lower() for w in said.split()]
        stop = {"he", "she", "is", "the", "a", "an", "her", "his", "of", "answer", _name(sub, sub.seeds[1]).lower()}
        text = next((w for w in words if w and w not in stop), said.strip())
        return Answer(self.question, text, list(path.facts), _sources(path.facts), True, [], path.score, sub)


def finish_relation_plans(plans: Sequence[RelationPlan], llm: Generator | None) -> list[Answer]:
    """Answers of ``plans``: the prompts of all of them go to ``llm`` in one batched call."""
    pending = [p for p in plans if p.answer is None]
    if pending and llm is None:
        raise ConfigError("these relation plans need a language model")
    said = llm.chat([p.prompt for p in pending], max_new_tokens=8) if pending else []
    replies = dict(zip(map(id, pending), said))
    return [p.answer if p.answer is not None else p.finish(replies[id(p)]) for p in plans]
