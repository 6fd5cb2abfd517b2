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
  founded?"). A noun phrase ("And Tannhof Verlag?", "What about her brother?") replaces the previous question's
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

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from kgllm.errors import InputError
from kgllm.types import Answer, entity_id

__all__ = ["Conversation", "Referent", "Resolution", "Resolver", "Turn", "normalise_question"]

_NAMED_TYPES = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW",
                          "LANGUAGE", ""})
_VALUE_TYPES = frozenset({"DATE", "TIME", "QUANTITY", "CARDINAL", "MONEY", "PERCENT", "ORDINAL"})
_PLACE_TYPES = frozenset({"GPE", "LOC"})  # a FAC (building, stadium, bridge) is a thing: "the castle"
_ORG_TYPES = frozenset({"ORG", "NORP"})
_PRONOUNS = {
    "he": ("person", "male", False), "him": ("person", "male", False), "his": ("person", "male", False),
    "she": ("person", "female", False), "her": ("person", "female", False), "hers": ("person", "female", False),
    "it": ("thing", None, False), "its": ("thing", None, False),
    "they": ("any", None, True), "them": ("any", None, True), "their": ("any", None, True),
}
_POSSESSIVE = frozenset({"his", "its", "their", "hers"})
_DISCOURSE = re.compile(r"^\s*(?:and|so|also|then|ok(?:ay)?|well|but)\b[\s,]*", re.I)
_ABOUT = re.compile(r"^\s*(?:what|how)\s+about\s+", re.I)
_WH_WORDS = frozenset({"who", "whom", "whose", "when", "where", "which", "what", "how", "why"})
_DETERMINERS = frozenset({"the", "this", "that", "these", "those"})
_DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})
#: Past forms whose participle differs (general English), for the passive of "Who wrote X?" -> "When was X written?".
_PARTICIPLES = {"wrote": "written", "began": "begun", "took": "taken", "gave": "given", "drove": "driven",
                "rode": "ridden", "chose": "chosen", "broke": "broken", "spoke": "spoken", "stole": "stolen",
                "froze": "frozen", "ate": "eaten", "saw": "seen", "knew": "known", "grew": "grown",
                "drew": "drawn", "threw": "thrown", "flew": "flown", "sang": "sung", "rang": "rung",
                "swam": "swum", "drank": "drunk", "did": "done", "went": "gone", "forgot": "forgotten",
                "hid": "hidden", "bit": "bitten", "shook": "shaken", "wore": "worn", "tore": "torn",
                "bore": "borne", "undertook": "undertaken", "overtook": "overtaken", "rewrote": "rewritten",
                "showed": "shown", "sewed": "sewn", "mistook": "mistaken", "forbade": "forbidden"}


@dataclass(slots=True)
class Referent:
    """An entity in focus: what a question named or an answer gave.

    ``text`` is the entity as the conversation wrote it (used when a reference is spelled out), ``kind`` one of
    ``person``, ``org``, ``place``, ``thing``, ``gender`` ``male``/``female``/None, ``order`` when it was
    introduced (higher: later), ``rank`` its salience within its turn (0: the subject of what was said).
    """

    id: str | None
    text: str
    kind: str
    gender: str | None = None
    turn: int = 0
    order: int = 0
    rank: int = 0
    role: str = "question"  # "question" or "answer"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "kind": self.kind, "gender": self.gender, "turn": self.turn,
                "order": self.order, "rank": self.rank, "role": self.role}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Referent":
        return cls(**{k: data[k] for k in ("id", "text", "kind", "gender", "turn", "order", "rank", "role")
                      if k in data})


@dataclass(slots=True)
class Turn:
    """One turn: the question as typed, the standalone question answered, the answer, the entities in focus."""

    question: str
    resolved: str
    answer: Answer
    referents: list[Referent] = field(default_factory=list)
    unresolved: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(slots=True)
class Resolution:
    """What :meth:`Resolver.resolve` made of a question: the standalone question and what it could not resolve."""

    question: str
    resolved: str
    unresolved: tuple[str, ...] = ()
    used: list[Referent] = field(default_factory=list)


def _parse(text: str) -> Any:
    from kgllm.reason.analysis import parse

    return parse(text)


def _possessive(name: str) -> str:
    """``name``'s possessive form.

    >>> _possessive("Joost Verhaak"), _possessive("Thornby Rovers")
    ("Joost Verhaak's", "Thornby Rovers'")
    """
    return name + ("'" if name.endswith("s") and not name.endswith("ss") else "'s")


def _inline(text: str) -> str:
    """A name as written inside a sentence (a leading "The" lower-cased)."""
    return "the" + text[3:] if text.startswith("The ") else text


def _is_named(text: str) -> bool:
    """Whether ``text`` is written as a name (a capitalised word or a digit in it)."""
    return any(w[:1].isupper() or w[:1].isdigit() for w in text.split() if w.lower() not in ("the", "a", "an"))


