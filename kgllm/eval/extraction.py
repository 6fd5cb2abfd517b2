"""Score extracted triples against gold triples (text -> triples datasets).

Matching rules
    * entity strings compare after :func:`~kgllm.types.entity_id` (case-folded,
      Unicode-normalised, ``_`` read as a space, whitespace collapsed, surrounding
      quotes and punctuation stripped);
    * relation names also split camelCase and read ``_``/``-`` as spaces, so
      ``birthPlace``, ``birth_place`` and ``birth place`` are one relation;
    * an item with a ``relations`` field (the allowed relation names) has its
      extracted facts typed onto them first (:class:`~kgllm.extract.typing.RelationTyper`:
      each phrase mapped to the closest allowed relation, or dropped below the
      threshold), unless ``use_schema=False``;
    * **strict**: subject, relation and object match; **relaxed**: subject and
      object match, the relation is ignored;
    * duplicates are dropped on each side, and the matching is one-to-one: each
      predicted triple counts at most once and each gold triple at most once.

Counts are micro-averaged over items (summed before dividing).

Examples
--------
>>> from kgllm.eval.extraction import score_triples, prf
>>> gold = [("Kvarnvik", "mayor", "Ines Varga"), ("Kvarnvik", "country", "Norway")]
>>> pred = [("kvarnvik", "mayor", "ines  varga"), ("kvarnvik", "located_in", "Norway"), ("x", "r", "y")]
>>> score_triples(pred, gold)
{'strict': (1, 3, 2), 'relaxed': (2, 3, 2)}
>>> prf(1, 3, 2)
{'precision': 0.3333333333333333, 'recall': 0.5, 'f1': 0.4}
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, Iterable, Sequence

from kgllm.errors import InputError
from kgllm.extract.base import ExtractionResult
from kgllm.extract.examples import iter_items, validate_item
from kgllm.schema import Schema, relation_words
from kgllm.types import Document, Fact, GraphDelta, entity_id

__all__ = ["normalize_entity", "normalize_relation", "score_triples", "prf", "delta_triples", "relation_report",
           "evaluate_extraction"]

Triple = Sequence[str]


def normalize_entity(text: str) -> str:
    """Comparable form of an entity string.

    >>> normalize_entity("  Ines_VARGA ")
    'ines varga'
    """
    return entity_id(str(text))


def normalize_relation(text: str) -> str:
    """Comparable form of a relation name (camelCase, snake_case and spaces agree).

    >>> normalize_relation("birthPlace") == normalize_relation("birth_place") == normalize_relation("Birth  place")
    True
    >>> normalize_relation("ICAOLocationIdentifier")
    'icao location identifier'
    """
    return relation_words(text)


def _matches(pred: Counter, gold: Counter) -> int:
    return sum(min(n, gold[k]) for k, n in pred.items())


def score_triples(pred: Iterable[Triple], gold: Iterable[Triple]) -> dict[str, tuple[int, int, int]]:
    """Count matches of predicted against gold triples for one item.

    Parameters
    ----------
    pred, gold : iterable of (subject, relation, object)
        Triples of strings; duplicates (after normalisation) count once.

    Returns
    -------
    dict
        ``{"strict": (tp, n_pred, n_gold), "relaxed": (tp, n_pred, n_gold)}``.
        ``relaxed`` matches on (subject, object) one-to-one, so two predicted
        relations between the same pair match at most one gold triple.
    """
    def norm(triples: Iterable[Triple]) -> list[tuple[str, str, str]]:
        out = {}
        for t in triples:
            s, r, o = t
            out[(normalize_entity(s), normalize_relation(r), normalize_entity(o))] = None
        return list(out)

    p, g = norm(pred), norm(gold)
    strict = _matches(Counter(p), Counter(g))
    relaxed = _matches(Counter((s, o) for s, _, o in p), Counter((s, o) for s, _, o in g))
    return {"strict": (strict, len(p), len(g)), "relaxed": (relaxed, len(p), len(g))}


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    """Precision, recall and F1 from counts (0.0 where undefined)."""
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def delta_triples(delta: GraphDelta) -> dict[str, list[tuple[str, str, str]]]:
    """Triples of a delta by document id, with entity ids mapped back to entity names."""
    names = {e.id: e.name for e in delta.entities}
    out: dict[str, list[tuple[str, str, str]]] = {}
    for f in delta.facts:
        triple = (names.get(f.subject, f.subject), f.relation, names.get(f.object, f.object))
        for doc in dict.fromkeys(p.doc_id for p in f.provenance):
            out.setdefault(doc, []).append(triple)
    return out


def relation_report(items: Iterable[tuple[Iterable[Triple], Iterable[Triple]]],
                    top: int = 20) -> dict[str, Any]:
    """Per-relation strict P/R/F1 and what was confused with what, over ``(predicted, gold)`` items.

    A predicted triple that misses is a *confusion* when a gold triple of the same item links the same
    subject and object under another relation (``{"gold": r, "predicted": r2}``), *reversed* when it has
    the gold triple's relation with subject and object swapped (``"predicted": "r (reversed)"``), and
    *spurious* when no gold triple links its two entities; a gold triple no prediction links is *missed*.

    Returns
    -------
    dict
        ``{"relations": {gold spelling: {"precision", "recall", "f1", "gold", "predicted"}},
        "confusions": [{"gold", "predicted", "count"}, ...] (most frequent ``top``),
        "spurious": int, "missed": int}``.

    Examples
    --------
    >>> rep = relation_report([([("Oslo", "capital", "Norway"), ("Oslo", "country", "Norway")],
    ...                         [("Norway", "capital", "Oslo"), ("Oslo", "country", "Norway")])])
    >>> rep["relations"]["country"]["f1"], rep["relations"]["capital"]["recall"]
    (1.0, 0.0)
    >>> rep["confusions"]
    [{'gold': 'capital', 'predicted': 'capital (reversed)', 'count': 1}]
    """
    spelled: dict[str, str] = {}
    counts: dict[str, list[int]] = {}
    confusions: Counter = Counter()
    spurious = missed = 0

    def norm(triples: Iterable[Triple]) -> list[tuple[str, str, str]]:
        out: dict[tuple[str, str, str], None] = {}
        for s, r, o in triples:
            key = normalize_relation(r)
            spelled.setdefault(key, r)
            out[(normalize_entity(s), key, normalize_entity(o))] = None
        return list(out)

    for pred, gold in items:
        p, g = norm(pred), norm(gold)
        hits = set(p) & set(g)
        for _, r, _ in p:
            counts.setdefault(r, [0, 0, 0])[1] += 1
        for t in g:
            c = counts.setdefault(t[1], [0, 0, 0])
            c[2] += 1
            c[0] += t in hits
        for s, r, o in (t for t in p if t not in hits):
            same = [gr for gs, gr, go in g if (gs, go) == (s, o) and (gs, gr, go) not in hits]
            back = [gr for gs, gr, go in g if (gs, go) == (o, s) and gr == r and (gs, gr, go) not in hits]
            if same:
                confusions[(same[0], r)] += 1
            elif back:
                confusions[(r, f"{r} (reversed)")] += 1
            elif not any({gs, go} == {s, o} for gs, _, go in g):
                spurious += 1
        linked = {(s, o) for s, _, o in p} | {(o, s) for s, _, o in p}
        missed += sum(1 for gs, _, go in g if (gs, go) not in linked)
    relations = {}
    for key, (tp, n_pred, n_gold) in sorted(counts.items(), key=lambda kv: (-kv[1][2], -kv[1][1], kv[0])):
        relations[spelled[key]] = {**prf(tp, n_pred, n_gold), "gold": n_gold, "predicted": n_pred}
    named = lambda r: spelled.get(r, r.replace(" (reversed)", "")) + (" (reversed)" if r.endswith(" (reversed)")  # noqa
                                                                      else "")
    return {"relations": relations,
            "confusions": [{"gold": spelled[g], "predicted": named(p), "count": n}
                           for (g, p), n in sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
            "spurious": spurious, "missed": missed}


def evaluate_extraction(path: str | os.PathLike[str], limit: int | None = None, extractor: Any = None,
                        progress: bool = False, use_schema: bool = True,
                        typing: dict[str, Any] | None = None, canonicalize: bool = False,
                        schema: Schema | None = None) -> dict[str, Any]:
    """Micro-averaged strict and relaxed P/R/F1 of an extractor on an extraction JSONL file.

    Parameters
    ----------
    path : path-like
        JSONL file, one ``{"text": ..., "triples": [[s, r, o], ...]}`` object per line.
    limit : int, optional
        Score only the first ``limit`` items.
    extractor : Extractor, optional
        Default :class:`~kgllm.extract.rules.RuleExtractor`. Its raw output is
        scored (no entity resolution); predicted strings are the entity names.
    progress : bool, optional
        Show the extractor's progress bar (it counts texts).
    use_schema : bool, optional
        Type each item's facts onto its ``relations`` when it has them (default); False scores the raw phrases.
    typing : dict, optional
        Keyword arguments for :class:`~kgllm.extract.typing.RelationTyper` (``threshold``, ``keep_unmatched``,
        ``sentence_weight``, ``type_penalty``).
    canonicalize : bool, optional
        Join near-identical relation spellings across the items scored without a schema
        (:func:`~kgllm.extract.typing.canonicalize_relations`, the whole file read as one ingest).
    schema : Schema, optional
        The relations of the items that have no ``relations`` of their own (e.g. an open-relation file read
        with a training split's inventory).

    Returns
    -------
    dict
        ``{"n": int, "skipped": int, "typed": int, "strict": {"precision", "recall", "f1"}, "relaxed": {...}}``
        and :func:`relation_report`'s ``relations``, ``confusions``, ``spurious`` and ``missed``;
        ``skipped`` counts the items the extractor could not read (scored as predicting nothing), ``typed`` the
        items whose facts were typed onto their ``relations``.

    Raises
    ------
    InputError
        For a malformed line, naming ``file:line``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = f.write_text(json.dumps({"text": "Oslo is the capital of Norway.",
    ...                              "triples": [["Oslo", "capitalOf", "Norway"]]}) + "\\n")
    >>> evaluate_extraction(f)["strict"]["f1"]
    1.0
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InputError(f"limit must be a non-negative integer, got {limit!r}")
    items: list[tuple[str, list, Schema | None]] = []
    docs: list[Document] = []
    for lineno, obj in iter_items(path):
        if limit is not None and len(items) >= limit:
            break
        validate_item(f"{path}:{lineno}", obj)
        doc_id = f"{obj.get('id', 'item')}:{lineno}"
        own = Schema.from_names(obj["relations"], f"{path}:{lineno}") if use_schema and obj.get("relations") \
            else (schema if use_schema else None)
        docs.append(Document(doc_id, obj["text"], source=f"{path}:{lineno}",
                             metadata={"schema": own} if own is not None else {}))
        items.append((doc_id, obj["triples"], own))
    if extractor is None:
        from kgllm.extract.rules import RuleExtractor

        extractor = RuleExtractor()
    extracted = extractor.extract(docs, progress=progress) if docs else GraphDelta()
    skipped = len(extracted.skipped) if isinstance(extracted, ExtractionResult) else 0
    schemas = {doc_id: schema for doc_id, _, schema in items if schema is not None}
    if schemas or canonicalize:
        extracted = _type_by_item(extracted, schemas, typing or {}, canonicalize)
    predicted = delta_triples(extracted)
    totals = {"strict": [0, 0, 0], "relaxed": [0, 0, 0]}
    for doc_id, gold, _ in items:
        for mode, counts in score_triples(predicted.get(doc_id, []), gold).items():
            for i, v in enumerate(counts):
                totals[mode][i] += v
    report = relation_report((predicted.get(doc_id, []), gold) for doc_id, gold, _ in items)
    return {"n": len(items), "skipped": skipped, "typed": len(schemas), "strict": prf(*totals["strict"]),
            "relaxed": prf(*totals["relaxed"]), **report}


def _type_by_item(delta: GraphDelta, schemas: dict[str, Schema], options: dict[str, Any],
                  canonicalize: bool = False) -> GraphDelta:
    """``delta`` with each document's facts typed onto that document's schema (others unchanged or canonicalised)."""
    from kgllm.extract.typing import RelationTyper, canonicalize_relations, retype_facts

    by_doc: dict[str, list[Fact]] = {}
    for fact in delta.facts:
        doc = fact.provenance[0].doc_id if fact.provenance else ""
        by_doc.setdefault(doc if doc in schemas else "", []).append(fact)
    facts = by_doc.pop("", [])
    if canonicalize:
        facts = canonicalize_relations(GraphDelta(delta.entities, facts)).facts
    typers: dict[Schema, RelationTyper] = {}
    for doc, doc_facts in by_doc.items():
        typer = typers.get(schemas[doc])
        if typer is None:
            typer = typers[schemas[doc]] = RelationTyper(schemas[doc], **options)
        facts.extend(typer.type_delta(GraphDelta(delta.entities, doc_facts)).facts)
    return retype_facts(delta, facts)
