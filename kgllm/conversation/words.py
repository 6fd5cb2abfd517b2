"""Conversation parts shared by the resolver and the conversation: referents, turns, parsing helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from kgllm.types import Answer

if TYPE_CHECKING:
    from kgllm.conversation.resolver import Resolver


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
