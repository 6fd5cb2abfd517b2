"""Features of candidate pairs for the trained relation model: frozen MiniLM token vectors and a few symbols.

:class:`TokenEncoder` runs the bundled MiniLM encoder (frozen, the model behind
:func:`kgllm.resources.get_embedder`) once over each passage and gives every spaCy token the mean of
its word pieces' last-layer vectors. A pair (subject span, object span) of a passage is then described
by bags of token indices into that matrix, pooled by the model (:mod:`kgllm.extract.relhead`):

* the subject's tokens and the object's tokens (the two spans, read in their sentence: encoding the
  sentence once and pooling each span's tokens marks the spans without one encoder pass per pair);
* the tokens on the dependency path between their heads (:func:`~kgllm.extract.candidates.dependency_path`);
* the tokens between the spans, and the whole passage;

plus :func:`pair_symbols`: the spans' entity labels, what proposed them, their syntactic roles and
parts of speech, whether they read as dates or numbers, their order, distance and lengths.

Examples
--------
>>> from kgllm.extract.candidates import Candidate
>>> a = Candidate(0, 2, "Mira Holt", "PERSON", 1, "ent"); b = Candidate(5, 6, "Tallinn", "GPE", 5, "ent")
>>> v = pair_symbols(a, b, path_len=2, roles=("nsubjpass", "pobj"), pos=("PROPN", "PROPN"), topic=0, sentences=(0, 0))
>>> len(v) == SYMBOLS
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kgllm.extract.candidates import Candidate
from kgllm.extract.normalise import parse_date, parse_number

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = ["TokenEncoder", "pair_symbols", "SYMBOLS", "LABELS"]

LABELS = ("", "PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE",
          "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL")
SOURCES = ("ent", "mention", "quote", "propn", "chunk", "subtree", "variant", "noun")
ROLES = ("nsubj", "nsubjpass", "dobj", "pobj", "appos", "compound", "poss", "attr", "conj", "ROOT", "npadvmod")
POS = ("PROPN", "NOUN", "NUM")
_ONE_SPAN = len(LABELS) + len(SOURCES) + len(ROLES) + 1 + len(POS) + 1 + 2 + 2
#: Length of :func:`pair_symbols`' vector.
SYMBOLS = 2 * _ONE_SPAN + 6


def _one_hot(value: str, choices: Sequence[str]) -> list[float]:
    return [1.0 if value == c else 0.0 for c in choices]


def _span_symbols(c: Candidate, role: str, pos: str, is_topic: bool) -> list[float]:
    out = _one_hot(c.label, LABELS) + _one_hot(c.source, SOURCES)
    out += _one_hot(role, ROLES) + [0.0 if role in ROLES else 1.0]
    out += _one_hot(pos, POS) + [0.0 if pos in POS else 1.0]
    out += [1.0 if parse_date(c.text) else 0.0, 1.0 if parse_number(c.text) else 0.0]
    out += [min(c.end - c.start, 8) / 8.0, 1.0 if is_topic else 0.0]
    return out


def pair_symbols(s: Candidate, o: Candidate, path_len: int, roles: tuple[str, str], pos: tuple[str, str],
                 topic: int, sentences: tuple[int, int]) -> list[float]:
    """Symbolic features of the ordered pair (subject ``s``, object ``o``) (see the module docstring).

    ``roles`` and ``pos`` are the dependency labels and parts of speech of the two heads, ``topic`` the
    start token of the passage's first named candidate, ``sentences`` the sentence index of each head.
    """
    gap = (o.start - s.end) if s.start < o.start else (s.start - o.end)
    out = _span_symbols(s, roles[0], pos[0], s.start == topic) + _span_symbols(o, roles[1], pos[1], o.start == topic)
    out += [1.0 if s.start < o.start else 0.0, min(max(gap, 0), 24) / 24.0, min(path_len, 10) / 10.0,
            1.0 if sentences[0] == sentences[1] else 0.0, 1.0 if gap <= 1 else 0.0,
            min(abs(sentences[0] - sentences[1]), 3) / 3.0]
    return out


class TokenEncoder:
    """The frozen MiniLM encoder, giving one vector per spaCy token.

    Parameters
    ----------
    model_dir : path-like, optional
        A sentence-transformers MiniLM folder; default the bundled one.
    layers : int, optional
        Transformer layers run (the first ones; default all six). Fewer layers cost less time: with 0 the
        vectors are the word-piece embeddings alone.
    spacy_vectors : bool, optional
        Append the spaCy pipeline's own token vectors (``doc.tensor``, computed by its parse anyway).
    max_length : int, optional
        Word pieces read per passage; tokens past it get zero vectors.
    batch_size : int, optional
        Passages per forward pass (sorted by length, so padding stays small).
    """

    def __init__(self, model_dir: Any = None, layers: int | None = None, spacy_vectors: bool = False,
                 max_length: int = 256, batch_size: int = 16) -> None:
        self.model_dir, self.max_length, self.batch_size = model_dir, max_length, batch_size
        self.layers, self.spacy_vectors = layers, spacy_vectors
        self._tok: Any = None
        self._model: Any = None

    @property
    def settings(self) -> dict[str, Any]:
        """What a model directory records to rebuild the same encoder."""
        return {"layers": self.layers, "spacy_vectors": self.spacy_vectors, "max_length": self.max_length}

    def _load(self) -> None:
        if self._model is None:
            import transformers
            from transformers import AutoModel, AutoTokenizer

            from kgllm.resources import _minilm_dir

            transformers.utils.logging.disable_progress_bar()
            folder = str(self.model_dir or _minilm_dir())
            self._tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self._model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
            if self.layers is not None:
                self._model.encoder.layer = self._model.encoder.layer[:max(self.layers, 0)]

    def encode(self, docs: Sequence[Doc]) -> list[np.ndarray]:
        """A ``(len(doc), dim)`` float32 array per parsed passage: each token's mean word-piece vector."""
        import torch

        self._load()
        out: list[np.ndarray] = [np.zeros((0, 0), dtype=np.float32)] * len(docs)
        order = sorted(range(len(docs)), key=lambda i: len(docs[i].text))
        with torch.inference_mode():
            for k in range(0, len(order), self.batch_size):
                group = order[k:k + self.batch_size]
                batch = self._tok([docs[i].text for i in group], padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt", return_offsets_mapping=True)
                offsets = batch.pop("offset_mapping").numpy()
                hidden = self._model(**batch).last_hidden_state.numpy()     # (B, P, D)
                mask = batch["attention_mask"].numpy()
                for b, i in enumerate(group):
                    out[i] = _pool_tokens(docs[i], hidden[b], offsets[b], mask[b])
        if self.spacy_vectors:
            for i, doc in enumerate(docs):
                extra = doc.tensor if getattr(doc, "tensor", None) is not None and len(doc.tensor) == len(doc) \
                    else np.zeros((len(doc), 96), np.float32)
                out[i] = np.concatenate([out[i], np.asarray(extra, np.float32)], axis=1)
        return out


def _pool_tokens(doc: Doc, pieces: np.ndarray, offsets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the word-piece vectors overlapping each spaCy token (zeros for a token with none)."""
    n, dim = len(doc), pieces.shape[1]
    weights = np.zeros((n, pieces.shape[0]), dtype=np.float32)
    starts = np.array([t.idx for t in doc])
    ends = starts + np.array([len(t.text) for t in doc])
    for p, (a, b) in enumerate(offsets):
        if not mask[p] or b <= a:
            continue                                             # padding and special tokens
        hit = np.nonzero((starts < b) & (ends > a))[0]
        weights[hit, p] = 1.0
    counts = weights.sum(axis=1, keepdims=True)
    return (weights @ pieces / np.maximum(counts, 1.0)).astype(np.float32) if n else np.zeros((0, dim), np.float32)
