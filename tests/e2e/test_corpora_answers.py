"""Regression suite: the six hand-written corpora of tests/corpora, each built into one graph and asked every
question through ``Reasoner.ask`` (``kgllm eval textqa tests/corpora/NAME``), graph only.

The floors sit a little under the figures measured when they were set (README, "Answers on your own
documents"): what kgllm claims must stay right (precision of supported answers) and what the text does not
say must stay withheld (abstention); exact match may only go up. A change that trades a withheld answer for a
wrong one fails here even when exact match rises.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kgllm.eval.textqa import evaluate_textqa

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
NAMES = sorted(p.name for p in CORPORA.iterdir() if p.is_dir())

# floors per corpus: (exact match on answerable, precision of supported answers)
FLOORS = {"business": (0.45, 0.9), "family": (0.42, 0.9), "history": (0.33, 0.9), "science": (0.45, 0.9),
          "sport": (0.36, 0.9), "technology": (0.47, 0.9)}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_answers_on_a_corpus_stay_right_and_withheld(name: str) -> None:
    details: list[dict] = []
    result = evaluate_textqa(CORPORA / name, details=details)
    mine = result["kgllm"]
    em, precision = FLOORS[name]
    wrong = [(d["question"], d["answer"]) for d in details if d["supported"] and not d["em"]]
    assert mine["precision"] >= precision, f"{name}: supported but wrong: {wrong}"
    assert mine["abstention"] >= 0.9, f"{name}: {[d['question'] for d in details if d['supported'] and not d['answers']]}"
    assert mine["em"] >= em, f"{name}: exact match {mine['em']:.2f} < {em}"
    assert mine["em"] > result["dense"]["em"] - 0.1  # the dense baseline of the same run
    for d in details:  # every supported answer cites the sentence it rests on; a withheld one says why
        assert d["cited"] if d["supported"] else d["reasons"], d