def _find(text: str, mention: str) -> tuple[int, int] | None:
    """Character span of ``mention`` (lower-case words) in ``text``, words matched whatever the case and the
    punctuation between them."""
    words = [re.escape(w) for w in re.findall(r"\w+", mention)]
    if not words:
        return None
    m = re.search(r"(?<!\w)" + r"\W{0,3}".join(words) + r"(?!\w)", text, re.I)
    return (m.start(), m.end()) if m else None


class Resolver:
    """Rewrites a follow-up into a standalone question against the entities of a conversation (see the module
    docstring). ``reasoner`` gives the graph (entity types, documents) and its entity linker."""

    def __init__(self, reasoner: Any) -> None:
        self.reasoner = reasoner
        self.store = reasoner.store
        self._gender: dict[str, dict[str, int]] = {}
        self._described: dict[tuple[str, str], Any] = {}
        self._sentences: list[str] | None = None
        self._revision: Any = None
        self._given: set[str] | None = None

    # ------------------------------------------------------------------ what the graph says of an entity
    def _texts(self) -> list[str]:
        from kgllm.retrieve.link import store_revision

        revision = store_revision(self.store)
        if self._sentences is None or revision != self._revision:
            documents = getattr(self.store, "documents", None)
            texts = [d.text for d in documents()] if callable(documents) else []
            self._sentences = [s for t in texts if t for s in re.split(r"(?<=[.!?])\s+", t) if s]
            self._revision = revision
            self._gender.clear()
            self._described.clear()
            self._given = None
        return self._sentences

    def kind(self, eid: str | None, text: str) -> str:
        """``person``, ``org``, ``place`` or ``thing``: the graph's entity type, checked against what the
        documents say of the name (the tagger's types are noisy): the pronouns that refer back to it (a PERSON the
        text calls "it" is not a person; a name it calls "he" or "she" is one) and the nouns that describe it ("X
        is a Dutch maker of ...": an organisation). A name the graph lacks is a ``thing``."""
        entity = self.store.get_entity(eid) if eid else None
        etype = entity.type if entity is not None else ""
        votes = self._votes(eid, text)
        personal = votes["male"] + votes["female"]
        said = self._description_kinds(eid, text)
        if personal > votes["it"] and (etype == "PERSON" or personal >= 2) and _is_named(text):
            return "person"
        if etype == "PERSON" and votes["it"] == 0 and (not said or "person" in said):
            return "person"
        for kind in ("org", "place", "thing"):
            if kind in said:
                return kind
        if etype in _ORG_TYPES:
            return "org"
        if etype in _PLACE_TYPES:
            return "place"
        return "thing"

    def _description_kinds(self, eid: str | None, text: str) -> set[str]:
        """The kinds of the nouns the documents describe the name by ("X is a maker of ...", "X, a firm ...")."""
        from kgllm.extract.descriptions import is_role_noun, kind_of_noun

        key = ("@kinds", eid or entity_id(text))
        if key not in self._described:
            names = {text, _strip_article(text)}
            entity = self.store.get_entity(eid) if eid else None
            if entity is not None:
                names |= {entity.name, *entity.aliases}
            names = {n for n in names if n and _is_named(n)}
            kinds: set[str] = set()
            if names:
                name = "(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
                found = re.finditer(rf"(?<!\w){name}(?:,| is| was| has been| had been)\s+(?:a|an|the|one of the)"
                                    rf"\s+((?:[\w-]+\s+){{0,5}}[\w-]+)", " ".join(self._texts()))
                for m in found:
                    for word in m.group(1).lower().split():
                        if word in ("of", "in", "for", "from", "with", "that", "which", "who", "and"):
                            break
                        kind = kind_of_noun(word) or ("person" if is_role_noun(word) else None)
                        if kind:
                            kinds.add(kind)
            self._described[key] = kinds  # type: ignore[assignment]
        return self._described[key]  # type: ignore[return-value]

    def gender(self, eid: str | None, text: str) -> str | None:
        """The gender the documents give a person: the pronouns that follow its name (in its sentence, before
        another name, and at the start of the next one), by majority; None when they do not tell."""
        votes = self._votes(eid, text)
        if votes["male"] == votes["female"]:
            return None
        return "male" if votes["male"] > votes["female"] else "female"

    def _votes(self, eid: str | None, text: str) -> dict[str, int]:
        """How often the documents refer back to the name by he/him/his, she/her and it/its."""
        sentences = self._texts()
        key = eid or entity_id(text)
        if key in self._gender:
            return self._gender[key]  # type: ignore[return-value]
        names = {text, _strip_article(text)}
        entity = self.store.get_entity(eid) if eid else None
        if entity is not None:
            names |= {entity.name, *entity.aliases}
        names = {n for n in names if n and _is_named(n)}
        words = _strip_article(text).split()
        if len(words) >= 2 and words[0][:1].isupper():  # a person's given name: the text's "Edith ... She ..."
            given = self.store.get_entity(entity_id(words[0]))
            if given is not None and given.type == "PERSON":
                names.add(given.name)
        votes = {"male": 0, "female": 0, "it": 0}
        pattern = re.compile(r"\b(he|him|his|she|her|hers|it|its)\b", re.I)
        for i, sentence in enumerate(sentences):
            for name in sorted(names, key=len, reverse=True):
                at = sentence.find(name)
                if at < 0 or len(sentence[:at].split()) > 2:  # the name opens the sentence: its subject
                    continue
                after = sentence[at + len(name):]
                other = self._other_person(after, names)  # the pronouns after another person may be theirs
                window = after[: other.start()] if other else after
                found = pattern.search(window)
                if found is None and other is None and i + 1 < len(sentences):
                    opening = " ".join(sentences[i + 1].split()[:6])  # "During the war he served ..."
                    stop = self._other_person(opening, names)
                    found = pattern.search(opening[: stop.start()] if stop else opening)
                if found is not None:
                    word = found.group(1).lower()
                    votes["male" if word in ("he", "him", "his") else "it" if word in ("it", "its") else "female"] += 1
                break
        self._gender[key] = votes  # type: ignore[assignment]
        return votes

    def _other_person(self, text: str, names: set[str]) -> Any:
        """The first mention in ``text`` of a person of the graph not named ``names`` (a match), or None."""
        if self._given is None:  # the given names of the graph's people
            self._given = {e.name.split()[0] for e in self.store.entities() if e.type == "PERSON" and e.name}
        own = {w for n in names for w in n.split()[:1]}
        for m in re.finditer(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)?", text):
            first = m.group(0).split()[0]
            if first in own:
                continue
            entity = self.store.get_entity(entity_id(m.group(0)))
            if first in self._given or (entity is not None and entity.type == "PERSON"):
                return m
        return None

    def described(self, ref: Referent, noun: str) -> bool:
        """Whether the documents call ``ref`` a ``noun``: "X is a (...) noun", "X, a (...) noun", "the noun X",
        "the noun of X", or the noun is a word of its name."""
        from kgllm.extract.descriptions import _SAME  # noqa: PLC2701 - the same spelling variants

        noun = noun.lower()
        forms = {noun, _SAME.get(noun, noun), *(k for k, v in _SAME.items() if v == noun)}
        name_words = {w.lower() for w in re.findall(r"\w+", ref.text)}
        if forms & name_words or any(w.endswith(f) and len(f) > 3 for w in name_words for f in forms):
            return True
        key = (ref.id or ref.text, noun)
        if key not in self._described:
            names = [re.escape(n) for n in {ref.text, _strip_article(ref.text)} if n]
            entity = self.store.get_entity(ref.id) if ref.id else None
            if entity is not None:
                names += [re.escape(n) for n in (entity.name, *entity.aliases) if n]
            nouns = "|".join(re.escape(f) for f in forms)
            name = "(?:" + "|".join(sorted(set(names), key=len, reverse=True)) + ")"
            patterns = [
                rf"{name},?\s+(?:is|was|are|were|has been|had been)\s+(?:also\s+)?(?:a|an|the|one)\b{_HEAD}\b(?:{nouns})s?\b",
                rf"{name},\s+(?:a|an|the)\b{_HEAD}\b(?:{nouns})s?\b",
                rf"\b(?:{nouns})\s+(?:of\s+)?{name}",
            ]
            text = " ".join(self._texts())
            self._described[key] = any(re.search(p, text, re.I) for p in patterns)
        return self._described[key]

    # ------------------------------------------------------------------ entities of a turn
    def referents(self, resolved: str, answer: Answer | None, turn: int, order: int,
                  hints: dict[str, str] | None = None) -> list[Referent]:
        """The entities a turn puts in focus: those ``resolved`` names (best first: its subject) and the
        answer's, ranked by salience (the subject of what was said first)."""
        doc = _parse(resolved)
        linked = _linked(self.reasoner, resolved, answer)
        found: list[tuple[int, Referent]] = []
        for le in linked:
            entity = self.store.get_entity(le.entity_id)
            if entity is not None and entity.type in _VALUE_TYPES:
                continue
            span = _find(resolved, le.mention)
            if span is None:
                continue
            written = resolved[span[0]:span[1]]
            if not _is_named(written):
                # a common noun names an entity only without an article ("keddite"), never "the siege"
                before = resolved[: span[0]].split()
                if before and before[-1].lower() in ("the", "a", "an", "this", "that", "his", "her", "its"):
                    continue
                if written.lower() in _WH_WORDS:
                    continue
                tok = _token_at(doc, span[0], span[1])
                if tok is None or tok.dep_ not in ("nsubj", "nsubjpass") or any(
                        c.dep_ in ("det", "poss") for c in tok.children):
                    continue
            span = _extend(doc, span)
            written = resolved[span[0]:span[1]]
            if resolved[: span[0]].lower().endswith("the "):
                written = "the " + written
            tok = _token_at(doc, span[0], span[1])
            rank = 0 if tok is not None and _is_subject(tok) else 2
            found.append((span[0], Referent(le.entity_id, written, self.kind(le.entity_id, written), None, turn,
                                            0, rank, "question")))
        found.sort(key=lambda x: (x[1].rank, x[0]))
        refs = [r for _, r in found]
        given = _answer_entity(self, answer)
        if given is not None:
            eid, text, supported = given
            wh = _wh_phrase(doc)
            subject_asked = wh is not None and _wh_is_subject(doc, wh[0][1])
            ref = Referent(eid, text, self.kind(eid, text), None, turn, 0, 1, "answer" if supported else "candidate")
            asked = _asked_noun(doc)
            if asked:
                from kgllm.extract.coref import noun_gender

                ref.gender = noun_gender(asked)
                if ref.gender is not None or asked in ("person", "man", "woman"):
                    ref.kind = "person"
            refs = [r for r in refs if (r.id or r.text) != (ref.id or ref.text)]
            if subject_asked and supported:
                refs.insert(0, ref)
            else:
                refs.append(ref)
        for i, r in enumerate(refs):
            r.rank = i
            r.order = order + (len(refs) if r.role != "question" else i)
            if r.kind == "person" and r.gender is None:
                r.gender = (hints or {}).get(r.id or r.text) or self.gender(r.id, r.text)
        return refs

    # ------------------------------------------------------------------ resolution
    def resolve(self, question: str, history: Sequence[Turn]) -> Resolution:
        """The standalone form of ``question`` after the turns of ``history``."""
        text = " ".join(question.split())
        if not history:  # nothing to refer to: a personal pronoun stays unresolved (a possessive may be bound)
            left = tuple(t.text for t in _parse(text) if t.lower_ in ("he", "she", "him", "they", "them")
                         and t.pos_ == "PRON")
            return Resolution(question, text, left)
        about = _ABOUT.match(text)
        body = text[about.end():] if about else _DISCOURSE.sub("", text, count=1)
        body = body[:1].upper() + body[1:] if body else body
        if not body.strip(" ?"):
            return Resolution(question, text)
        doc = _parse(body)
        clause = any(t.pos_ == "AUX" or (t.pos_ == "VERB" and any(
            c.dep_ in ("nsubj", "nsubjpass", "csubj", "expl") for c in t.children)) for t in doc)
        if not clause or about:
            wh = any(t.lower_ in _WH_WORDS for t in doc)
            if wh and not about:
                return self._new_wh(question, body, history)
            return self._new_entity(question, body, history)
        resolved, unresolved, used = self._references(body, history)
        return Resolution(question, resolved, unresolved, used)

    def _candidates(self, history: Sequence[Turn]) -> list[Referent]:
        """Entities in focus, most salient first: the latest turn first, then by rank within a turn."""
        out: list[Referent] = []
        seen: set[str] = set()
        for turn in reversed(history):
            for r in sorted(turn.referents, key=lambda r: r.rank):
                key = r.id or r.text.lower()
                if key not in seen:
                    seen.add(key)
                    out.append(r)
        return out

    def _pick(self, word: str, history: Sequence[Turn], named: set[str]) -> Referent | list[Referent] | None:
        kind, gender, plural = _PRONOUNS[word]
        cands = self._candidates(history)
        if plural:
            groups = [r for r in cands if r.kind == "org" or (r.kind == "thing" and r.text.endswith("s"))]
            people = [r for r in cands if r.kind == "person"]
            last = {(r.id or r.text.lower()) for r in history[-1].referents} if history else set()
            if groups and ((groups[0].id or groups[0].text.lower()) in last or len(people) < 2):
                return groups[0]
            if len(people) >= 2:
                return sorted(people[:2], key=lambda r: r.order)
            return groups[0] if groups else None
        if kind == "person":
            fits = [r for r in cands if r.kind == "person" and r.gender in (gender, None)]
            if not fits:
                return None
            latest = max(r.turn for r in fits)  # the latest turn with a fitting person; the right gender first
            return min((r for r in fits if r.turn == latest), key=lambda r: (r.gender != gender, r.rank))
        fits = [r for r in cands if r.kind != "person"]
        return fits[0] if fits else None

    def _references(self, body: str, history: Sequence[Turn]) -> tuple[str, tuple[str, ...], list[Referent]]:
        """Pronouns and definite descriptions of ``body`` spelled out (left to right)."""
        doc = _parse(body)
        edits: list[tuple[int, int, str]] = []
        unresolved: list[str] = []
        used: list[Referent] = []
        named: set[str] = set()
        # entities in focus the question names itself (written out: no second linking of the question)
        for ref in self._candidates(history):
            if _is_named(ref.text) and _find(body, _strip_article(ref.text)) is not None:
                named.add(ref.id or ref.text.lower())
        skip: set[int] = set()
        for tok in doc:
            if tok.i in skip:
                continue
            low = tok.lower_
            if low in _PRONOUNS and tok.pos_ == "PRON" or (low in _PRONOUNS and tok.tag_ == "PRP$"):
                possessive = low in _POSSESSIVE or tok.tag_ == "PRP$" or tok.dep_ == "poss"
                pick = self._pick(low, history, named)
                if pick is None:
                    unresolved.append(tok.text)
                    continue
                picks = pick if isinstance(pick, list) else [pick]
                ids = {(p.id or p.text.lower()) for p in picks}
                if possessive and ids <= named:
                    continue  # "Where did he take his degree?": the question names him already
                name = " and ".join(_inline(p.text) for p in picks)
                if tok.i == 0:
                    name = name[:1].upper() + name[1:]
                nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
                if not possessive and nxt is not None and nxt.dep_ == "prt" and nxt.head == tok.head:
                    edits.append((tok.idx, nxt.idx + len(nxt.text), f"{nxt.text} {name}"))  # "set it up"
                    skip.add(nxt.i)
                else:
                    edits.append((tok.idx, tok.idx + len(tok.text), _possessive(name) if possessive else name))
                named |= ids
                used.extend(picks)
                if not isinstance(pick, list) and pick.kind == "person" and _PRONOUNS[low][1]:
                    pick.gender = pick.gender or _PRONOUNS[low][1]
                continue
            if tok.pos_ == "NOUN" and tok.dep_ != "compound":
                dets = [c for c in tok.children if c.dep_ == "det" and c.lower_ in _DETERMINERS]
                if not dets or any(c.dep_ in ("amod", "compound", "nummod", "prep", "relcl", "acl", "poss", "nmod")
                                   for c in tok.children):
                    continue
                ref = self._definite(tok.lemma_.lower(), dets[0].lower_ in _DEMONSTRATIVES, history, named)
                if ref is None:
                    if _is_kind_noun(tok.lemma_.lower()):
                        unresolved.append(f"{dets[0].text} {tok.text}")
                    continue
                start = dets[0].idx
                end = tok.idx + len(tok.text)
                name = _inline(ref.text)
                if start == 0:
                    name = name[:1].upper() + name[1:]
                nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
                if nxt is not None and nxt.tag_ == "POS":
                    end = nxt.idx + len(nxt.text)
                    skip.add(nxt.i)
                    name = _possessive(name)
                edits.append((start, end, name))
                named.add(ref.id or ref.text.lower())
                used.append(ref)
        out = body
        for start, end, new in sorted(edits, reverse=True):
            out = out[:start] + new + out[end:]
        return out, tuple(unresolved), used

    def _definite(self, noun: str, demonstrative: bool, history: Sequence[Turn],
                  named: set[str]) -> Referent | None:
        """The entity in focus a definite description ("the company", "that firm") stands for, or None."""
        from kgllm.extract.descriptions import kind_of_noun

        cands = self._candidates(history)
        if demonstrative:  # "that company": the one introduced most recently
            cands = sorted(cands, key=lambda r: -r.order)
        kind = kind_of_noun(noun)
        scored: list[tuple[int, int, Referent]] = []
        for i, ref in enumerate(cands):
            if (ref.id or ref.text.lower()) in named:
                continue
            if self.described(ref, noun):
                scored.append((0, i, ref))
            elif kind is not None and kind == ref.kind:
                scored.append((1, i, ref))
            elif _is_named(ref.text) and ref.kind != "person" and (kind == "thing" or (kind == "org"
                                                                                        and ref.kind != "place")):
                scored.append((2, i, ref))  # entity types are read by a tagger: an org noun may fit a "thing"
        if not scored:
            return None
        return min(scored, key=lambda x: (x[0], x[1]))[2]

    def _new_wh(self, question: str, fragment: str, history: Sequence[Turn]) -> Resolution:
        """"When?", "In which year?", "By whom?": the previous question asked with this question phrase."""
        prev = history[-1]
        doc = _parse(prev.resolved)
        wh = _wh_phrase(doc)
        new = fragment.strip().rstrip("?").strip()
        new = new[:1].upper() + new[1:]
        if wh is None:
            return Resolution(question, fragment, ("the previous question's question word",))
        (start, end), head = wh
        rest_tokens = [t for t in doc if t.i >= end and not t.is_punct]
        if not rest_tokens:
            return Resolution(question, fragment, ("the previous question",))
        given = _answer_entity(self, prev.answer)
        answer = prev.answer.text if prev.answer.supported and len(prev.answer.text) < 80 else \
            (given[1] if given is not None else None)
        old = doc[start:end].text.lower()
        adverbial = head.dep_ in ("advmod", "npadvmod") or head.lower_ in ("when", "where", "why") \
            or (doc[start].dep_ == "prep" and not _stranded(doc))
        stranded = _stranded(doc)
        text_of = lambda toks: " ".join(t.text for t in toks).replace(" 's", "'s").replace(" '", "'")  # noqa: E731
        if stranded is not None and answer is not None:  # "Where did Ruth emigrate to?" -> "... to Canada?"
            before = doc[end:stranded.i + 1].text
            after = doc[stranded.i + 1:].text.rstrip(" ?")
            return Resolution(question, f"{new} {before} {_inline(answer)}{(' ' + after) if after else ''}?")
        if adverbial or answer is None:
            rest = doc[end:].text.rstrip(" ?")
            return Resolution(question, f"{new} {rest}?",
                              () if adverbial or not old else ("the answer to the previous question",))
        if stranded is not None:  # "Where did Ruth emigrate to?" "In which year?" -> "... emigrate to Canada?"
            before = doc[end:stranded.i + 1].text
            after = doc[stranded.i + 1:].text.rstrip(" ?")
            return Resolution(question, f"{new} {before} {_inline(answer)}{(' ' + after) if after else ''}?")
        if _wh_is_subject(doc, end):  # "Who founded X?" "When?" -> "When was X founded?"
            verb = doc[end]
            objs = [c for c in verb.children if c.dep_ == "dobj"]
            if verb.pos_ == "VERB" and verb.lower_ not in _AUXILIARIES and objs:
                obj = objs[0]
                obj_span = doc[obj.left_edge.i: obj.right_edge.i + 1]
                plural = obj.tag_ in ("NNS", "NNPS") and not obj_span.text[:1].isupper()
                past = verb.tag_ in ("VBD", "VBN")
                aux = ("were" if plural else "was") if past else ("are" if plural else "is")
                participle = _PARTICIPLES.get(verb.lower_, verb.text) if past else _participle(verb)
                tail = [t for t in doc if t.i > verb.i and not (obj.left_edge.i <= t.i <= obj.right_edge.i)
                        and not t.is_punct]
                particle = [t for t in tail if t.dep_ == "prt" and t.head == verb]
                tail = [t for t in tail if t not in particle]
                words = [new, aux, obj_span.text, participle, *(t.text for t in particle)]
                if tail:
                    words.append(text_of(tail))
                return Resolution(question, " ".join(w for w in words if w) + "?")
            rest = doc[end:].text.rstrip(" ?")
            return Resolution(question, f"{new} {rest}?")
        # the object: "Which company did Lumora buy in 2019?" "For how much?" -> "... buy Kestrel in 2019?"
        verb = next((t for t in doc[end + 1:] if t.pos_ == "VERB" and t.lower_ not in _AUXILIARIES), None)
        if verb is None:
            rest = doc[end:].text.rstrip(" ?")
            return Resolution(question, f"{new} {rest}?")
        at = verb
        nxt = doc[verb.i + 1] if verb.i + 1 < len(doc) else None
        if nxt is not None and (nxt.dep_ == "prt" or (nxt.pos_ == "ADP" and nxt.head == verb and not any(
                c.dep_ == "pobj" for c in nxt.children) and nxt.i + 1 < len(doc) and not doc[nxt.i + 1].is_punct)):
            at = nxt  # "hand over"
        before = doc[end:at.i + 1].text
        after = doc[at.i + 1:].text.rstrip(" ?")
        return Resolution(question, f"{new} {before} {_inline(answer)}{(' ' + after) if after else ''}?")

    def _new_entity(self, question: str, fragment: str, history: Sequence[Turn]) -> Resolution:
        """"And Tannhof Verlag?", "What about her brother?": the previous question about this instead."""
        prev = history[-1]
        phrase, unresolved, used = self._references(fragment.strip().rstrip("?").strip(), history)
        phrase = _inline(phrase)
        prev_doc = _parse(prev.resolved)
        # "What about her brother?" after "Who is Fiona's father?": the phrase with the same possessor
        pos = re.match(r"^(.*?)(?:'s|')\s+(.+)$", phrase)
        if pos is not None:
            owner = pos.group(1)
            for tok in prev_doc:
                if tok.tag_ == "POS" and prev.resolved[: tok.idx].rstrip().lower().endswith(owner.lower()):
                    head = tok.head.head if tok.head.dep_ == "poss" else tok.head
                    start = tok.idx - len(owner)
                    end = head.idx + len(head.text)
                    if end > tok.idx:
                        return Resolution(question, prev.resolved[:start] + phrase + prev.resolved[end:],
                                          unresolved, used)
            span = _find(prev.resolved, owner)
            if span is not None:  # "Where does Joost live?" "What about his brother?"
                return Resolution(question, prev.resolved[:span[0]] + phrase + prev.resolved[span[1]:],
                                  unresolved, used)
        linked = self.reasoner.retriever.linker.link(phrase, limit=1)
        new_kind = self.kind(linked[0].entity_id, phrase) if linked else None
        targets = [r for r in prev.referents if r.role == "question" and _find(prev.resolved, r.text) is not None]
        same = [r for r in targets if r.kind == new_kind] or targets
        if not same:
            return Resolution(question, fragment, (*unresolved, "what the previous question asked about"), used)
        target = same[0]
        span = _find(prev.resolved, _strip_article(target.text))
        assert span is not None
        start, end = span
        new = _strip_article(phrase) if prev.resolved[:start].lower().endswith("the ") else phrase
        if start == 0:
            new = new[:1].upper() + new[1:]
        return Resolution(question, prev.resolved[:start] + new + prev.resolved[end:], unresolved, used)


