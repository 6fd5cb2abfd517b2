"""Conversations grounded in the graph: follow-up questions resolved against the entities of the conversation.

A :class:`Conversation` keeps the turns of a dialogue. Each follow-up is rewritten into a standalone question
(:attr:`Answer.resolved_question <kgllm.types.Answer.resolved_question>`) by resolving its references against
the entities earlier turns named or answered, and that question is answered by :meth:`Reasoner.ask
<kgllm.reason.reasoner.Reasoner.ask>` exactly as if it had been asked alone: same evidence, same citations, same
abstention. No history is ever shown to a language model.

What is resolved (:class:`Resolver`, on the spaCy dependency parse of the question):

* **pronouns and possessives** (he, she, it, they, him, her, his, its, their): the entity in focus of the right
  kind and gender. The entities of a turn are those its (resolved) question names and its answer; the most
  recent turn first, and within a turn the subject of what was said first (the answer when the question asked
  the subject: "Who owns the line?" "Alpenbahn Nord." "Who founded it?" -> Alpenbahn Nord). Kind comes from the
  graph's entity type; gender from the documents (the pronouns that follow the name, a gendered noun the
  question asked: "Who is his wife?"), and from the user's own pronouns. A possessive whose entity the question
  already names stays as it is ("Where did he take his degree?" -> "Where did Rowan Keddie take his degree?").
  "they" is an organisation or group in focus, else the two people most recently in focus.
* **definite references** ("the company", "that firm", "the lab", "the castle"): the entity in focus the noun
  fits -- a word of its name, what the documents call it ("X is a ... castle", "X, a ... castle"), or the kind of
  entity the noun names (:func:`kgllm.extract.descriptions.kind_of_noun`); "that N" prefers the entity most
  recently introduced. A description that fits nothing in focus is left as written ("the siege").
* **ellipsis**: a fragment without a verb. A question phrase ("When?", "And where?", "In which year?", "By
  whom?", "For how much?") replaces the previous question's, with the previous answer put where the old
  question phrase stood ("Which company did Lumora buy?" "Kestrel." "For how much?" -> "For how much did Lumora
  buy Kestrel?"; a subject is kept by the passive: "Who founded X?" "In which year?" -> "In which year was X
  founded?"). A noun phrase ("And Orrin Verlag?", "What about her brother?") replaces the previous question's
  entity of the same kind (or the noun phrase with the same possessor).

A reference that cannot be resolved is left as written, and the answer lists it in
:attr:`Answer.unresolved <kgllm.types.Answer.unresolved>`.

Examples
--------
>>> from kgllm.graph import KnowledgeGraph
>>> from kgllm.reason.reasoner import Reasoner
>>> from kgllm.types import Document
>>> kg = KnowledgeGraph()
>>> _ = kg.ingest([Document("ada", "Ada Lindqvist founded Velmora Bikes in 1990. She was born in Tromsø. "
...                                "Velmora Bikes is based in Bergen.")])
>>> conv = Conversation(Reasoner(kg, llm=None))
>>> conv.ask("Who founded Velmora Bikes?").text
'Ada Lindqvist'
>>> a = conv.ask("Where was she born?")
>>> a.resolved_question, a.text
('Where was Ada Lindqvist born?', 'Tromsø')
>>> conv.ask("In which year?").resolved_question
'In which year was Ada Lindqvist born?'
>>> conv.ask("Where is the company based?").resolved_question
'Where is Velmora Bikes based?'
>>> len(conv.turns)
4
>>> conv.reset(); conv.ask("Where did he go?").unresolved
('he',)
"""

from __future__ import annotations

import time
from typing import Any, Callable

from kgllm.conversation.words import Referent, Resolution, Turn, normalise_question
from kgllm.conversation.resolver import Resolver
from kgllm.errors import InputError
from kgllm.types import Answer


__all__ = ["Conversation", "Referent", "Resolution", "Resolver", "Turn", "normalise_question"]


