"""Text -> graph -> answer evaluation (CLUTRR-style kinship questions).

Each item is a short story, a question such as "How is Mira related to Omar?", the gold answers (a
kinship term) and the gold triples. For every story kgllm builds a fresh graph from the text alone
with the rule extractor (pronoun genders on), links the question's two entities and answers:

1. by the kinship rules (:func:`kgllm.reason.kinship.kinship_answer` over the built-in
   ``graphs/rules/kinship.rules``): the story's kinship facts, inverted and composed with the genders
   the text gives, until the rules name how the second person relates to the first;
2. else with :func:`kgllm.reason.relations.relation_plan` (a family path composed, or the LM).

Scores
    * ``accuracy``, and ``by_hops`` (accuracy per hop count and per bucket ``2-4`` / ``5-10``);
    * ``extraction``: the graph's kinship triples (the kinship terms are the schema: other
      relations are not counted) against the gold triples, strict and relaxed P/R/F1 with the scorer
      of :mod:`kgllm.eval.extraction`;
    * ``proof``: the kinship facts of the answer's derivation (each step named with its term, read
      from the first query person towards the second, the answer itself left out) against the gold
      triples. CLUTRR's gold triples are such a proof: the chain from the first query person to the
      second plus the relations composed on the way, which is why a graph read off the text
      cannot match them all (a text says "Ann's son Bo", the chain may need "Bo's mother Ann").
"""

from __future__ import annotations

import os
from typing import Any

from kgllm.errors import InputError
from kgllm.eval.extraction import score_triples
from kgllm.extract.rules import RuleExtractor
from kgllm.graph import KnowledgeGraph
from kgllm.loaders import iter_jsonl
from kgllm.lm import Generator, resolve_llm
from kgllm.progress import progress as track_progress
from kgllm.reason.kinship import KIN_TERMS, kin_facts
from kgllm.reason.reasoner import Reasoner, ReasonerConfig
from kgllm.reason.relations import RelationPlan, finish_relation_plans
from kgllm.reason.rules import Inference
from kgllm.retrieve.link import EntityLinker
from kgllm.types import Answer, Document, Fact, entity_id

__all__ = ["evaluate_textgraph", "proof_triples"]

_NAMED = {"parent": ("father", "mother"), "child": ("son", "daughter"), "sibling": ("brother", "sister"),
          "spouse": ("husband", "wife"), "grandparent": ("grandfather", "grandmother"),
          "grandchild": ("grandson", "granddaughter"), "pibling": ("uncle", "aunt"), "nibling": ("nephew", "niece"),
          "parent-in-law": ("father-in-law", "mother-in-law"), "child-in-law": ("son-in-law", "daughter-in-law"),
          "sibling-in-law": ("brother-in-law", "sister-in-law")}


