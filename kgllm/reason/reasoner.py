"""Question -> grounded, cited :class:`~kgllm.types.Answer`: the one answer pipeline of kgllm.

Every entry point (the library, ``kgllm ask``, the explorer, the evaluations) asks through
:meth:`Reasoner.ask_many`, which runs each question through the same steps:

1. **analysis** (:mod:`kgllm.reason.analysis`): the entities it names, the relation it asks
   (its predicate), the kind of answer (a hard constraint), its qualifiers; a yes/no question
   and a question nested in a relative clause ("the company that owns X") are read as such;
2. **evidence**: relation paths from the named entities through the graph
   (:class:`~kgllm.retrieve.subgraph.Retriever`) and, when the graph keeps its documents' text,
   the sentences that speak about those entities (:class:`~kgllm.reason.reader.DocumentReader`);
3. **candidates**: the end entities of the best paths, and the answer spans the sentences hold;
4. **support** (:mod:`kgllm.reason.support`): an answer read from text is supported only when a
   cited sentence names the question's entity, states the asked relation and holds the answer,
   of the asked kind, in the roles the question gives them; a fact of a knowledge base (no
   sentence) is its own statement, supported by the relation path that reaches it;
5. **choice**: the best supported candidate; with a language model, the model picks among the
   top candidates by constrained decoding only when the graph is unsure (see
   :class:`ReasonerConfig`), and its own wording is kept only when every claim in it is in the
   evidence (:mod:`kgllm.reason.faithful`);
6. **answer**: the text, the facts and sentences it rests on, ``supported``, ``confidence``; or,
   when nothing states an answer, ``supported=False``, the reason, and the closest facts found
   ("The text does not say: ...").

Naming how two entities relate lives in :mod:`kgllm.reason.relations`.

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

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from kgllm.errors import ConfigError, InputError
from kgllm.lm import Generator, resolve_llm
from kgllm.progress import progress as track_progress
from kgllm.reason.analysis import analyse_question
from kgllm.reason.steps import alongside, nested_parts, possessed_parts, with_time
from kgllm.reason.answers import (FACT_NUMBER, Pending, asks_place_level, chained, closest_facts, coordinated,
                                  from_candidate, listed, mentions, names_one, names_seed, not_stated,
                                  numbered_sentences, path_confidence, why_not, words_noun, worded, yes_no)
from kgllm.reason.compare import compare
from kgllm.reason.closed import AUXILIARIES, closed_answer
from kgllm.reason.reader import DocumentReader
from kgllm.reason.support import normalize_answer
from kgllm.reason.faithful import unsupported_claims
from kgllm.reason.prompts import answer_prompt, choice_prompt
from kgllm.reason.relations import RelationPlan, derived_answer, finish_relation_plans, related_pair, relation_plan
from kgllm.reason.rules import RuleSet
from kgllm.retrieve.context import build_context
from kgllm.retrieve.link import LinkedEntity, store_revision, tokenize
from kgllm.retrieve.rank import rank_answers
from kgllm.retrieve.subgraph import Retriever
from kgllm.stores.base import GraphStore
from kgllm.types import NOT_SUPPORTED, Answer, Entity, Path, Subgraph, entity_id, unique_sources

__all__ = ["Reasoner", "ReasonerConfig", "RelationPlan", "finish_relation_plans", "NOT_SUPPORTED", "path_confidence"]



@dataclass(slots=True)
class ReasonerConfig:
    """Knobs of the reasoner.

    ``llm_choices``: how many top graph candidates the LM may choose among (2: the LM can fix the
    retriever going one hop too far or stopping one hop short).
    ``llm_choice_below``: the runners-up are offered only when the graph's best candidate has a confidence
    under this (default 0.5; 1.0 offers them unless one path holds all the weight). Measured (before that rule and the constrained choice)
    trade-off: on the first 100 PQ-2H dev questions the bundled 135M model's picks score 0.90
    Hits@1 against 0.96 for the graph's own; set 1 to let the graph pick and the LM only word
    the answer, and measure any choice with ``kgllm eval kgqa --llm``.
    ``context_tokens``: token budget of the facts block in the prompt.
    ``temperature``: of the softmax over the scores of the distinct relation paths that gives an answer's
    ``confidence`` (the share of that mass on paths reaching the chosen answer).
    ``min_confidence``: answers less confident than this are marked unsupported (their text says so).
    ``constrained``: with an LM that can choose (``choose(conversations, options)``, as
    :class:`~kgllm.lm.LocalLM`), the model picks one of the top candidates' names by constrained decoding
    instead of writing free text; free text is checked against the evidence either way
    (:mod:`kgllm.reason.faithful`).
    ``rules``: rule files (:mod:`kgllm.reason.rules`; a bare name such as ``"kinship"`` is a file shipped in
    :mod:`kgllm.rules`, anything else a path) applied when a question asks a relation the retrieved paths
    lack, or the graph finds no answer: the answer is a derived fact, citing the facts it rests on.
    "How is A related to B?" tries them first on a family path. Default none: answers are the graph's own.
    ``text_choice_margin``: answers read from text are offered to the model's choice when they are supported and
    score within this of the best (up to ``llm_choices`` of them); otherwise the best one is the answer.
    """

    llm_choices: int = 2
    llm_choice_below: float = 0.5
    context_tokens: int = 600
    max_new_tokens: int = 40
    temperature: float = 0.1
    min_confidence: float = 0.0
    constrained: bool = True
    rules: Sequence[str] = field(default_factory=tuple)
    text_choice_margin: float = 0.2

    def __post_init__(self) -> None:
        for name in ("llm_choices", "context_tokens", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ReasonerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.temperature > 0:
            raise ConfigError(f"ReasonerConfig.temperature must be > 0, got {self.temperature}")
        for name in ("min_confidence", "llm_choice_below"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"ReasonerConfig.{name} must be in [0, 1], got {getattr(self, name)}")


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
        self.rules: RuleSet | None = RuleSet.load(*self.config.rules) if self.config.rules else None
        self.reader = DocumentReader(store, embedder=getattr(self.retriever, "embedder", None)
                                     if retriever is not None else None)
        self._texts: bool | None = None
        self._texts_revision: Any = None

    def ask(self, question: str, on_token: Callable[[str], None] | None = None) -> Answer:
        """Answer one question (see :meth:`ask_many`).

        ``on_token`` receives the answer's text once it has been checked against the evidence
        (never text that is later withdrawn).
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
        if subgraphs is not None and len(subgraphs) != len(questions):
            raise InputError(f"{len(subgraphs)} subgraphs for {len(questions)} questions: expected one per question")
        answers: list[Answer | None] = []
        pending: list[Pending] = []
        for i, q in enumerate(track_progress(questions, "questions", enabled=progress)):
            ans, plan = self._answer(q, subgraphs[i] if subgraphs is not None else None)
            answers.append(ans)
            if plan is not None:
                plan.index = i
                pending.append(plan)
        if self.llm is not None and pending:
            self._with_model(questions, pending, answers)
        for p in pending:
            if answers[p.index] is None:  # no model: the graph's best candidate
                answers[p.index] = self._decide(questions[p.index], p.sub, p.ranked, None, None) if p.sub \
                    is not None else p.answers[0]
        done = [a for a in answers if a is not None]
        if on_token is not None and len(done) == 1:  # only checked text is shown
            on_token(done[0].text)
        return done

    def _answer(self, question: str, sub: Subgraph | None = None, depth: int = 0
                ) -> tuple[Answer | None, Pending | None]:
        """One question through the pipeline (see the module docstring): the answer, and what the language
        model may still choose among or word (None when it has nothing to do)."""
        texts = self._has_texts()
        analysis = analyse_question(question, self.retriever.linker, limit=4) if texts else None
        yes_no_question = bool(tokenize(question)[:1]) and tokenize(question)[0] in AUXILIARIES
        cands: list[Any] = []
        if analysis is not None:  # the documents' sentences first: an answer must be stated there
            if yes_no_question:  # answered Yes only when a sentence states it; never by a span
                checked = yes_no(question, analysis, self.reader, sub or Subgraph(seeds=analysis.seed_ids))
                return checked or not_stated(question, ["a yes/no question about one entity is not checked"], [],
                                             sub or Subgraph(seeds=analysis.seed_ids)), None
            compared = compare(question, analysis, self.reader, sub or Subgraph(seeds=analysis.seed_ids))
            if compared is not None:
                return compared, None
            parts = nested_parts(question) if depth < 2 else None
            if parts is not None:
                inner, _ = self._answer(parts[0], None, depth + 1)
                if inner is not None and inner.supported:
                    resolved = with_time(parts[0], parts[1]).format(inner.text)
                    outer, _ = self._answer(resolved, None, depth + 1)
                    if outer is not None:
                        return _offered(chained(question, resolved, inner, outer))
                # the clause says which one is meant; an answer that does not check it is not supported
                sub = sub or Subgraph(seeds=analysis.seed_ids)
                why = [f"{parts[0]}: " + "; ".join((inner.reasons if inner is not None else ()) or ("not stated",))]
                return not_stated(question, why, [], sub, closest_facts([], sub)), None
            cands = self.reader.candidates(analysis)
            good = [c for c in cands if c.supported]
            parts = possessed_parts(question) if depth < 2 else None
            if parts is not None and names_seed(parts, analysis.seed_ids, self.store):
                parts = None  # "the Corvid diffractometer" is a thing's name, not a relation to Corvid
            if parts is not None:  # "Where does Hannah's husband come from?": who is her husband, then where
                inner, _ = self._answer(parts.inner, None, depth + 1)
                if inner is not None and inner.supported and names_one(inner.text, parts.name):
                    resolved = parts.outer.format(inner.text)
                    outer, _ = self._answer(resolved, None, depth + 1)
                    if outer is not None and outer.supported:
                        return _offered(chained(question, resolved, inner, outer))
                found = inner is not None and inner.supported and names_one(inner.text, parts.name)
                if not found and parts.name:  # "Tobias's cousin Simon": the name alone says who is meant
                    named, _ = self._answer(parts.outer.format(parts.name), None, depth + 1)
                    if named is not None and named.supported:
                        return _offered(replace(named, question=question))
                if good and not (names_one(inner.text, good[0].text) if found else words_noun(good[0].sentence, parts.noun)):
                    # the best answer is not the one meant (when the text says who that is) or its sentence does
                    # not word the relation ("its first product was released in 2001" would): the possessor's
                    # facts do not answer
                    sub = sub or Subgraph(seeds=analysis.seed_ids)
                    phrase = parts.inner.split(' ', 2)[2].rstrip('?')
                    why = [f"{phrase} is {inner.text}, but nothing stated answers: {resolved}" if found else
                           f"who {phrase} is"]
                    return not_stated(question, why, cands, sub, closest_facts(cands, sub)), None
            climb = next((c for c in cands if (c.supported or c.nearly) and c.fitness < 2), None) \
                if depth < 2 and asks_place_level(analysis) and (not good or good[0].fitness < 2) else None
            if climb is not None:  # "which country": the text names a place; which country is that place in?
                resolved = f"In which {sorted(analysis.want.nouns)[0]} is {climb.text}?"
                outer = self._contained(resolved, climb)
                if outer is not None:
                    first = from_candidate(question, climb, self.store, Subgraph(seeds=analysis.seed_ids))
                    return _offered(chained(question, resolved, first, outer))
            if good:
                options = [c for c in good if c.score >= good[0].score - self.config.text_choice_margin]
                options = list({normalize_answer(c.text): c for c in reversed(options)}.values())[::-1]
                made = [from_candidate(question, c, self.store, sub or Subgraph(seeds=analysis.seed_ids), good)
                        for c in options[: self.config.llm_choices]]
                together = coordinated(good[0], good) if not alongside(question) else []
                if together:  # "founded by A and B": every answer the sentence gives
                    made[0] = listed(made[0], [from_candidate(question, c, self.store, made[0].subgraph)
                                               for c in together])
                return made[0], Pending(answers=made, context=numbered_sentences(made))
        if sub is None:
            sub = self.retriever.retrieve(question)
        closed = closed_answer(self.retriever, question) if not (texts and yes_no_question) else None
        derived = self._by_rules(question, sub) if self.rules is not None and closed is None else None
        if derived is not None:  # the rules derive the relation asked, which no retrieved path holds
            return derived, None
        if closed is not None:  # yes/no, or a choice among entities the question names
            if closed.supported and closed.text not in ("Yes", "No") and closed.subgraph is not None:
                closed.confidence = path_confidence(closed.subgraph, closed.entities[0], self.config.temperature)
            return closed, None
        ranked = rank_answers(sub)
        best = _best_path(sub.paths, ranked[0][0]) if ranked else None
        if not sub.seeds:
            return Answer.unsupported(question, "no entity of the question is in the graph", sub), None
        if ranked and sub.facts and (not texts or (best is not None and not _from_text(best.facts))):
            context, _ = build_context(sub, max_tokens=self.config.context_tokens)
            return None, Pending(sub=sub, ranked=ranked, context=context)
        if analysis is not None:
            why = why_not(analysis, cands, sub)
            return not_stated(question, why, cands, sub, closest_facts(cands, sub)), None
        return Answer.unsupported(question, "no relevant facts were found around "
                                  + ", ".join(sub.name(s) for s in sub.seeds), sub), None

    def _contained(self, question: str, place: Any) -> Answer | None:
        """The supported answer to "In which <level> is <place>?": a place the text puts it in ("X is a town in
        Y", "X is located in Y") or makes it part of ("X is the capital of Y")."""
        analysis = analyse_question(question, self.retriever.linker, limit=4)
        if place.entity is not None and place.entity not in analysis.seed_ids:
            analysis.seeds = [LinkedEntity(place.entity, place.text.lower(), 1.0, "answer")]
        analysis = replace(analysis, predicate=("in", "of"), forms=(), context=(), context_pos=(), seed_role="",
                           wh_role="")
        good = [c for c in self.reader.candidates(analysis) if c.supported]
        return from_candidate(question, good[0], self.store, Subgraph(seeds=analysis.seed_ids)) if good else None

    def _with_model(self, questions: Sequence[str], pending: list[Pending], answers: list[Answer | None]) -> None:
        """The language model's part: it chooses among the top candidates (constrained decoding) where the
        graph or the text offers more than one, or words the answer; every model call is one batch."""
        choose = getattr(self.llm, "choose", None) if self.config.constrained else None
        graph = [p for p in pending if p.sub is not None]
        text = [p for p in pending if p.sub is None]
        if callable(choose):
            options = [self._options(p.sub, p.ranked) for p in graph]
            asks = [(p, opts) for p, opts in zip(graph, options)]
            asks += [(p, [a.text for a in p.answers]) for p in text]
            convs = [choice_prompt(questions[p.index], p.context, opts) for p, opts in asks]
            picks = list(choose(convs, [opts for _, opts in asks])) if asks else []
            for (p, opts), pick in zip(asks, picks):
                if p.sub is not None:
                    answers[p.index] = self._decide(questions[p.index], p.sub, p.ranked, None, pick)
                else:
                    chosen = p.answers[pick] if pick is not None and 0 <= pick < len(p.answers) else p.answers[0]
                    chosen.generated = chosen.text
                    answers[p.index] = chosen
            return
        convs = [answer_prompt(questions[p.index], p.context) for p in pending]
        said = list(self.llm.chat(convs, max_new_tokens=self.config.max_new_tokens))
        for p, words in zip(pending, said):
            if p.sub is not None:
                answers[p.index] = self._decide(questions[p.index], p.sub, p.ranked, words, None)
            else:
                answers[p.index] = worded(p.answers[0], words, questions[p.index])

    def _has_texts(self) -> bool:
        """Whether the store keeps the text of some document (then answers are read off sentences)."""
        revision = store_revision(self.store)
        if self._texts is None or revision != self._texts_revision:
            documents = getattr(self.store, "documents", None)
            self._texts = bool(callable(documents) and any(d.text for d in documents()))
            self._texts_revision = revision
        return self._texts

    def _options(self, sub: Subgraph, ranked: list[tuple[str, float]]) -> list[str]:
        """Names of the top ``llm_choices`` candidates, distinct, as the model may write them.

        When enough of the paths' weight already reaches the graph's best candidate (its :func:`path_confidence` is
        at least ``llm_choice_below``), that candidate is the only option: a small model choosing between a
        well-supported answer and a weak runner-up is more often wrong than the graph.
        """
        names: list[str] = []
        limit = self.config.llm_choices
        if ranked and path_confidence(sub, ranked[0][0], self.config.temperature) >= self.config.llm_choice_below:
            limit = 1
        for eid, _ in ranked[:limit]:
            name = sub.name(eid)
            if name not in names:
                names.append(name)
        return names

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
        return relation_plan(self.store, self.llm, source, target, question, max_hops, self.rules)

    def _by_rules(self, question: str, sub: Subgraph) -> Answer | None:
        """The answer the rules give: "How is A related to B?" names a derived relation; other questions
        asking a relation no retrieved path holds are answered from derived facts (None: the graph answers)."""
        assert self.rules is not None
        pair = related_pair(question)
        if pair is not None:
            ids = [self._entity(name) for name in pair]
            if None not in ids and ids[0] != ids[1]:
                plan = self.relation_plan(ids[1], ids[0], question)
                if plan.answer is not None and plan.answer.supported:
                    return plan.answer
        return derived_answer(self.store, self.rules, question, sub)

    def _entity(self, name: str) -> str | None:
        """The id of the entity ``name`` names: as written, else the store's best match."""
        if self.store.get_entity(entity_id(name)) is not None:
            return entity_id(name)
        found = self.store.find_entities(name, limit=1)
        return found[0].id if found else None

    def _decide(self, question: str, sub: Subgraph, ranked: list[tuple[str, float]],
                generated: str | None, pick: int | None = None) -> Answer:
        """The candidate the LM chose or names among the top ``llm_choices`` (else the graph's best), cited.

        Free text is kept only when it names the chosen candidate and every name, number and date in
        it is in the cited facts or their sentences; otherwise the answer is composed from the facts.
        """
        choice, score = ranked[0]
        if pick is not None:
            options = self._options(sub, ranked)
            chosen = options[pick] if 0 <= pick < len(options) else options[0]
            choice, score = next(((e, s) for e, s in ranked if sub.name(e) == chosen), (choice, score))
            generated = chosen
        text = " ".join(FACT_NUMBER.sub("", generated or "").split())
        if text and pick is None:
            said = entity_id(text)
            for eid, s in ranked[: self.config.llm_choices]:
                if any(mentions(said, entity_id(n)) for n in _names(sub, eid)):
                    choice, score = eid, s
                    break
        path = _best_path(sub.paths, choice)
        facts = list(path.facts) if path else [f for f in sub.facts if choice in (f.subject, f.object)][:1]
        if (not text or not any(mentions(entity_id(text), entity_id(n)) for n in _names(sub, choice))
                or unsupported_claims(text, facts, sub, question)):
            text = sub.name(choice)
        entities = [choice] + [e for e, _ in ranked if e != choice]
        confidence = path_confidence(sub, choice, self.config.temperature)
        if confidence < self.config.min_confidence:
            why = f"the best answer, {sub.name(choice)}, has confidence {confidence:.2f} only"
            low = Answer.unsupported(question, why, sub)
            low.facts, low.sources, low.entities, low.confidence = facts, unique_sources(facts), entities, confidence
            return low
        return Answer(question, text, facts, unique_sources(facts), True, entities, confidence, sub, generated)


def _names(sub: Subgraph, eid: str) -> list[str]:
    entity: Entity | None = sub.entities.get(eid)
    return [eid] if entity is None else [entity.name, *entity.aliases, eid]


def _offered(answer: Answer) -> tuple[Answer, Pending | None]:
    """A finished answer, offered to the model to word (when supported: the model then says it in its words)."""
    return answer, (Pending(answers=[answer], context=numbered_sentences([answer])) if answer.supported else None)


def _from_text(facts: Iterable[Any]) -> bool:
    """Whether facts were read from sentences (then the sentences must state the answer)."""
    return any(p.sentence for f in facts for p in f.provenance)


def _best_path(paths: Iterable[Path], end: str) -> Path | None:
    return next((p for p in paths if p.end == end), None)
