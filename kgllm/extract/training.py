"""Training the relation model of :mod:`kgllm.extract.trained` from labelled examples, on CPU, seeded.

:func:`train_extraction` does, in order:

1. reads the training files (:func:`~kgllm.extract.examples.read_examples`; a bad line is an
   ``InputError`` naming file and line);
2. parses each text, finds its candidate spans and encodes it once with the frozen MiniLM encoder
   (:func:`~kgllm.extract.pairs.read_passages`);
3. aligns every gold subject and object with the span it stands for
   (:func:`~kgllm.extract.examples.align`) and learns from those alignments how the golds write
   dates, numbers and names (:class:`~kgllm.extract.normalise.Normaliser`);
4. labels the ordered candidate pairs: a gold triple's aligned (subject, object) pair gets its
   relation, every other pair "none" (the reversed pair too: that is how direction is learned);
   the "none" pairs are sampled, those touching an aligned span first (seeded);
5. trains the pair scorer (:func:`~kgllm.extract.relhead.train_scorer`) on all but a held-out share
   of the examples, picks the decision threshold that gives the best strict F1 on the held-out share
   (and, for an ontology with enough held-out examples, its own when that does better), then trains
   again on every example with those thresholds (``refit``);
6. writes the model directory.

Examples
--------
>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "bad.jsonl").write_text('{"text": "x"}\\n')
>>> train_extraction([d / "bad.jsonl"], d / "model")
Traceback (most recent call last):
...
kgllm.errors.InputError: ...bad.jsonl:1: expected 'triples' as a list of [subject, relation, object]
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Sequence

import numpy as np

from kgllm.extract.examples import Example, align, read_examples
from kgllm.extract.normalise import Normaliser
from kgllm.extract.pairs import Passage, ordered_pairs, pair_data, read_passages

__all__ = ["train_extraction", "fit_model", "label_pairs", "choose_thresholds", "THRESHOLDS"]

#: Decision thresholds tried on the held-out share.
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def label_pairs(passage: Passage, example: Example, aligned: dict[str, int], vocab: dict[str, int],
                rng: np.random.Generator, max_negatives: int) -> tuple[list[tuple[int, int]], list[int]]:
    """The pairs of one passage to train on and their labels (0 none, ``vocab[r] + 1`` relation ``r``)."""
    gold: dict[tuple[int, int], int] = {}
    for s, r, o in example.triples:
        if s in aligned and o in aligned and aligned[s] != aligned[o]:
            gold.setdefault((aligned[s], aligned[o]), vocab[r] + 1)
    touched = set(aligned.values())
    hard, easy = [], []
    for pair in ordered_pairs(passage.candidates):
        if pair in gold:
            continue
        (hard if pair[0] in touched or pair[1] in touched else easy).append(pair)
    n_hard = min(len(hard), max_negatives)
    n_easy = min(len(easy), max(max_negatives // 4, max_negatives - n_hard))
    pick = lambda xs, n: [xs[i] for i in sorted(rng.choice(len(xs), n, replace=False))] if n else []  # noqa
    pairs = list(gold) + pick(hard, n_hard) + pick(easy, n_easy)
    return pairs, [gold.get(p, 0) for p in pairs]


def choose_thresholds(model: Any, passages: Sequence[Passage], examples: Sequence[Example],
                      schemas: list[list[str]], min_gold: int = 25) -> tuple[float, float, dict[str, float]]:
    """The threshold of best strict micro F1 on held-out ``examples``, that F1, and per-schema thresholds.

    A schema (an ontology's relation set) with at least ``min_gold`` held-out gold triples gets a threshold of its
    own when that beats the global one on its examples by more than 0.01 F1.
    """
    from kgllm.eval.extraction import prf, score_triples
    from kgllm.extract.trained import schema_key

    read = model.read(passages, schemas, threshold=min(THRESHOLDS))
    counts: dict[str, dict[float, list[int]]] = {}
    for ex, names, found in zip(examples, schemas, read):
        by_tau = counts.setdefault(schema_key(names), {t: [0, 0, 0] for t in THRESHOLDS})
        for tau in THRESHOLDS:
            c = score_triples([(s, r, o) for s, r, o, p, _, _ in found if p >= tau], ex.triples)["strict"]
            by_tau[tau] = [a + b for a, b in zip(by_tau[tau], c)]
    f1 = lambda c: prf(*c)["f1"]  # noqa: E731
    total = {t: [sum(c[t][k] for c in counts.values()) for k in range(3)] for t in THRESHOLDS}
    best = max(THRESHOLDS, key=lambda t: (round(f1(total[t]), 4), -abs(t - 0.5)))
    own = {}
    for key, by_tau in counts.items():
        if by_tau[best][2] >= min_gold:
            mine = max(THRESHOLDS, key=lambda t: (round(f1(by_tau[t]), 4), -abs(t - best)))
            if f1(by_tau[mine]) > f1(by_tau[best]) + 0.01:
                own[key] = mine
    tuned = [sum(by_tau[own.get(key, best)][k] for key, by_tau in counts.items()) for k in range(3)]
    return best, f1(tuned), own


def fit_model(examples: Sequence[Example], passages: Sequence[Passage], seed: int = 0, epochs: int = 10,
              hidden: int = 256, holdout: float = 0.1, refit: bool = True, max_negatives: int = 40,
              log: Callable[[str], None] | None = None) -> Any:
    """Steps 3-5 of :func:`train_extraction` on parsed and encoded examples: a :class:`~kgllm.extract.trained.TrainedModel`."""
    from kgllm.extract.features import SYMBOLS
    from kgllm.extract.relhead import train_scorer
    from kgllm.extract.trained import FORMAT, TrainedModel
    from kgllm.resources import get_embedder
    from kgllm.schema import relation_words

    say = log or (lambda _: None)
    alignments = [align(p.candidates, ex.triples) for p, ex in zip(passages, examples)]
    normaliser = Normaliser().fit((p.candidates[al[g]].text, g, r) for p, ex, al in zip(passages, examples, alignments)
                                  for s, r, o in ex.triples for g in (s, o) if g in al)
    relations = sorted({r for ex in examples for r in (*(ex.relations or ()), *(t[1] for t in ex.triples))})
    vocab = {r: k for k, r in enumerate(relations)}
    names = get_embedder().encode([relation_words(r) for r in relations]).astype(np.float32)
    # an item's schema, with the relations of its own gold triples (a few golds stray outside their schema)
    schemas = [list(dict.fromkeys([*ex.relations, *(t[1] for t in ex.triples)])) if ex.relations else relations
               for ex in examples]
    rows = {tuple(s): k for k, s in enumerate(dict.fromkeys(tuple(s) for s in schemas))}
    allowed = np.zeros((len(rows), len(relations)), dtype=bool)
    for names_, k in rows.items():
        allowed[k, [vocab[r] for r in names_]] = True
    rng = np.random.default_rng(seed)
    labelled = [label_pairs(p, ex, al, vocab, rng, max_negatives) for p, ex, al in zip(passages, examples, alignments)]
    n_gold = sum(len(ex.triples) for ex in examples)
    n_aligned = sum(sum(1 for l in labs if l) for _, labs in labelled)
    say(f"{n_aligned}/{n_gold} gold triples aligned with candidate pairs; "
        f"{sum(len(p) for p, _ in labelled)} training pairs")
    order = np.random.default_rng(seed + 1).permutation(len(examples))
    n_hold = int(round(len(examples) * holdout)) if holdout > 0 else 0
    held, kept = sorted(order[:n_hold]), sorted(order[n_hold:])

    def fit(members: Sequence[int]) -> Any:
        data = pair_data([passages[k] for k in members], [labelled[k][0] for k in members],
                         [labelled[k][1] for k in members], allowed, [rows[tuple(schemas[k])] for k in members])
        say(f"training on {len(data)} pairs of {len(members)} examples")
        return train_scorer(data, names, epochs=epochs, hidden=hidden, seed=seed, log=say)

    config: dict[str, Any] = {"format": FORMAT, "version": 1, "relations": relations, "dim": int(passages[0].vectors.shape[1]),
                              "symbols": SYMBOLS, "hidden": hidden, "threshold": 0.5, "seed": seed, "epochs": epochs,
                              "examples": len(examples),
                              "pairs": sum(len(p) for p, _ in labelled), "aligned": round(n_aligned / max(n_gold, 1), 4)}
    model = TrainedModel(config, fit(kept), names, normaliser)
    if held:
        best, score, own = choose_thresholds(model, [passages[k] for k in held], [examples[k] for k in held],
                                             [schemas[k] for k in held])
        config["threshold"], config["thresholds"], config["holdout_f1"] = best, own, round(score, 4)
        say(f"held-out strict F1 {score:.3f} at threshold {best} ({len(own)} schemas with their own threshold)")
        if refit:
            model = TrainedModel(config, fit(range(len(examples))), names, normaliser)
    return model


def train_extraction(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], seed: int = 0,
                     epochs: int = 10, hidden: int = 256, holdout: float = 0.1, refit: bool = True,
                     max_negatives: int = 40, limit: int | None = None, layers: int | None = None,
                     spacy_vectors: bool = False, log: Callable[[str], None] | None = None, nlp: Any = None,
                     encoder: Any = None) -> dict[str, Any]:
    """Train a relation model on extraction JSONL files and write it to the folder ``out``.

    Parameters
    ----------
    paths : sequence of path-like
        Training files (extraction JSONL; ``relations`` per item is the schema it was annotated with).
    out : path-like
        The model directory to write.
    seed : int
        Seeds the held-out split, the negative sampling and the weights: same files and seed, same model.
    epochs, hidden : int
        Training epochs and width of the scorer's hidden layers.
    holdout : float
        Share of the examples held out to choose the decision threshold (0: keep 0.5).
    refit : bool
        Train again on every example once the threshold is chosen.
    max_negatives : int
        Most "none" pairs sampled per example.
    limit : int, optional
        Use only the first ``limit`` examples of each file (quick trials).
    layers, spacy_vectors : optional
        The token encoder's settings (:class:`~kgllm.extract.features.TokenEncoder`: MiniLM layers run, spaCy's
        own token vectors appended); the model directory records them and reading uses the same.
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    dict
        What :class:`~kgllm.extract.trained.TrainedModel` keeps in ``config.json``: relations, sizes,
        threshold, seed, files, ``examples``, ``pairs``, ``aligned`` (share of gold triples whose
        subject and object were found among the candidates), ``holdout_f1`` and ``seconds``.
    """
    from kgllm.extract.features import TokenEncoder
    from kgllm.resources import get_nlp

    say = log or (lambda _: None)
    began = time.perf_counter()
    examples: list[Example] = []
    for path in paths:
        found = read_examples([path])
        examples.extend(found[:limit] if limit is not None else found)
    say(f"{len(examples)} examples from {len(paths)} file(s)")
    encoder = encoder or TokenEncoder(layers=layers, spacy_vectors=spacy_vectors)
    passages = read_passages([ex.text for ex in examples], nlp or get_nlp(), encoder)
    say(f"parsed and encoded in {time.perf_counter() - began:.0f} s")
    model = fit_model(examples, passages, seed=seed, epochs=epochs, hidden=hidden, holdout=holdout, refit=refit,
                      max_negatives=max_negatives, log=say)
    config = model.config
    config["files"], config["encoder"] = [str(p) for p in paths], getattr(encoder, "settings", {})
    config["seconds"] = round(time.perf_counter() - began, 1)
    model.config = config
    model.save(out)
    say(f"model written to {out} in {config['seconds']:.0f} s")
    return config