def _linked(reasoner: Any, question: str, answer: Answer | None) -> list[Any]:
    """The entities ``question`` names: those the reasoner linked when answering it (the seeds of the answer's
    subgraph, found in the question by name or alias), else the entity linker's (a turn costs no second linking)."""
    from kgllm.retrieve.link import LinkedEntity

    seeds = list(answer.subgraph.seeds) if answer is not None and answer.subgraph is not None else []
    out = []
    for eid in seeds:
        entity = reasoner.store.get_entity(eid)
        names = [entity.name, *entity.aliases] if entity is not None else [eid]
        for name in sorted(names, key=len, reverse=True):
            if name and _find(question, name.lower()) is not None:
                out.append(LinkedEntity(eid, " ".join(re.findall(r"\w+", name.lower())), 1.0, "seed"))
                break
    return out if out else reasoner.retriever.linker.link(question, limit=4)


def _answer_entity(resolver: Resolver, answer: Answer | None) -> tuple[str | None, str, bool] | None:
    """The entity an answer gives (id, name as written, whether supported), or None when it gives none (a date,
    a number, a description). A withheld answer's best candidate still counts, after the question's entities: the
    user sees in the next resolved question what was understood."""
    if answer is None or not answer.text:
        return None
    store = resolver.store
    if answer.supported:
        text = answer.text
        if not _is_named(text) or len(text) > 80:
            return None
        eid = answer.entities[0] if answer.entities else None
        if eid is None or store.get_entity(eid) is None:
            hit = resolver.reasoner.retriever.linker.link(text, limit=1)
            eid = hit[0].entity_id if hit else None
    else:
        eid = answer.entities[0] if answer.entities else None
        entity = store.get_entity(eid) if eid else None
        if entity is None or not _is_named(entity.name):
            return None
        text = entity.name
    entity = store.get_entity(eid) if eid else None
    if entity is not None and entity.type in _VALUE_TYPES:
        return None
    return eid, text, answer.supported


