"""The trained extractor: candidate pairs typed onto a schema by a relation model learned from examples.

``kgllm train extraction TRAIN.jsonl... --out MODEL_DIR`` (:func:`kgllm.extract.training.train_extraction`)
writes a model directory, a plain folder:

``config.json``
    format and version, the relations seen in training, the token encoder's settings, the head's
    sizes, the decision threshold, the seed, the training files and what training measured (time,
    examples, pairs, held-out F1);
``head.pt``
    the weights of the pair scorer (:mod:`kgllm.extract.relhead`; a torch ``state_dict``);
``names.npy``
    the MiniLM embeddings of the training relations' names;
``normaliser.json``
    how the training golds write dates, numbers and names (:mod:`kgllm.extract.normalise`).

:class:`TrainedExtractor` reads a document in passages of a few sentences
(:mod:`kgllm.extract.pairs`), scores every ordered pair of candidate spans against the document's
schema relations (``document.metadata["schema"]``, else the extractor's ``schema``) and keeps the
pairs whose best relation reaches the threshold, at most one per relation and pair of overlapping
spans; each span is written as the training golds write such values (:class:`~kgllm.extract.normalise.Normaliser`).
A document without a schema is read by the rule extractor instead (its facts are the rules' own),
so on plain prose the trained extractor behaves exactly as the rules do.

Every fact cites the sentences its two spans lie in (extractor ``"trained"``). The extractor never
raises on text: an empty document is listed as skipped.

Examples
--------
>>> TrainedModel.load("/nonexistent/model")
Traceback (most recent call last):
...
kgllm.errors.NotFoundError: /nonexistent/model: no trained extraction model here (expected a folder written by kgllm train extraction, with config.json)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kgllm.errors import InputError, NotFoundError
from kgllm.extract.base import ExtractionResult, SkippedDocument
from kgllm.extract.candidates import overlaps
from kgllm.extract.normalise import Normaliser
from kgllm.extract.pairs import Passage, ordered_pairs, pair_data, passage_groups, read_passages
from kgllm.schema import Schema, relation_words
from kgllm.types import Document, Entity, Fact, Provenance, entity_id

__all__ = ["TrainedModel", "TrainedExtractor", "decode", "schema_key", "FORMAT"]

FORMAT = "kgllm-trained-extraction"
_FILES = ("config.json", "head.pt", "names.npy", "normaliser.json")


def schema_key(names: Sequence[str]) -> str:
    """A short stable key of a set of relation names (the order does not matter).

    >>> schema_key(["b", "a"]) == schema_key(["a", "b"]) != schema_key(["a"])
    True
    """
    import hashlib

    return hashlib.sha1("\x1f".join(sorted(set(names))).encode("utf-8")).hexdigest()[:12]


def decode(passage: Passage, pairs: Sequence[tuple[int, int]], probs: np.ndarray, relations: Sequence[str],
           threshold: float) -> list[tuple[int, int, str, float]]:
    """Accepted ``(subject index, object index, relation, probability)`` of one passage, best first.

    ``probs[n]`` holds "none" then each of ``relations`` for ``pairs[n]``. A pair keeps every relation
    reaching ``threshold``; a fact is dropped when a better one has the same relation and overlapping
    subject and object spans (the same fact read off a shorter or longer span).
    """
    found = [(float(probs[n, k + 1]), i, j, relations[k]) for n, (i, j) in enumerate(pairs)
             for k in np.nonzero(probs[n, 1:] >= threshold)[0]]
    found.sort(key=lambda x: (-x[0], x[1], x[2], x[3]))
    kept: list[tuple[int, int, str, float]] = []
    cands = passage.candidates
    for p, i, j, rel in found:
        if any(r == rel and (overlaps(cands[i], cands[a]) and overlaps(cands[j], cands[b])
                             or overlaps(cands[i], cands[b]) and overlaps(cands[j], cands[a])) for a, b, r, _ in kept):
            continue
        kept.append((i, j, rel, p))
    return kept


class TrainedModel:
    """A trained relation model: the pair scorer, its relation vocabulary and the learned normaliser."""

    def __init__(self, config: dict[str, Any], scorer: Any, name_vectors: np.ndarray, normaliser: Normaliser) -> None:
        self.config, self.scorer, self.name_vectors, self.normaliser = config, scorer, name_vectors, normaliser
        self.relations: list[str] = list(config["relations"])
        self._index = {r: k for k, r in enumerate(self.relations)}
        self._by_words = {relation_words(r): k for k, r in enumerate(self.relations)}
        self._extra: dict[str, np.ndarray] = {}

    @property
    def threshold(self) -> float:
        """The decision threshold for schemas without one of their own."""
        return float(self.config.get("threshold", 0.5))

    def threshold_for(self, names: Sequence[str]) -> float:
        """The decision threshold for a schema: its own when training chose one for it (the schema of one of its
        ontologies, :func:`schema_key`), else :attr:`threshold`."""
        return float(self.config.get("thresholds", {}).get(schema_key(names), self.threshold))

    # ------------------------------------------------------------------ files
    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> "TrainedModel":
        """Read a model directory (``NotFoundError``/``InputError`` naming what is missing or malformed)."""
        import torch

        from kgllm.extract.relhead import build_scorer

        folder = Path(model_dir)
        if not (folder / "config.json").is_file():
            raise NotFoundError(f"{folder}: no trained extraction model here (expected a folder written by "
                                "kgllm train extraction, with config.json)")
        missing = [f for f in _FILES if not (folder / f).is_file()]
        if missing:
            raise NotFoundError(f"{folder}: incomplete model directory, missing {', '.join(missing)}")
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            normaliser = Normaliser.from_json(json.loads((folder / "normaliser.json").read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{folder}: malformed model file ({exc})") from exc
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise InputError(f"{folder / 'config.json'}: not a kgllm trained extraction model "
                             f"(expected \"format\": \"{FORMAT}\")")
        from kgllm.extract.features import SYMBOLS

        if config.get("symbols") != SYMBOLS:
            raise InputError(f"{folder}: a model for {config.get('symbols')} pair features; this version of kgllm "
                             f"computes {SYMBOLS} (train the model again with kgllm train extraction)")
        try:
            names = np.load(folder / "names.npy")
            state = torch.load(folder / "head.pt", map_location="cpu", weights_only=True)
            scorer = build_scorer(config["dim"], config["symbols"], config["hidden"], len(config["relations"]),
                                  names.shape[1])
            scorer.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - any unreadable weight file is bad input
            raise InputError(f"{folder}: unreadable model weights ({type(exc).__name__}: {exc})") from exc
        scorer.eval()
        return cls(config, scorer, names.astype(np.float32), normaliser)

    def save(self, model_dir: str | os.PathLike[str]) -> Path:
        """Write the model directory (created when missing) and return its path."""
        import torch

        folder = Path(model_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config, indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
        (folder / "normaliser.json").write_text(json.dumps(self.normaliser.to_json(), ensure_ascii=False),
                                                encoding="utf-8")
        np.save(folder / "names.npy", self.name_vectors)
        torch.save(self.scorer.state_dict(), folder / "head.pt")
        return folder

    # ------------------------------------------------------------------ scoring
    def relation_table(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids (-1 for a relation not seen in training) and name vectors of ``names``."""
        ids, vecs, unseen = [], [], []
        for name in names:
            k = self._index.get(name, self._by_words.get(relation_words(name), -1))
            ids.append(k)
            if k < 0 and name not in self._extra:
                unseen.append(name)
        if unseen:
            from kgllm.resources import get_embedder

            for name, vec in zip(unseen, get_embedder().encode([relation_words(n) for n in unseen])):
                self._extra[name] = vec.astype(np.float32)
        for name, k in zip(names, ids):
            vecs.append(self.name_vectors[k] if k >= 0 else self._extra[name])
        return np.asarray(ids, np.int64), np.asarray(vecs, np.float32).reshape(len(names), -1)

    def read(self, passages: Sequence[Passage], schemas: Sequence[Sequence[str]],
             threshold: float | None = None) -> list[list[tuple[str, str, str, float, int, int]]]:
        """Facts of each passage under its schema: ``(subject, relation, object, probability, i, j)``.

        Subject and object are written by the normaliser; ``i``, ``j`` are the candidate indices.
        """
        from kgllm.extract.relhead import predict

        out: list[list[tuple[str, str, str, float, int, int]]] = [[] for _ in passages]
        by_schema: dict[tuple[str, ...], list[int]] = {}
        for k, names in enumerate(schemas):
            if names:
                by_schema.setdefault(tuple(names), []).append(k)
        for names, members in by_schema.items():
            tau = self.threshold_for(names) if threshold is None else threshold
            ids, vecs = self.relation_table(names)
            chosen = [ordered_pairs(passages[k].candidates) for k in members]
            probs = predict(self.scorer, pair_data([passages[k] for k in members], chosen), ids, vecs)
            at = 0
            for k, pairs in zip(members, chosen):
                p = passages[k]
                for i, j, rel, prob in decode(p, pairs, probs[at:at + len(pairs)], names, tau):
                    a, b = p.candidates[i], p.candidates[j]
                    s = self.normaliser.apply(a.text, rel, names, a.label)
                    o = self.normaliser.apply(b.text, rel, names, b.label)
                    if entity_id(s) and entity_id(o) and entity_id(s) != entity_id(o):
                        out[k].append((s, rel, o, prob, i, j))
                at += len(pairs)
        return out


