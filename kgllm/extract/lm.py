"""The local model as an extractor, batched through the engine, under constrained decoding.

:class:`LMExtractor` reads each sentence (chunk) of each document with the
language model. Two tasks:

``task="generate"``
    The model writes the sentence's facts as a JSON triple list. On the local
    engine the output is constrained (:mod:`kgllm.extract.constrained`): it is
    always valid JSON, the relation is one of the schema's relations, and the
    subject and object are spans of the sentence (:func:`candidate_spans`:
    named entities, noun chunks, proper-noun runs, numbers and content-word
    n-grams). Without a schema the relation is a span of the sentence too.
``task="verify"``
    The rules (:class:`~kgllm.extract.rules.RuleExtractor`) propose
    (subject, phrase, object) candidates; for each, the model makes a
    constrained choice among the schema relations the embedding typer ranks
    highest (``top_k``; all when None) and ``"none"``, which drops it. This
    suits a small model better than free generation.

Every sentence's prompt (relations first, so sentences under one schema share
a cached prefix, then the most similar demonstrations from a
:class:`~kgllm.extract.demos.DemoBank`, then the sentence) goes into one engine
call: all requests are batched together (``batch=False`` runs them one at a
time, for comparison). The schema of a document is ``document.metadata["schema"]``
when set, else the extractor's ``schema``.

With a model that is not the local engine (an OpenAI-compatible server) the
output cannot be constrained while decoding; it is parsed leniently and
filtered to the same rules afterwards (spans of the sentence, schema relations).

Failures
    Never raises on text. A document whose text is empty or unreadable is in
    ``skipped``; when the model fails (a failed engine step, a server error),
    the sentences it did not finish give no facts and their documents are
    listed in ``skipped`` with the reason (``"language model failed: ..."``).

:func:`make_extractor` builds the extractor of a mode: ``rules``, ``lm``,
``hybrid`` (:class:`HybridExtractor`: the rules' facts plus the model's) or ``trained``
(:class:`~kgllm.extract.trained.TrainedExtractor`: a relation model trained with
``kgllm train extraction``, read from ``model_dir``; the rules on documents without a schema).

Examples
--------
>>> from kgllm.resources import get_nlp
>>> spans = candidate_spans(get_nlp()("Claire Martin founded Atelier Nord in 2004."))
>>> [s for s in ("Claire Martin", "Atelier Nord", "2004") if s in spans]
['Claire Martin', 'Atelier Nord', '2004']
>>> make_extractor("rules").name
'rules'
"""

from __future__ import annotations

import contextlib
from typing import Any, Sequence

from kgllm.errors import ConfigError, InputError
from kgllm.extract.base import ExtractionResult, SkippedDocument
from kgllm.extract.constrained import ChoiceGrammar, TripleGrammar, candidate_spans, parse_triples
from kgllm.extract.demos import DemoBank, format_facts
from kgllm.schema import Schema
from kgllm.types import Document, Entity, Fact, GraphDelta, Provenance, entity_id

__all__ = ["LMExtractor", "HybridExtractor", "make_extractor", "candidate_spans", "MODES"]

MODES = ("rules", "lm", "hybrid", "trained")
#: The format shown to the model when no demonstrations are given (an invented sentence).
_DEFAULT_DEMO = ('Text: Mira Holt, born in Tallinn, founded the Nordlys Theatre in 1998.\nFacts: [{"s": "Mira Holt", '
                 '"r": "birthPlace", "o": "Tallinn"}, {"s": "Nordlys Theatre", "r": "founder", "o": "Mira Holt"}, '
                 '{"s": "Nordlys Theatre", "r": "foundingYear", "o": "1998"}]\n\n')
_SYSTEM = ("You extract facts from a text. Answer with a JSON list of facts {\"s\": subject, \"r\": relation, "
           "\"o\": object}, copying the subject and the object from the text.")