def _validate(path: os.PathLike[str] | str, lineno: int, obj: dict[str, Any]) -> None:
    for key in ("text", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise InputError(f"{path}:{lineno}: expected a non-empty string field {key!r}")
    answers = obj.get("answers")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise InputError(f"{path}:{lineno}: expected 'answers' as a non-empty list of strings")
    triples = obj.get("triples", [])
    if not isinstance(triples, list) or not all(isinstance(t, list) and len(t) == 3 for t in triples):
        raise InputError(f"{path}:{lineno}: expected 'triples' as a list of [subject, relation, object]")


def proof_triples(answer: Fact, inference: Inference) -> list[Fact]:
    """Kinship-term facts of ``answer``'s derivation, each neutral step named (the answer left out).

    >>> from kgllm.reason.kinship import kinship_answer
    >>> fact, why = kinship_answer([Fact("al", "son", "bo"), Fact("bo", "son", "cy"), Fact("cy", "son", "di")],
    ...                            "al", "di")
    >>> fact.relation, [f.as_line() for f in proof_triples(fact, why)]
    ('great-grandson', ['al --son--> bo', 'bo --son--> cy', 'cy --son--> di', 'bo --grandson--> di'])
    """
    out: dict[tuple[str, str, str], Fact] = {}
    terms = set(KIN_TERMS)
    for f in inference.steps(answer):
        if f is answer or (f.subject, f.object) == (answer.subject, answer.object):
            continue
        names = [f.relation] if f.relation in terms else [w for w in _NAMED.get(f.relation, ())]
        for name in names:
            named = inference.get(f.subject, name, f.object)
            if named is not None:
                out.setdefault((f.subject, name, f.object), named)
    return list(out.values())


def evaluate_textgraph(path: os.PathLike[str] | str, limit: int | None = None, progress: bool = False,
                       llm: Generator | str | None = "auto") -> dict[str, Any]:
    """Accuracy of kinship answers (overall and by hops), extraction and proof P/R/F1 over a textgraph file.

    Graphs are built story by story; questions the kinship rules cannot answer go to the LM
    (default: the local batched engine; or an OpenAI-compatible server URL; ``None``: answer from
    the graph alone) in one batch. ``progress`` shows a bar counting stories.
    Returns ``{"n", "accuracy", "by_hops", "answered_by_rules", "extraction": {"strict", "relaxed"},
    "proof": {"strict", "relaxed"}}``.
    """
    items = []
    for lineno, obj in iter_jsonl(path):
        _validate(path, lineno, obj)
        items.append((lineno, obj))
        if limit is not None and len(items) >= limit:
            break
    model = resolve_llm(llm)
    extractor = RuleExtractor(genders=True, kinship=True)
    plans: list[tuple[RelationPlan, int]] = []
    by_rules = 0
    answers: dict[int, Answer] = {}
    counts = {k: {"strict": [0, 0, 0], "relaxed": [0, 0, 0]} for k in ("extraction", "proof")}
    for k, (lineno, obj) in enumerate(track_progress(items, "stories", enabled=progress)):
        kg = KnowledgeGraph(extractor=extractor, resolver=None)   # one story: names are exact, no fuzzy merging
        kg.ingest([Document(f"{obj.get('id', 'story')}:{lineno}", obj["text"])])
        names = {e.id: e.name for e in kg.store.entities()}
        facts = list(kg.store.facts())
        predicted = [(names.get(f.subject, f.subject), f.relation, names.get(f.object, f.object))
                     for f in kin_facts(facts)]
        gold = [tuple(t) for t in obj.get("triples", [])]
        _add(counts["extraction"], score_triples(predicted, gold))
        links = EntityLinker(kg.store).link(obj["question"], limit=2)
        proof: list[tuple[str, str, str]] = []
        if len(links) == 2:
            # "How is A related to B?": A is the answer relation of B, asked as users ask (Reasoner.relation).
            a, b = sorted(links, key=lambda x: x.span)
            plan = Reasoner(kg, llm=model, config=ReasonerConfig(rules=("kinship",))).relation_plan(
                b.entity_id, a.entity_id, obj["question"])
            if plan.answer is not None and plan.inference is not None:
                by_rules += 1
                said = plan.answer.facts[0]
                fact = plan.inference.get(said.subject, said.relation, said.object)
                answers[k] = plan.answer
                proof = [(names.get(f.subject, f.subject), f.relation, names.get(f.object, f.object))
                         for f in proof_triples(fact, plan.inference)]
            else:
                plans.append((plan, k))
        _add(counts["proof"], score_triples(proof, gold))
    for answer, (_, k) in zip(finish_relation_plans([p for p, _ in plans], model), plans):
        answers[k] = answer
    hits: dict[str, list[int]] = {}
    for k, (_, obj) in enumerate(items):
        answer = answers.get(k)
        ok = int(answer is not None and answer.supported
                 and entity_id(answer.text) in {entity_id(x) for x in obj["answers"]})
        hops = obj.get("hops")
        keys = ["all"] + ([str(hops), "2-4" if hops <= 4 else "5-10"] if isinstance(hops, int) else [])
        for key in keys:
            hits.setdefault(key, [0, 0])[0] += ok
            hits[key][1] += 1
    n = len(items)
    by_hops = {key: {"n": t, "accuracy": c / t} for key, (c, t) in sorted(hits.items(), key=_hop_order)
               if key != "all"}
    return {"n": n, "accuracy": hits["all"][0] / n if n else 0.0, "by_hops": by_hops,
            "answered_by_rules": by_rules,
            **{name: {mode: _prf(*c) for mode, c in modes.items()} for name, modes in counts.items()}}


def _hop_order(kv: tuple[str, list[int]]) -> tuple[int, int]:
    key = kv[0]
    return (1, int(key.split("-")[0])) if "-" in key else (0, int(key)) if key.isdigit() else (2, 0)


def _add(counts: dict[str, list[int]], scored: dict[str, tuple[int, int, int]]) -> None:
    for mode, c in scored.items():
        for i, v in enumerate(c):
            counts[mode][i] += v


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