def _extend(doc: Any, span: tuple[int, int]) -> tuple[int, int]:
    """A name's span grown over the rest of the name the question writes ("Tessellate" -> "Tessellate 3.0",
    "Tiles" -> "Tiles at Scale"): following proper nouns and numbers, and a preposition between two."""
    start, end = span
    toks = [t for t in doc if t.idx >= end]
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.idx > end + 1:
            break
        if t.pos_ in ("PROPN", "NUM") and (t.text[:1].isupper() or t.text[:1].isdigit()):
            end = t.idx + len(t.text)
            i += 1
            continue
        if t.lower_ in ("of", "at", "de", "del", "da", "von") and i + 1 < len(toks) \
                and toks[i + 1].text[:1].isupper() and toks[i + 1].pos_ == "PROPN":
            end = toks[i + 1].idx + len(toks[i + 1].text)
            i += 2
            continue
        break
    return start, end


def _strip_article(text: str) -> str:
    return re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.I)


def _is_kind_noun(noun: str) -> bool:
    from kgllm.extract.descriptions import is_role_noun, kind_of_noun

    return kind_of_noun(noun) is not None or is_role_noun(noun)


def _participle(verb: Any) -> str:
    """The past participle of a present-tense verb (regular spelling; the lemma's irregular forms known)."""
    lemma = verb.lemma_.lower()
    irregular = {"write": "written", "make": "made", "sell": "sold", "build": "built", "run": "run",
                 "hold": "held", "lead": "led", "pay": "paid", "teach": "taught", "buy": "bought",
                 "find": "found", "keep": "kept", "begin": "begun", "take": "taken", "give": "given"}
    if lemma in irregular:
        return irregular[lemma]
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and lemma[-2:-1] not in "aeiou":
        return lemma[:-1] + "ied"
    return lemma + "ed"