class LMExtractor:
    """Facts read by the language model (see the module docstring).

    Parameters
    ----------
    llm : Generator, optional
        Default the bundled model on the local engine (:class:`~kgllm.lm.LocalLM`), loaded on first use.
    schema : Schema, optional
        Relations facts may carry (a document's ``metadata["schema"]`` overrides it). Needed for ``verify``.
    task : str
        ``"generate"`` or ``"verify"``.
    demos : DemoBank, optional
        Solved examples; the ``k_demos`` most similar go into each prompt.
    max_triples, max_new_tokens : int
        Most facts per sentence, most tokens generated per sentence.
    max_relations : int, optional
        ``generate``: offer the model only this many schema relations, those closest in meaning to the
        sentence (MiniLM), closest first (None: all, in the schema's order).
    top_k : int, optional
        ``verify``: the model chooses among this many relations (ranked by the embedding typer) and ``none``.
    batch : bool
        Run all prompts through the engine together (True) or one at a time.
    """

    def __init__(self, llm: Any = None, schema: Schema | None = None, task: str = "generate",
                 demos: DemoBank | None = None, k_demos: int = 1, max_triples: int = 6, max_new_tokens: int = 120,
                 top_k: int | None = 5, batch: bool = True, nlp: Any = None, max_relations: int | None = 12) -> None:
        if task not in ("generate", "verify"):
            raise ConfigError(f"task must be 'generate' or 'verify', got {task!r}")
        self.llm, self.schema, self.task, self.demos, self.k_demos = llm, schema, task, demos, k_demos
        self.max_triples, self.max_new_tokens, self.top_k, self.batch = max_triples, max_new_tokens, top_k, batch
        self.name = "lm" if task == "generate" else "lm-verify"
        self._nlp, self._typers, self.max_relations = nlp, {}, max_relations

    # ------------------------------------------------------------------ plumbing
    @property
    def model(self) -> Any:
        if self.llm is None:
            from kgllm.lm import LocalLM

            self.llm = LocalLM()
        return self.llm

    def _engine(self) -> Any:
        """The local engine when the model runs on one (constrained decoding), else None."""
        return getattr(self.model, "engine", None)

    def _schema(self, doc: Document) -> Schema | None:
        schema = doc.metadata.get("schema") if isinstance(doc.metadata, dict) else None
        return schema if isinstance(schema, Schema) and len(schema) else self.schema

    def _prompt(self, engine: Any, user: str) -> str:
        messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]
        if engine is None:
            return user
        return engine.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _run(self, prompts: list[str], grammars: list[Any]) -> tuple[list[str | None], str]:
        """Outputs in order (None where the model failed) and the first failure's description."""
        engine = self._engine()
        outs: list[str | None] = [None] * len(prompts)
        failure = ""
        if engine is None:
            try:
                outs = list(self.model.chat([[{"role": "system", "content": _SYSTEM}, {"role": "user", "content": p}]
                                             for p in prompts], max_new_tokens=self.max_new_tokens))
            except Exception as exc:  # noqa: BLE001 - reported per document
                failure = f"{type(exc).__name__}: {exc}"
            return outs, failure
        from kgllm.engine.params import SamplingParams

        params = [SamplingParams(max_tokens=self.max_new_tokens, logits_processors=(g.processor(),)) for g in grammars]
        groups = [list(range(len(prompts)))] if self.batch else [[i] for i in range(len(prompts))]
        for group in groups:
            try:
                finished = engine.as_completed([prompts[i] for i in group], [params[i] for i in group])
                with contextlib.closing(finished):
                    for k, out in finished:
                        outs[group[k]] = out.text
            except Exception as exc:  # noqa: BLE001 - a failed step: the unfinished prompts give nothing
                failure = failure or f"{type(exc).__name__}: {exc}"
                if len(group) > 1:      # retry the unfinished ones alone: one bad prompt must not spoil the rest
                    for i in group:
                        if outs[i] is None:
                            sub, why = self._run_one(engine, prompts[i], grammars[i])
                            outs[i], failure = sub, failure or why
        return outs, failure

    def _run_one(self, engine: Any, prompt: str, grammar: Any) -> tuple[str | None, str]:
        from kgllm.engine.params import SamplingParams

        try:
            params = SamplingParams(max_tokens=self.max_new_tokens, logits_processors=(grammar.processor(),))
            return engine.generate([prompt], params)[0].text, ""
        except Exception as exc:  # noqa: BLE001
            return None, f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ extraction
    def extract(self, documents: Sequence[Document], progress: bool = False) -> ExtractionResult:
        """Facts of ``documents`` read by the model; see the module docstring for failures."""
        docs = list(documents)
        for doc in docs:
            if not isinstance(doc.text, str):
                raise InputError(f"document {doc.id!r}: text must be a str, got {type(doc.text).__name__}")
        if self.task == "verify":
            return self._verify(docs, progress)
        return self._generate(docs)

    def _sentences(self, docs: list[Document], result: ExtractionResult) -> list[tuple[Document, Any, Any]]:
        from kgllm.extract.chunk import chunk_document

        readable: list[tuple[Document, Any]] = []
        for doc in docs:
            try:
                chunks = chunk_document(doc)
            except Exception as exc:  # noqa: BLE001
                result.skipped.append(SkippedDocument(doc.id, -1, f"{type(exc).__name__}: {exc}"))
                continue
            if not chunks:
                result.skipped.append(SkippedDocument(doc.id, -1, "empty text"))
            readable.extend((doc, c) for c in chunks)
        if self._nlp is None:
            from kgllm.resources import get_nlp

            self._nlp = get_nlp()
        out = []
        for doc, chunk in readable:
            try:
                out.append((doc, chunk, self._nlp(chunk.text)))
            except Exception as exc:  # noqa: BLE001
                result.skipped.append(SkippedDocument(doc.id, chunk.index, f"{type(exc).__name__}: {exc}"))
        return out

    def _ranked(self, schema: Schema, sentence: str) -> list[str]:
        """The schema's ``max_relations`` relations closest in meaning to the sentence, closest first."""
        if self.max_relations is None or len(schema) <= self.max_relations:
            return list(schema.names)
        from kgllm.resources import get_embedder

        emb = get_embedder()
        scores = emb.encode([r.text for r in schema.relations]) @ emb.encode([sentence])[0]
        return [schema.relations[int(i)].name for i in scores.argsort()[::-1][:self.max_relations]]

    def _demo_text(self, text: str, schema: Schema | None = None) -> str:
        if self.k_demos <= 0:
            return ""
        if self.demos is None:
            return _DEFAULT_DEMO
        shots = self.demos.select(text, self.k_demos, relations=schema.names if schema is not None else None)
        return "".join(f"Text: {d.text}\nFacts: {format_facts(d.triples)}\n\n" for d in shots)

    def _generate(self, docs: list[Document]) -> ExtractionResult:
        result = ExtractionResult()
        sentences = self._sentences(docs, result)
        engine = self._engine()
        prompts, grammars, allowed = [], [], []
        for doc, chunk, sdoc in sentences:
            schema = self._schema(doc)
            spans = candidate_spans(sdoc)
            relations = self._ranked(schema, chunk.text) if schema else [s for s in spans if len(s.split()) <= 3]
            head = f"Relations: {', '.join(relations)}\n\n" if schema else ""
            prompts.append(self._prompt(engine, f"{head}{self._demo_text(chunk.text, schema)}Text: {chunk.text}\nFacts:"))
            grammars.append(TripleGrammar(engine.tokenizer, spans, relations, self.max_triples)
                            if engine is not None else None)
            allowed.append((set(spans), set(relations)))
        outs, failure = self._run(prompts, grammars) if prompts else ([], "")
        entities: dict[str, Entity] = {}
        facts: dict[tuple[str, str], Fact] = {}
        failed: dict[str, int] = {}
        for (doc, chunk, sdoc), text, (spans, relations) in zip(sentences, outs, allowed):
            if text is None:
                failed.setdefault(doc.id, chunk.index)
                continue
            labels = {e.text: e.label_ for e in sdoc.ents}
            prov = Provenance(doc.id, chunk.index, chunk.start, chunk.end, self.name, chunk.text)
            for s, r, o in parse_triples(text):
                if s not in spans or o not in spans or r not in relations or entity_id(s) == entity_id(o):
                    continue
                for name in (s, o):
                    entities.setdefault(entity_id(name), Entity(entity_id(name), name, labels.get(name, "")))
                fact = Fact(entity_id(s), r, entity_id(o), 0.6, (prov,))
                facts.setdefault((doc.id, fact.id), fact)
        for doc_id, index in failed.items():
            result.skipped.append(SkippedDocument(doc_id, index, f"language model failed: {failure or 'no output'}"))
        result.entities, result.facts = list(entities.values()), list(facts.values())
        return result

    def _typer(self, schema: Schema) -> Any:
        from kgllm.extract.typing import RelationTyper

        if schema not in self._typers:
            self._typers[schema] = RelationTyper(schema, threshold=-1.0)
        return self._typers[schema]

    def _verify(self, docs: list[Document], progress: bool) -> ExtractionResult:
        from kgllm.extract.rules import RuleExtractor

        rules = RuleExtractor(nlp=self._nlp).extract(docs, progress=progress)
        by_id = {d.id: d for d in docs}
        labels = {e.id: e.type for e in rules.entities}
        names = {e.id: e.name for e in rules.entities}
        engine = self._engine()
        jobs: list[tuple[Fact, dict[str, bool]]] = []
        prompts, grammars = [], []
        for fact in rules.facts:
            prov = fact.provenance[0] if fact.provenance else None
            doc = by_id.get(prov.doc_id) if prov else None
            schema = self._schema(doc) if doc else None
            if schema is None:
                continue
            score, swap = self._typer(schema).scores(fact.relation, labels.get(fact.subject, ""),
                                                     labels.get(fact.object, ""))
            order = score.argsort()[::-1][:self.top_k or len(score)]
            options = {schema.relations[int(i)].name: bool(swap[int(i)]) for i in order}
            s, o = names.get(fact.subject, fact.subject), names.get(fact.object, fact.object)
            user = (f"Relations: {', '.join(options)}, none\n\nText: {prov.sentence}\n"
                    f"Which relation links \"{s}\" to \"{o}\" (\"{fact.relation.replace('_', ' ')}\")?\nRelation:")
            prompts.append(self._prompt(engine, user))
            grammars.append(ChoiceGrammar(engine.tokenizer, [*options, "none"]) if engine is not None else None)
            jobs.append((fact, options))
        outs, failure = self._run(prompts, grammars) if prompts else ([], "")
        kept: list[Fact] = []
        failed: dict[str, int] = {}
        for (fact, options), text in zip(jobs, outs):
            if text is None:
                failed.setdefault(fact.provenance[0].doc_id, fact.provenance[0].chunk)
                continue
            choice = text.strip().split("\n")[0].strip(" .\"'")
            if choice not in options:
                continue
            s, o = (fact.object, fact.subject) if options[choice] else (fact.subject, fact.object)
            prov = tuple(p.__class__(p.doc_id, p.chunk, p.start, p.end, self.name, p.sentence) for p in fact.provenance)
            kept.append(Fact(s, choice, o, fact.confidence, prov))
        result = ExtractionResult(list(rules.entities), kept, list(rules.merges), list(rules.skipped))
        for doc_id, index in failed.items():
            result.skipped.append(SkippedDocument(doc_id, index, f"language model failed: {failure or 'no output'}"))
        return result


