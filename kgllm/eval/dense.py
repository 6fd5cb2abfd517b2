"""The dense baseline of the text-QA evaluation: the answer span in the sentence most similar to the question.

No graph and no reading: every sentence of the documents is ranked by MiniLM cosine
similarity to the question; the answer is the first span, in rank order, whose NER kind
fits the kind the question asks for (:func:`~kgllm.reason.support.question_type`) and that
the question does not name. It is what "dense retrieval, then extract" does, measured in the
same run as kgllm so the two can be compared on the same machine and data.

Examples
--------
>>> from kgllm.retrieve.passages import passages_from_documents
>>> from kgllm.types import Document
>>> ps = passages_from_documents([Document("a", "Ines Kobal is a chemist. She was born in 1961 in Drava.")])
>>> dense_answer("When was Ines Kobal born?", ps)
('1961', 'a')
"""

from __future__ import annotations

from typing import Any, Sequence

from kgllm.reason.support import normalize_answer, question_type
from kgllm.retrieve.answer_type import LABEL_KIND
from kgllm.retrieve.passages import Passage

__all__ = ["dense_answer"]


def dense_answer(question: str, passages: Sequence[Passage], embedder: Any = None, nlp: Any = None,
                 top: int = 5) -> tuple[str, str]:
    """``(answer, doc_id)`` by the dense baseline (see the module docstring); ``("", "")`` when none fits."""
    sentences = [(p.doc_id, s) for p in passages for s in p.sentences]
    if not sentences:
        return "", ""
    if embedder is None:
        from kgllm.resources import get_embedder

        embedder = get_embedder()
    if nlp is None:
        from kgllm.resources import get_nlp

        nlp = get_nlp()
    vecs = embedder.encode([question] + [s for _, s in sentences])
    sims = vecs[1:] @ vecs[0]
    order = sorted(range(len(sentences)), key=lambda k: (-float(sims[k]), k))[:top]
    want = question_type(question)
    asked = f" {normalize_answer(question)} "
    for k, doc in zip(order, nlp.pipe([sentences[k][1] for k in order])):
        for ent in doc.ents:
            kind = LABEL_KIND.get(ent.label_, "")
            if want is not None and want.kinds and kind not in want.kinds:
                continue
            if f" {normalize_answer(ent.text)} " in asked:
                continue
            return ent.text, sentences[k][0]
    return "", ""