def _token_at(doc: Any, start: int, end: int) -> Any:
    """The head token of the span ``[start, end)`` of ``doc``'s text."""
    toks = [t for t in doc if t.idx >= start and t.idx + len(t.text) <= end]
    if not toks:
        return None
    inside = {t.i for t in toks}
    return next((t for t in toks if t.head.i not in inside or t.head is t), toks[-1])


def _is_subject(tok: Any) -> bool:
    return tok.dep_ in ("nsubj", "nsubjpass", "csubj")


def _wh_phrase(doc: Any) -> tuple[tuple[int, int], Any] | None:
    """The fronted question phrase: its token range (up to the first verb) and its head token."""
    if not len(doc) or doc[0].lower_ not in _WH_WORDS and not (
            doc[0].dep_ == "prep" and any(t.lower_ in _WH_WORDS for t in doc[1:3])):
        return None
    end = next((t.i for t in doc if t.pos_ in ("AUX", "VERB")), None)
    if end is None or end == 0:
        return None
    inside = set(range(0, end))
    head = next((t for t in doc[0:end] if t.head.i not in inside or t.head is t), doc[0])
    return (0, end), head


_AUXILIARIES = frozenset("do does did is are was were am be been has have had can could will would shall should may "
                         "might must".split())


def _wh_is_subject(doc: Any, end: int) -> bool:
    """Whether the fronted question phrase (ending before token ``end``) is the subject: no auxiliary inverted
    with a subject follows it ("Who founded X?", "Who was born in Y?"; not "Which firm did X buy?")."""
    if end >= len(doc):
        return False
    word = doc[end]
    if word.lower_ not in _AUXILIARIES:
        return True
    after = doc[end + 1] if end + 1 < len(doc) else None
    return after is not None and after.pos_ == "VERB" and after.tag_ in ("VBN", "VBG")