class Conversation:
    """A dialogue with a graph: each question is resolved against the entities of the earlier turns and answered
    as a standalone question by ``reasoner`` (see the module docstring).

    Parameters
    ----------
    reasoner : Reasoner
        Answers every resolved question (:meth:`~kgllm.reason.reasoner.Reasoner.ask`).
    max_turns : int, optional
        Keep at most this many turns (the oldest dropped first); None keeps them all.
    """

    def __init__(self, reasoner: Any, max_turns: int | None = None, graph: Any = None) -> None:
        self.reasoner = reasoner
        self.resolver = Resolver(_resolving(reasoner, graph))
        self.max_turns = max_turns
        self.turns: list[Turn] = []
        self._order = 0
        self._genders: dict[str, str] = {}

    def resolve(self, text: str) -> Resolution:
        """The standalone question ``text`` stands for after the turns so far (nothing is answered)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("empty question: nothing to answer")
        return self.resolver.resolve(text, self.turns)

    def ask(self, text: str, on_token: Callable[[str], None] | None = None) -> Answer:
        """Answer ``text`` as a turn of this conversation: resolved, answered standalone, remembered.

        The answer's ``question`` is ``text``, its ``resolved_question`` the question that was answered, its
        ``unresolved`` the references left as written.
        """
        started = time.perf_counter()
        resolution = self.resolve(text)
        answer = self.reasoner.ask(resolution.resolved, on_token=on_token)
        return self._record(text, resolution, answer, started)

    def _record(self, text: str, resolution: Resolution, answer: Answer, started: float) -> Answer:
        answer.question = " ".join(text.split())
        answer.resolved_question = resolution.resolved
        answer.unresolved = resolution.unresolved
        for ref in resolution.used:
            if ref.kind == "person" and ref.gender:
                self._genders[ref.id or ref.text] = ref.gender
        refs = self.resolver.referents(resolution.resolved, answer, len(self.turns), self._order, self._genders)
        self._order += len(refs) + 1
        self.turns.append(Turn(answer.question, resolution.resolved, answer, refs, resolution.unresolved,
                               time.perf_counter() - started))
        if self.max_turns is not None and len(self.turns) > self.max_turns:
            del self.turns[: len(self.turns) - self.max_turns]
        return answer

    def remember(self, text: str, answer_text: str) -> Answer:
        """Record a turn answered elsewhere (a chat client sends the conversation's earlier messages): ``text``
        is resolved as :meth:`ask` resolves it, ``answer_text`` (the answer's first line) taken as its answer
        without asking the graph again; an answer opening with "The graph does not support" or "The text does
        not say" is taken as withheld."""
        from kgllm.types import NOT_STATED, NOT_SUPPORTED

        started = time.perf_counter()
        resolution = self.resolve(text)
        first = (answer_text or "").strip().splitlines()[0].strip() if (answer_text or "").strip() else ""
        supported = bool(first) and not first.startswith((NOT_SUPPORTED, NOT_STATED))
        linker = self.resolver.reasoner.retriever.linker
        hit = linker.link(first, limit=1) if supported else []
        answer = Answer(text, first, supported=supported, entities=[hit[0].entity_id] if hit else [])
        return self._record(text, resolution, answer, started)

    def reset(self) -> None:
        """Forget every turn (the next question starts a new conversation)."""
        self.turns.clear()
        self._order = 0
        self._genders.clear()

    @property
    def sources(self) -> list[Any]:
        """The source sentences of the latest answer (empty before the first turn)."""
        return list(self.turns[-1].answer.sources) if self.turns else []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the conversation (turns, answers' text and citations, entities in focus).

        >>> Conversation.from_dict({"turns": []}, reasoner=None).to_dict()
        {'turns': []}
        """
        return {"turns": [{
            "question": t.question, "resolved_question": t.resolved, "unresolved": list(t.unresolved),
            "answer": _answer_dict(t.answer), "referents": [r.to_dict() for r in t.referents]} for t in self.turns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], reasoner: Any) -> "Conversation":
        """The conversation :meth:`to_dict` wrote, continued with ``reasoner``."""
        from kgllm.types import Fact, Provenance

        conv = cls.__new__(cls)
        conv.reasoner = reasoner
        conv.resolver = Resolver(_resolving(reasoner, None)) if reasoner is not None else None  # type: ignore
        conv.max_turns = data.get("max_turns")
        conv.turns, conv._order, conv._genders = [], 0, {}
        for t in data.get("turns", []):
            a = t["answer"]
            facts = [Fact(f["subject_id"], f["relation"], f["object_id"], provenance=tuple(
                Provenance.from_dict(p) for p in f.get("provenance", [])),
                names=(f["subject"], f["object"])) for f in a.get("facts", [])]
            answer = Answer(t["question"], a["text"], facts, [Provenance.from_dict(p) for p in a.get("sources", [])],
                            a.get("supported", True), list(a.get("entities", [])), a.get("confidence", 0.0),
                            resolved_question=t.get("resolved_question"), unresolved=tuple(t.get("unresolved", ())))
            refs = [Referent.from_dict(r) for r in t.get("referents", [])]
            conv._order = max([conv._order, *(r.order + 1 for r in refs)])
            conv.turns.append(Turn(t["question"], t.get("resolved_question") or t["question"], answer, refs,
                                   tuple(t.get("unresolved", ()))))
        return conv


def _resolving(reasoner: Any, graph: Any) -> Any:
    """What resolves references: ``reasoner`` itself when it has a store and an entity linker (a
    :class:`~kgllm.reason.reasoner.Reasoner`), else a graph-only reasoner over ``graph`` (or its store)."""
    if hasattr(reasoner, "store") and hasattr(getattr(reasoner, "retriever", None), "linker"):
        return reasoner
    from kgllm.reason.reasoner import Reasoner

    source = graph if graph is not None else getattr(reasoner, "store", None)
    if source is None:
        raise InputError("a Conversation needs a Reasoner, or graph= to resolve references in")
    return Reasoner(source, llm=None)


def _answer_dict(answer: Answer) -> dict[str, Any]:
    return {"text": answer.text, "supported": answer.supported, "confidence": answer.confidence,
            "entities": list(answer.entities[:5]),
            "facts": [{"subject_id": f.subject, "relation": f.relation, "object_id": f.object,
                       "subject": (f.names or (f.subject, f.object))[0], "object": (f.names or (f.subject, f.object))[1],
                       "provenance": [p.to_dict() for p in f.provenance]} for f in answer.facts],
            "sources": [p.to_dict() for p in answer.sources]}