class HybridExtractor:
    """The rules' facts and the model's, together (a document is skipped only when every part skipped it).

    With ``fallback=True`` a later part's facts are kept only for sentences where the earlier parts found none
    (the model reads what the rules could not).

    >>> HybridExtractor([make_extractor("rules")]).name
    'hybrid'
    """

    name = "hybrid"

    def __init__(self, parts: Sequence[Any], fallback: bool = False) -> None:
        if not parts:
            raise ConfigError("a hybrid extractor needs at least one part")
        self.parts, self.fallback = list(parts), fallback

    def extract(self, documents: Sequence[Document], progress: bool = False) -> ExtractionResult:
        docs = list(documents)
        entities: dict[str, Entity] = {}
        facts: dict[tuple[str, ...], Fact] = {}
        merges, skipped = [], []
        read: set[tuple[str, int]] = set()          # sentences the first part found facts in
        for k, part in enumerate(self.parts):
            delta: GraphDelta = part.extract(docs, progress=progress)
            if self.fallback and k:
                kept = [f for f in delta.facts
                        if not f.provenance or (f.provenance[0].doc_id, f.provenance[0].chunk) not in read]
                used = {x for f in kept for x in (f.subject, f.object)}
                delta = GraphDelta([e for e in delta.entities if e.id in used], kept)
            read |= {(f.provenance[0].doc_id, f.provenance[0].chunk) for f in delta.facts if f.provenance}
            for e in delta.entities:
                old = entities.get(e.id)
                entities[e.id] = e if old is None or (e.type and not old.type) else old
            for f in delta.facts:
                key = (f.provenance[0].doc_id if f.provenance else "", f.id)
                if key not in facts:
                    facts[key] = f
            merges.extend(delta.merges)
            skipped.append(list(getattr(delta, "skipped", [])))
        all_parts = set.intersection(*({s.doc_id for s in part} for part in skipped))
        reported = [s for part in skipped for s in part if s.doc_id in all_parts]
        return ExtractionResult(list(entities.values()), list(facts.values()), merges,
                                list({(s.doc_id, s.reason): s for s in reported}.values()))