def _stranded(doc: Any) -> Any:
    """A preposition whose object was fronted ("Where did Ruth emigrate to?"), or None."""
    for t in doc:
        if t.dep_ == "prep" and t.i > 0 and not any(c.dep_ in ("pobj", "pcomp") and c.i > t.i for c in t.children):
            nxt = doc[t.i + 1] if t.i + 1 < len(doc) else None
            if nxt is None or nxt.is_punct:
                return t
    return None


def _asked_noun(doc: Any) -> str | None:
    """The noun a "who is X's N" / "who is the N of X" question asks (its gender tells the answer's)."""
    wh = _wh_phrase(doc)
    if wh is None or doc[0].lower_ not in ("who", "whom"):
        return None
    for t in doc:
        if t.dep_ in ("attr", "nsubj") and t.pos_ == "NOUN" and t.i > 0:
            return t.lemma_.lower()
    return None


_WORDS = re.compile(r"[^\w\s]")
#: The words between an article and the head noun of a description: no clause or preposition crossed ("a maker
#: of bicycle lights" does not call the maker a light).
_HEAD = r"(?:(?!\b(?:of|for|with|that|which|who|by|from|in|and)\b)[^.;,]){0,60}?"


def normalise_question(text: str, same: Iterable[Sequence[str]] = (), linker: Any = None) -> str:
    """The form in which a resolved question is compared with the expected standalone one: case folded, possessive
    endings and punctuation dropped, articles dropped, whitespace collapsed, ``whom`` read as ``who``, and each name
    of a group in ``same`` (names of one entity, e.g. the gold answers of one turn) written as the group's first;
    with ``linker`` (an :class:`~kgllm.retrieve.link.EntityLinker`), each name it links written as the entity's id
    ("the abbey of San Fedele" and "San Fedele" are one entity of the graph).

    >>> normalise_question("Where was the Treaty of Ravasco signed?") == normalise_question("where was treaty of ravasco signed")
    True
    >>> normalise_question("When was Edith Trask born?", [["Edith Trask", "Edith Penhallow"]])
    'when was edith trask born'
    >>> normalise_question("When was Edith Penhallow born?", [["Edith Trask", "Edith Penhallow"]])
    'when was edith trask born'
    >>> normalise_question("What is Thornby Rovers' ground?") == normalise_question("What is Thornby Rovers's ground?")
    True
    """
    def norm(s: str) -> str:
        s = s.casefold().replace("’", "'")
        s = re.sub(r"'s\b", "", s).replace("'", "")
        s = _WORDS.sub(" ", s)
        words = [("who" if w == "whom" else w) for w in s.split() if w not in ("the", "a", "an")]
        return " ".join(words)

    for group in same:
        names = [n for n in group if n.strip()]
        for n in sorted(names[1:], key=len, reverse=True):
            text = re.sub(rf"(?<!\w){re.escape(n)}(?!\w)", names[0], text, flags=re.I)
    if linker is not None:  # each name the graph knows written as its entity's id
        for le in sorted(linker.link(text, limit=6), key=lambda le: -len(le.mention)):
            span = _find(text, le.mention)
            if span is not None and _is_named(text[span[0]:span[1]]):
                text = text[:span[0]] + "@" + le.entity_id.replace(" ", "_") + text[span[1]:]
    out = f" {norm(text)} "
    for group in same:
        names = [norm(n) for n in group if norm(n)]
        for n in sorted(names[1:], key=len, reverse=True):
            out = out.replace(f" {n} ", f" {names[0]} ")
    return out.strip()


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