class TrainedExtractor:
    """Facts typed onto a schema by a trained relation model (see the module docstring).

    Parameters
    ----------
    model : TrainedModel or path-like
        The model, or its directory (read on first use; a missing one raises ``NotFoundError``).
    schema : Schema, optional
        Relations for documents whose ``metadata`` carries no ``schema``.
    nlp, encoder : optional
        The spaCy pipeline and :class:`~kgllm.extract.features.TokenEncoder` (default the shared ones).
    """

    name = "trained"

    def __init__(self, model: Any, schema: Schema | None = None, nlp: Any = None, encoder: Any = None) -> None:
        self._model = model if isinstance(model, TrainedModel) else None
        self.model_dir = None if self._model is not None else Path(model)
        if self.model_dir is not None and not (self.model_dir / "config.json").is_file():
            raise NotFoundError(f"{self.model_dir}: no trained extraction model here (expected a folder written "
                                "by kgllm train extraction, with config.json)")
        self.schema, self._nlp, self._encoder = schema, nlp, encoder
        self._rules: Any = None

    @property
    def model(self) -> TrainedModel:
        if self._model is None:
            self._model = TrainedModel.load(self.model_dir)
        return self._model

    def _schema(self, doc: Document) -> Schema | None:
        schema = doc.metadata.get("schema") if isinstance(doc.metadata, dict) else None
        return schema if isinstance(schema, Schema) and len(schema) else self.schema

    def extract(self, documents: Sequence[Document], progress: bool = False) -> ExtractionResult:
        """Facts of ``documents``; those without a schema are read by the rule extractor."""
        from kgllm.extract.chunk import chunk_document

        docs = list(documents)
        for doc in docs:
            if not isinstance(doc.text, str):
                raise InputError(f"document {doc.id!r}: text must be a str, got {type(doc.text).__name__}")
        plain = [d for d in docs if self._schema(d) is None]
        result = self._fallback(plain, progress)
        groups: list[tuple[Document, list[Any]]] = []
        for doc in docs:
            if self._schema(doc) is None:
                continue
            try:
                chunks = chunk_document(doc)
            except Exception as exc:  # noqa: BLE001 - never fatal: the document is reported instead
                result.skipped.append(SkippedDocument(doc.id, -1, f"{type(exc).__name__}: {exc}"))
                continue
            if not chunks:
                result.skipped.append(SkippedDocument(doc.id, -1, "empty text"))
            groups.extend((doc, g) for g in passage_groups(chunks))
        if not groups:
            return result
        passages = self._passages(groups, result)
        entities = {e.id: e for e in result.entities}
        facts: dict[tuple[str, str], Fact] = {(f.provenance[0].doc_id if f.provenance else "", f.id): f
                                              for f in result.facts}
        live = [(doc, p) for (doc, _), p in zip(groups, passages) if p is not None]
        read = self.model.read([p for _, p in live], [self._schema(doc).names for doc, _ in live])
        for (doc, passage), found in zip(live, read):
            for s, rel, o, prob, i, j in found:
                a, b = passage.candidates[i], passage.candidates[j]
                provs = tuple(Provenance(doc.id, c.index, c.start, c.end, self.name, c.text)
                              for c in passage.chunks_of(a, b))
                for name, cand in ((s, a), (o, b)):
                    entities.setdefault(entity_id(name), Entity(entity_id(name), name, cand.label))
                fact = Fact(entity_id(s), rel, entity_id(o), round(prob, 4), provs)
                old = facts.get((doc.id, fact.id))
                if old is None or old.confidence < fact.confidence:
                    facts[(doc.id, fact.id)] = fact
        result.entities, result.facts = list(entities.values()), list(facts.values())
        return result

    def _passages(self, groups: list[tuple[Document, list[Any]]], result: ExtractionResult) -> list[Passage | None]:
        if self._nlp is None:
            from kgllm.resources import get_nlp

            self._nlp = get_nlp()
        if self._encoder is None:
            from kgllm.extract.features import TokenEncoder

            self._encoder = TokenEncoder(**self.model.config.get("encoder", {}))
        texts = [doc.text[g[0].start:g[-1].end] for doc, g in groups]
        try:
            passages: list[Passage | None] = list(read_passages(texts, self._nlp, self._encoder))
        except Exception:  # noqa: BLE001 - one bad passage spoils the batch: read them one at a time
            passages = []
            for (doc, g), text in zip(groups, texts):
                try:
                    passages.append(read_passages([text], self._nlp, self._encoder)[0])
                except Exception as exc:  # noqa: BLE001 - reported with its document
                    result.skipped.append(SkippedDocument(doc.id, g[0].index, f"{type(exc).__name__}: {exc}"))
                    passages.append(None)
        for (doc, g), p in zip(groups, passages):
            if p is not None:
                p.chunks, p.start = list(g), g[0].start
        return passages

    def _fallback(self, docs: list[Document], progress: bool) -> ExtractionResult:
        if not docs:
            return ExtractionResult()
        if self._rules is None:
            from kgllm.extract.rules import RuleExtractor

            self._rules = RuleExtractor(nlp=self._nlp)
        out = self._rules.extract(docs, progress=progress)
        return out if isinstance(out, ExtractionResult) else ExtractionResult(out.entities, out.facts, out.merges)
