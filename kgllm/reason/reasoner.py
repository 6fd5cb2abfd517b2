"""Question -> retrieved subgraph -> grounded, cited :class:`~kgllm.types.Answer`.

The graph proposes, the language model chooses and words: retrieval ranks
candidate answer entities by the relation paths that reach them; the LM reads
the numbered facts and answers; its answer is accepted only when it names one
of the top candidates, otherwise the best-supported candidate is returned. Every
answer carries the facts of the path that supports it and their source
sentences, entities shown by their names as written; the model's own completion
is kept apart (:attr:`~kgllm.types.Answer.generated`). When no entity of the
question is in the graph, or no path leads anywhere, the answer says the graph
does not support one. Naming how two entities relate lives in
:mod:`kgllm.reason.relations`.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Entity, Fact, GraphDelta, Provenance
>>> store = MemoryStore()
>>> p = Provenance("bio", 0, 0, 31, "rules", "Marie Curie was born in Warsaw.")
>>> _ = store.upsert(GraphDelta(entities=[Entity.from_name("Marie Curie"), Entity.from_name("Warsaw")],
...                             facts=[Fact("marie curie", "born_in", "warsaw", provenance=(p,))]))
>>> ans = Reasoner(store, llm=None).ask("Where was Marie Curie born?")
>>> ans.text, ans.supported, ans.sources[0].sentence
('Warsaw', True, 'Marie Curie was born in Warsaw.')
>>> print(ans.cite())
Warsaw
  [1] Marie Curie --born_in--> Warsaw
      source bio:0-31 "Marie Curie was born in Warsaw."
>>> Reasoner(store, llm=None).ask("Who founded Atlantis?").supported
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from kgllm.errors import ConfigError, InputError
from kgllm.lm import Generator, StreamingGenerator, resolve_llm
from kgllm.progress import progress as track_progress
from kgllm.reason.prompts import answer_prompt
from kgllm.reason.relations import RelationPlan, finish_relation_plans, relation_plan
from kgllm.retrieve.context import build_context
from kgllm.retrieve.rank import rank_answers
from kgllm.retrieve.subgraph import Retriever
from kgllm.stores.base import GraphStore
from kgllm.types import NOT_SUPPORTED, Answer, Entity, Path, Subgraph, entity_id, unique_sources

__all__ = ["Reasoner", "ReasonerConfig", "RelationPlan", "finish_relation_plans", "NOT_SUPPORTED"]

_FACT_NUMBER = re.compile(r"\[\d+\]\s*")


@dataclass(slots=True)
class ReasonerConfig:
    """Knobs of the reasoner.

    ``llm_choices``: how many top graph candidates the LM may choose among (2: the LM can fix the
    retriever going one hop too far or stopping one hop short). Measured
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
        a :class:`~kgllm.lm.Generator`, or ``None`` to answer from the graph alone (fast;
        used by the KGQA evaluation). See :func:`kgllm.lm.resolve_llm`.
    """

    def __init__(self, graph: Any, llm: Generator | str | None = "auto", retriever: Retriever | None = None,
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
                 on_token: Callable[[str], None] | None = None,
                 subgraphs: Sequence[Subgraph] | None = None) -> list[Answer]:
        """Answer questions; the LM runs over all of them together (continuous batching).

        ``subgraphs``: what :meth:`Retriever.retrieve` already returned for each question (not
        retrieved again). ``progress`` shows a bar counting questions retrieved; the LM's own
        bar (``LocalLM(progress=True)``) counts the answers generated.
        """
        for q in questions:
            if not isinstance(q, str) or not q.strip():
                raise InputError("empty question: nothing to answer")
        if subgraphs is None:
            subgraphs = [self.retriever.retrieve(q) for q in track_progress(questions, "questions", enabled=progress)]
        elif len(subgraphs) != len(questions):
            raise InputError(f"{len(subgraphs)} subgraphs for {len(questions)} questions: expected one per question")
        answers: list[Answer | None] = []
        pending: list[tuple[int, Subgraph, list[tuple[str, float]], str]] = []
        for i, (q, sub) in enumerate(zip(questions, subgraphs)):
            ranked = rank_answers(sub)
            if not sub.seeds:
                answers.append(Answer.unsupported(q, "no entity of the question is in the graph", sub))
            elif not ranked or not sub.facts:
                answers.append(Answer.unsupported(q, "no relevant facts were found around "
                                                  + ", ".join(sub.name(s) for s in sub.seeds), sub))
            else:
                answers.append(None)
                context, _ = build_context(sub, max_tokens=self.config.context_tokens)
                pending.append((i, sub, ranked, context))
        texts: list[str | None] = [None] * len(pending)
        if self.llm is not None and pending:
            convs = [answer_prompt(questions[i], context) for i, _, _, context in pending]
            texts = list(self._generate(convs, self.config.max_new_tokens, on_token))
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

    # ------------------------------------------------------------ relation naming (kgllm.reason.relations)
    def relation(self, source: str, target: str, question: str | None = None, max_hops: int = 6) -> Answer:
        """How ``target`` relates to ``source``: a relation name, read off the graph or worded by the LM.

        See :mod:`kgllm.reason.relations`; :meth:`relations` answers many pairs at once.
        """
        return self.relations([(source, target, question)], max_hops=max_hops)[0]

    def relations(self, pairs: Sequence[tuple[str, str, str | None]], max_hops: int = 6) -> list[Answer]:
        """:meth:`relation` for many ``(source, target, question)`` triples; the LM runs over all together."""
        plans = [self.relation_plan(s, t, q, max_hops) for s, t, q in pairs]
        return finish_relation_plans(plans, self.llm)

    def relation_plan(self, source: str, target: str, question: str | None = None,
                      max_hops: int = 6) -> RelationPlan:
        """The graph half of :meth:`relation`: an answer, or the LM prompt that will word it.

        Lets a caller gather prompts from many graphs and run them through the LM in one batch
        (:func:`~kgllm.reason.relations.finish_relation_plans`).
        """
        return relation_plan(self.store, self.llm, source, target, question, max_hops)

    def _decide(self, question: str, sub: Subgraph, ranked: list[tuple[str, float]],
                generated: str | None) -> Answer:
        """The candidate the LM's text names among the top ``llm_choices`` (else the graph's best), cited."""
        choice, score = ranked[0]
        text = " ".join(_FACT_NUMBER.sub("", generated or "").split())
        if text:
            said = entity_id(text)
            for eid, s in ranked[: self.config.llm_choices]:
                if any(_mentions(said, entity_id(n)) for n in _names(sub, eid)):
                    choice, score = eid, s
                    break
        if not text or not any(_mentions(entity_id(text), entity_id(n)) for n in _names(sub, choice)):
            text = sub.name(choice)
        path = _best_path(sub.paths, choice)
        facts = list(path.facts) if path else [f for f in sub.facts if choice in (f.subject, f.object)][:1]
        entities = [choice] + [e for e, _ in ranked if e != choice]
        return Answer(question, text, facts, unique_sources(facts), True, entities, score, sub, generated)


_NON_WORD = re.compile(r"[^\w']+")


def _mentions(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text`` as whole words (punctuation and quotes ignored)."""
    words = _NON_WORD.sub(" ", name).split()
    return bool(words) and f" {' '.join(words)} " in f" {' '.join(_NON_WORD.sub(' ', text).split())} "


def _names(sub: Subgraph, eid: str) -> list[str]:
    entity: Entity | None = sub.entities.get(eid)
    return [eid] if entity is None else [entity.name, *entity.aliases, eid]


def _best_path(paths: Iterable[Path], end: str) -> Path | None:
    return next((p for p in paths if p.end == end), None)
