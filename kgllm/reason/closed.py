"""Closed questions: yes/no ("Was X born in Y?") and choices among named entities ("Which of A and B ...?").

Both are answered from the same retrieval as open questions, read differently:

* **yes/no** (the question opens with an auxiliary verb and names two graph entities): the
  relation paths from the first-named entity are searched as for an open question; *yes* when
  the second entity is among the answers of the best relation paths (within ``margin`` of the
  best), *no* when those paths lead elsewhere (the answer cites where they lead).
* **which of A and B** (also ``A or B``): the options are read off the question, the rest of
  the question ("which founded X?") is retrieved, and the option ranked highest among its
  candidate answers is the answer; when neither is a candidate the graph does not support one.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta
>>> from kgllm.retrieve.subgraph import Retriever
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(facts=[Fact("ines", "born_in", "bergamo"), Fact("tomas", "born_in", "tampere")]))
>>> closed_answer(Retriever(store), "Was Ines born in Bergamo?").text
'Yes'
>>> closed_answer(Retriever(store), "Was Ines born in Tampere?").text
'No'
>>> closed_answer(Retriever(store), "Which of Ines and Tomas was born in Tampere?").text
'tomas'
>>> closed_answer(Retriever(store), "Where was Ines born?") is None
True
"""

from __future__ import annotations

from typing import Any

from kgllm.retrieve.link import tokenize
from kgllm.retrieve.rank import rank_answers
from kgllm.types import Answer, Path, unique_sources

__all__ = ["closed_answer", "AUXILIARIES"]

#: Verbs that open a yes/no question.
AUXILIARIES = frozenset("is are was were do does did has have had can could will would".split())
_CHOICE_WORDS = frozenset({"which", "who", "what", "whom"})


def closed_answer(retriever: Any, question: str, margin: float = 0.05) -> Answer | None:
    """The answer to a yes/no or "which of A and B" question, or None when ``question`` is neither.

    Parameters
    ----------
    retriever : Retriever
        Links the question's entities and searches relation paths.
    question : str
        The question.
    margin : float, default 0.05
        How far below the best path a path may score and still count as an answer (yes/no).
    """
    tokens = tokenize(question)
    if not tokens:
        return None
    if tokens[0] in _CHOICE_WORDS and len(tokens) > 1 and tokens[1] == "of":
        return _choice(retriever, question, tokens)
    if tokens[0] in AUXILIARIES:
        return _yes_no(retriever, question, margin)
    return None


def _linked(retriever: Any, text: str, limit: int = 4) -> list[Any]:
    links = retriever.linker.link(text, limit=limit)
    return sorted((le for le in links if le.span[0] >= 0), key=lambda le: le.span)


def _choice(retriever: Any, question: str, tokens: list[str]) -> Answer | None:
    links = _linked(retriever, question)
    options = [le for le in links if le.span[0] >= 2][:2]
    if len(options) < 2 or tokens[options[0].span[1]] not in ("and", "or"):
        return None
    rest = " ".join([tokens[0]] + tokens[options[1].span[1]:])
    sub = retriever.retrieve(rest)
    ranked = rank_answers(sub)
    order = {eid: i for i, (eid, _) in enumerate(ranked)}
    wanted = [le for le in options if le.entity_id in order]
    if not wanted:
        names = " and ".join(le.mention for le in options)
        return Answer.unsupported(question, f"no path of the graph answers it with {names}", sub)
    best = min(wanted, key=lambda le: order[le.entity_id])
    path = next(p for p in sub.paths if p.end == best.entity_id)
    return _answer(question, sub.name(best.entity_id), path, sub, [best.entity_id])


def _yes_no(retriever: Any, question: str, margin: float) -> Answer | None:
    links = _linked(retriever, question)
    if len(links) < 2:
        return None
    first, target = links[0].entity_id, links[-1].entity_id
    tokens = tokenize(question)
    # The entity asked about is what the paths must reach, not a phrase for a relation to explain.
    sub = retriever.retrieve(" ".join(tokens[: links[-1].span[0]] + tokens[links[-1].span[1]:]))
    own = [p for p in sub.paths if p.entities and p.entities[0] == first]
    if not own:
        return Answer.unsupported(question, f"no relevant facts were found around {sub.name(first)}", sub)
    top = max(p.score for p in own)
    near = [p for p in own if p.score >= top - margin]
    hit = next((p for p in near if p.end == target), None)
    if hit is not None:
        return _answer(question, "Yes", hit, sub, [target])
    best = max(own, key=lambda p: p.score)
    return _answer(question, "No", best, sub, [best.end])


def _answer(question: str, text: str, path: Path, sub: Any, entities: list[str]) -> Answer:
    facts = list(path.facts)
    return Answer(question, text, facts, unique_sources(facts), True, entities, 1.0, sub)