def make_extractor(mode: str = "rules", llm: Any = None, schema: Schema | None = None, task: str = "generate",
                   demos: DemoBank | None = None, fallback: bool = True, model_dir: Any = None,
                   **options: Any) -> Any:
    """The extractor of a mode: ``"rules"``, ``"lm"`` (:class:`LMExtractor`), ``"hybrid"`` (both) or ``"trained"``.

    ``task``, ``demos`` and ``options`` go to :class:`LMExtractor`; ``task="both"`` in hybrid mode adds the
    model's verification of the rules' candidates to its generated facts; ``fallback`` (hybrid, default) keeps the
    model's facts only for sentences the rules found nothing in (False: all of them; with the bundled 135M model
    that costs more precision than it gains recall). ``model_dir`` (``trained`` mode, required) is the folder
    ``kgllm train extraction`` wrote; a folder without a model raises ``NotFoundError``.

    >>> make_extractor("trained")
    Traceback (most recent call last):
    ...
    kgllm.errors.ConfigError: extractor mode 'trained' needs a model directory (kgllm train extraction --out DIR)
    """
    from kgllm.extract.rules import RuleExtractor

    if mode not in MODES:
        raise ConfigError(f"extractor mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "rules":
        return RuleExtractor()
    if mode == "trained":
        if model_dir is None:
            raise ConfigError("extractor mode 'trained' needs a model directory (kgllm train extraction --out DIR)")
        from kgllm.extract.trained import TrainedExtractor

        return TrainedExtractor(model_dir, schema=schema)
    if llm is None:
        from kgllm.lm import LocalLM

        llm = LocalLM()
    if mode == "lm":
        return LMExtractor(llm, schema, task if task != "both" else "generate", demos, **options)
    lm = LMExtractor(llm, schema, "generate" if task in ("generate", "both") else "verify", demos, **options)
    parts: list[Any] = [RuleExtractor(), lm]
    if task == "both":
        parts.append(LMExtractor(lm.llm, schema, "verify", demos, **options))
    return HybridExtractor(parts, fallback=fallback)
