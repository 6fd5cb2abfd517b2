"""``kgllm train extraction``: learn a relation model from labelled extraction examples (CPU, minutes).

The model directory it writes is a plain folder read by ``kgllm build --extractor trained --model-dir DIR``,
``kgllm eval extraction --mode trained --model-dir DIR``, job specs (``extractor: {mode: trained, model_dir: DIR}``)
and the library (``make_extractor("trained", model_dir=DIR)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from kgllm.cli.common import JsonOpt, command, emit_json, err, new_app, out, run

__all__ = ["register", "folder_size"]


def register(app: typer.Typer) -> None:
    """Add the ``train`` command group to ``app``."""
    train_app = new_app("Learn models from labelled examples.")
    command(train_app, "extraction")(train_extraction)
    app.add_typer(train_app, name="train")


def folder_size(folder: Path) -> int:
    """Bytes of the files directly in ``folder``."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def train_extraction(
    files: List[Path] = typer.Argument(..., metavar="TRAIN.jsonl...",
                                       help="Extraction JSONL files: \"text\", gold \"triples\" and, per item, the "
                                            "\"relations\" it was annotated with."),
    model_dir: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="The model directory to write."),
    seed: int = typer.Option(0, "--seed", metavar="N", help="Seeds the held-out split, the sampling and the "
                                                            "weights: the same files and seed give the same model."),
    epochs: int = typer.Option(10, "--epochs", min=1, metavar="N", help="Training epochs."),
    hidden: int = typer.Option(256, "--hidden", min=8, metavar="N", help="Width of the scorer's hidden layers."),
    holdout: float = typer.Option(0.1, "--holdout", min=0.0, max=0.5, metavar="SHARE",
                                  help="Share of the examples held out to choose the decision threshold."),
    no_refit: bool = typer.Option(False, "--no-refit", help="Keep the model trained without the held-out share "
                                                            "(default: train again on every example)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, metavar="N",
                                        help="Only the first N examples of each file (a quick trial)."),
    layers: Optional[int] = typer.Option(None, "--layers", min=0, max=6, metavar="N",
                                         help="MiniLM layers the token encoder runs (default all 6; fewer read "
                                              "faster, 0: word-piece embeddings only)."),
    spacy_vectors: bool = typer.Option(False, "--spacy-vectors", help="Append spaCy's own token vectors (free: "
                                                                      "the parse computes them)."),
    as_json: bool = JsonOpt,
) -> None:
    """Train the relation model of the 'trained' extractor on TRAIN.jsonl files and write it to a model directory.

    Each text is parsed, its candidate spans (names, noun phrases, dates, numbers) are encoded once with the bundled
    MiniLM, and a small scorer learns which ordered pair of spans holds which of the item's relations, or none. How
    the gold writes dates, numbers and names is learned from the same examples. Progress goes to stderr; the summary
    (examples, aligned gold triples, held-out F1, threshold, training time, model size) to stdout.
    """
    from kgllm.extract.training import train_extraction as train

    def go() -> dict[str, Any]:
        say = (lambda line: err.print(line, highlight=False, markup=False))
        config = train(files, model_dir, seed=seed, epochs=epochs, hidden=hidden, holdout=holdout,
                       refit=not no_refit, limit=limit, layers=layers, spacy_vectors=spacy_vectors, log=say)
        summary = {k: v for k, v in config.items() if k not in ("relations", "format")}
        summary.update(relations=len(config["relations"]), model_dir=str(model_dir),
                       model_bytes=folder_size(model_dir))
        return summary

    summary = run(go)
    if as_json:
        emit_json(summary)
        return
    out.print(f"trained {summary['model_dir']}: {summary['examples']} examples, {summary['relations']} relations, "
              f"{summary['aligned']:.1%} of the gold triples aligned with candidate pairs, held-out strict F1 "
              f"{summary.get('holdout_f1', float('nan')):.3f} at threshold {summary['threshold']}, "
              f"{summary['seconds']:.0f} s, {summary['model_bytes'] / 1e6:.1f} MB", highlight=False)
