"""Pronouns, relative pronouns and what a noun phrase stands for (a simple, documented heuristic).

Antecedents
    ``he``/``she`` (and object ``him``/``her``) become the most recent PERSON
    mention of the same document before the pronoun (an object pronoun never
    refers to its own clause's subject), preferring the subject of this or the
    previous sentence, and a subject name the tagger did not label a person when
    no person fits; ``it``/``its`` the most recent named non-person mention,
    preferring the subject of this or the previous sentence; ``they``/``them``/
    ``their`` the most recent coordinated group of mentions (coordinated subjects
    included: "Walter and his wife, Jean, ..."), else a named non-person subject of
    this or the previous sentence, else the most recent named non-person mention;
    "their" with a family noun ("their son") the latest group of people or person
    subject of an earlier sentence. The possessives ``his``/``her``/``its``/
    ``their`` first try the subject of their own clause when it comes before them
    ("Omar and his sister Ines": Omar; "Ines, his sister" with Omar as the
    subject), then the rules above. Relative pronouns (``who``, ``which``,
    ``that``, ``whose``) are the noun the clause modifies; a predicate noun or
    apposition of a name stands for the name ("X is a line that climbs ...": X),
    and ``which`` never for a known person. A pronoun with no antecedent stands
    for nothing (no fact). Resolved pronoun subjects count as mentions of their
    sentence (so "She ... She ... her" stays with one person).

Noun phrases
    A common noun followed by a named apposition stands for the name ("his
    sister Ines" -> Ines), and a generic place noun with ``of`` for the place
    ("the town of Kvarnvik" -> Kvarnvik). Definite descriptions ("the company"),
    surnames or first names alone ("Ostby") and "there" are resolved by
    :mod:`kgllm.extract.descriptions`.

Clause subjects (:meth:`Referents.subjects`) are here too: both the antecedent
rules and :mod:`kgllm.extract.patterns` use them.

Examples
--------
>>> from kgllm.extract.mentions import SentenceMentions
>>> from kgllm.resources import get_nlp
>>> from kgllm.types import Chunk
>>> state, nlp = DocState(), get_nlp()
>>> for i, text in enumerate(["Ada Lovelace moved to London.", "She opened a school there."]):
...     refs = Referents(SentenceMentions(nlp(text), Chunk("d", i, text, 0, len(text))), state)
...     state.history.extend(refs.local)
>>> [m.text for m in refs.refer(refs.doc[0])]  # "She"
['Ada Lovelace']
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable

from kgllm.extract.descriptions import (Descriptions, definite_referent, is_role_noun, kind_of_noun,
                                        learn_descriptions, place_referent, short_name)
from kgllm.extract.mentions import COPULAS, NOMINAL, NUMERIC_LABELS, RELATIVE, SUBJ, Mention, SentenceMentions

if TYPE_CHECKING:
    from spacy.tokens import Token

__all__ = ["DocState", "Referents", "GENDERED_NOUNS", "PRONOUN_GENDER", "noun_gender"]

_PERSON_PRON = {"he", "she", "him", "her", "his", "hers"}
_THING_PRON = {"it", "its"}
_GROUP_PRON = {"they", "them", "their", "theirs"}
_INHERIT = {"conj", "xcomp", "advcl"}
_KIN_PLAIN = {"child", "parent", "sibling", "cousin", "grandchild", "grandparent", "spouse", "partner", "twin"}
# Generic place classifiers: "the town of Kvarnvik" denotes Kvarnvik.
_PLACE_NOUNS = {"city", "town", "village", "region", "state", "country", "province", "county", "island",
                "municipality", "district", "kingdom", "republic", "borough", "area", "territory"}


#: Pronoun -> the gender it refers to.
PRONOUN_GENDER = {"he": "male", "him": "male", "his": "male", "himself": "male",
                  "she": "female", "her": "female", "hers": "female", "herself": "female"}
#: Person nouns that tell a gender ("his daughter Mira": Mira is female). General English words.
GENDERED_NOUNS = {
    **dict.fromkeys(("son", "father", "brother", "husband", "grandson", "grandfather", "uncle", "nephew",
                     "dad", "daddy", "grandpa", "boyfriend", "man", "boy", "gentleman", "king", "prince",
                     "actor", "waiter", "mr", "sir", "lord", "monk", "stepson", "stepfather", "stepbrother",
                     "fiance", "widower", "groom", "bridegroom", "son-in-law", "father-in-law",
                     "brother-in-law", "great-grandson", "great-grandfather"), "male"),
    **dict.fromkeys(("daughter", "mother", "sister", "wife", "granddaughter", "grandmother", "aunt", "niece",
                     "mom", "mum", "mommy", "grandma", "granny", "girlfriend", "woman", "girl", "lady", "queen",
                     "princess", "actress", "waitress", "mrs", "ms", "madam", "nun", "stepdaughter",
                     "stepmother", "stepsister", "fiancee", "widow", "bride", "daughter-in-law",
                     "mother-in-law", "sister-in-law", "great-granddaughter", "great-grandmother"), "female"),
}


def noun_gender(word: str) -> str | None:
    """The gender a person noun or relation name tells (``son_in_law`` -> male), or None.

    >>> noun_gender("daughter"), noun_gender("Son_In_Law"), noun_gender("sister_of"), noun_gender("teacher")
    ('female', 'male', 'female', None)
    """
    w = word.lower().replace("_", "-").replace(" ", "-")
    return GENDERED_NOUNS.get(w[:-3] if w.endswith("-of") else w)


@dataclass(slots=True)
class DocState:
    """What earlier sentences of one document left for pronoun resolution.

    ``gender`` maps a mention id to the gender the text gave it so far: a gendered noun naming it
    (``strong``) or a pronoun resolved to it.
    """

    history: list[Mention] = field(default_factory=list)  # mentions of the earlier sentences, in order
    groups: int = 0  # coordination group ids handed out so far
    gender: dict[str, str] = field(default_factory=dict)
    strong: set[str] = field(default_factory=set)  # ids whose gender a noun gave (pronouns do not override)
    evidence: dict[str, int] = field(default_factory=dict)  # id -> chunk index where its gender was first read
    descriptions: Descriptions = field(default_factory=Descriptions)  # what the text said each entity is
    paragraph: int = 0  # paragraph of the sentence being read
    years: list[tuple[int, int, int]] = field(default_factory=list)  # (paragraph, chunk, year) of stated years

    def new_group(self) -> int:
        """A fresh coordination group id."""
        self.groups += 1
        return self.groups - 1

    def learn_gender(self, mention: Mention, gender: str | None, strong: bool) -> None:
        """Record that ``mention`` is ``gender`` (a noun's word overrides a pronoun's)."""
        if gender is None or (mention.id in self.strong and not strong):
            return
        if strong or mention.id not in self.gender:
            self.gender[mention.id] = gender
            self.evidence.setdefault(mention.id, mention.sent)
        if strong:
            self.strong.add(mention.id)

    def fits(self, mention: Mention, gender: str | None) -> bool:
        """Whether ``mention`` may be referred to by a pronoun of ``gender``."""
        return gender is None or self.gender.get(mention.id, gender) == gender

    def is_person(self, mention: Mention) -> bool:
        """A PERSON mention the text did not call a place, organisation or thing, or one it gave a gender."""
        if mention.id in self.gender:
            return True
        return mention.is_person() and not self.descriptions.kinds(mention) - {"person"}


class Referents:
    """What the tokens of one sentence stand for, given the document so far.

    Parameters
    ----------
    mentions : SentenceMentions
        The sentence's mentions.
    state : DocState
        The document's earlier mentions; the caller appends :attr:`local` after the sentence.

    Attributes
    ----------
    local : list[Mention]
        Named mentions and main-clause subjects of the sentence, in order (antecedent candidates).
    """

    def __init__(self, mentions: SentenceMentions, state: DocState) -> None:
        self.mentions = mentions
        self.doc = mentions.doc
        self.chunk = mentions.chunk
        self.state = state
        self.local: list[Mention] = []  # filled below; resolution during the scan sees only earlier sentences
        self.local = self._local_mentions()
        learn_descriptions(self)

    def _local_mentions(self) -> list[Mention]:
        found = [short_name(m, self) for m in self.mentions.named(self.state.new_group)]
        for tok in self.doc:  # main-clause subjects, named or not ("The bakery ... It sells ...")
            if tok.dep_ in SUBJ and tok.head.dep_ in ("ROOT", "conj"):
                coordinated = [t for t in [tok, *tok.conjuncts] if t.pos_ != "PRON" or t.i == tok.i]
                gid = self.state.new_group() if len(coordinated) > 1 else -1
                for t in coordinated:
                    if t.pos_ == "PRON" and t.lower_ in RELATIVE:
                        continue  # a pronoun conjunct ("the crew and her") names no new mention
                    for m in self.refer(t):
                        if m.sent != self.chunk.index:  # an earlier mention (a pronoun's antecedent), read here
                            m = replace(m, start=t.i, end=t.i + 1, head=t.i, sent=self.chunk.index, group=-1)
                        m.subject = True
                        old = next((x for x in found if x.head == m.head), None)
                        if old is None:
                            found.append(m)
                            old = m
                        old.subject = True
                        if gid >= 0 and old.group < 0:
                            old.group = gid  # "Walter and his wife, Jean, ...": they
        return sorted(found, key=lambda m: m.start)

    def refer(self, tok: Token, exclude: Iterable[str] = ()) -> list[Mention]:
        """Mentions a token stands for: itself, its named apposition, or a pronoun's antecedent."""
        low = tok.lower_
        if low in RELATIVE and tok.tag_ in ("WP", "WDT", "WP$", "DT") or (low == "that" and tok.dep_ in SUBJ):
            clause = tok.head
            for _ in range(4):  # "whose birthplace was": climb to the relative clause
                if clause.dep_ in ("relcl", "acl") or clause.head.i == clause.i:
                    break
                clause = clause.head
            if clause.dep_ in ("relcl", "acl") and clause.head.i != tok.i:
                found = self._described(clause.head)
                if low == "which" and found and all(self._known_person(m) for m in found):
                    # "which" cannot stand for a person the parser hung the clause on: the nearest thing named before
                    named = [m for m in self.local if m.end <= tok.i and m.label not in NUMERIC_LABELS
                             and (m.label or m.text[:1].isupper()) and not self.state.is_person(m)]
                    return named[-1:] or found
                return found
            return []
        if tok.pos_ == "PRON":
            return self._antecedent(tok, set(exclude))
        if low == "there" and tok.dep_ == "advmod":
            return place_referent(tok, self)
        if tok.pos_ == "NOUN" and tok.i not in self.mentions.ent_of:
            # "his sister Ines" -> Ines; "the town of Kvarnvik" -> Kvarnvik
            for child in tok.rights:
                if child.dep_ == "appos" and (child.pos_ == "PROPN" or child.i in self.mentions.ent_of):
                    owner = [c for c in child.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
                    m = self.mentions.mention(owner[0] if owner else child)  # "her brother Milo's garden" -> Milo
                    return [m] if m else []
            if tok.lemma_.lower() in _PLACE_NOUNS:
                for prep in tok.rights:
                    if prep.dep_ == "prep" and prep.lower_ == "of":
                        for pobj in prep.children:
                            if pobj.dep_ == "pobj" and (pobj.pos_ == "PROPN" or pobj.i in self.mentions.ent_of):
                                m = self.mentions.mention(pobj)
                                return [m] if m else []
            described = definite_referent(tok, self)
            if described is not None:
                return described
        m = self.mentions.mention(tok)
        return [short_name(m, self)] if m else []

    def _described(self, noun: Token) -> list[Mention]:
        """What a relative clause's noun stands for; a predicate noun or apposition of a name stands for the
        name ("X is a line that climbs ...", "X, a firm which ...")."""
        if noun.pos_ == "NOUN" and noun.i not in self.mentions.ent_of:
            if noun.dep_ in ("attr", "oprd") and noun.head.lemma_.lower() in COPULAS:
                found = [m for s in self.subjects(noun.head) if s.pos_ != "PRON" or s.lower_ not in RELATIVE
                         for m in self.refer(s)]
                if found:
                    return found
            if noun.dep_ == "appos" and noun.head.pos_ in ("PROPN", "NOUN", "PRON"):
                found = self.refer(noun.head)
                if found:
                    return found
        return self.refer(noun)

    def refer_all(self, tok: Token, exclude: Iterable[str] = ()) -> list[Mention]:
        """:meth:`refer` for a token and each of its nominal conjuncts."""
        out: list[Mention] = []
        for t in [tok, *[c for c in tok.conjuncts if c.pos_ in NOMINAL]]:
            for m in self.refer(t, exclude):
                if m.id not in {x.id for x in out}:
                    out.append(m)
        return out

    def _antecedent(self, tok, exclude: set[str]) -> list[Mention]:
        low = tok.lower_
        if low not in _PERSON_PRON | _THING_PRON | _GROUP_PRON or _quoted(tok):
            return []  # a pronoun inside quotation marks belongs to a title or a quote, not to the story
        if tok.dep_ == "poss":
            found = self._clause_owner(tok, exclude)
            if found:
                return found
        elif tok.dep_ not in SUBJ:
            verb = self.governor(tok)
            if verb is not None:
                for s in self.subjects(verb):
                    exclude |= {m.id for m in self.refer(s)} if s.pos_ != "PRON" else set()
        candidates = self.state.history + [m for m in self.local if m.end <= tok.i]
        candidates = [m for m in candidates if m.id not in exclude]
        subjects = [m for m in candidates if m.subject and m.sent >= self.chunk.index - 1]
        if low in _PERSON_PRON:
            gender = PRONOUN_GENDER.get(low)
            found = (self._latest(subjects, lambda m: self.state.is_person(m) and self.state.fits(m, gender))
                     or self._latest(candidates, lambda m: self.state.is_person(m) and self.state.fits(m, gender))
                     or self._latest(subjects, self._may_be_person))  # a name the tagger took for something else
            for m in found:
                self.state.learn_gender(m, gender, strong=False)
            return found
        if low in _THING_PRON:  # the thing a recent sentence is about, else the document's topic, else the last thing
            def thing(m: Mention) -> bool:
                return not self.state.is_person(m) and m.label not in NUMERIC_LABELS

            near = [m for m in candidates if m.subject and m.sent >= self.chunk.index - 3]
            topic = self.state.descriptions.topic
            return (self._latest(subjects, thing) or self._latest(near, thing)
                    or ([topic] if topic is not None and thing(topic) and topic.id not in exclude else [])
                    or self._latest(candidates, lambda m: m.is_named_thing()))
        if tok.dep_ == "poss" and (noun_gender(tok.head.lemma_) or tok.head.lemma_.lower() in _KIN_PLAIN):
            # "their son": people, the latest pair or group named together, or the latest person subject
            people = [m for m in candidates if self.state.is_person(m) and (m.group >= 0 or m.subject
                                                                            and m.sent < self.chunk.index)]
            if people:
                last = people[-1]
                return [x for x in candidates if x.group == last.group] if last.group >= 0 else [last]
        for m in reversed(candidates):  # they/them/their: a coordinated group
            if m.group >= 0:
                return [x for x in candidates if x.group == m.group]
        return (self._latest(subjects, lambda m: m.label not in NUMERIC_LABELS and not self.state.is_person(m)
                             and (bool(m.label) or m.text[:1].isupper()))
                or self._latest(candidates, lambda m: m.is_named_thing()))

    def _known_person(self, m: Mention) -> bool:
        """A mention the text itself says is a person: gendered, or called a person or by a role noun."""
        nouns = self.state.descriptions.nouns.get(m.id, set())
        return m.id in self.state.gender or any(is_role_noun(n) or kind_of_noun(n) == "person" for n in nouns)

    def _may_be_person(self, m: Mention) -> bool:
        """A named subject the text never called a place, organisation or thing (NER labels names loosely)."""
        return (m.label in ("", "ORG", "PERSON", "NORP", "PRODUCT", "WORK_OF_ART") and m.text[:1].isupper()
                and not self.state.descriptions.kinds(m) - {"person"})

    @staticmethod
    def _latest(candidates: list[Mention], accept) -> list[Mention]:
        for m in reversed(candidates):
            if accept(m):
                return [m]
        return []

    def governor(self, tok: Token) -> Token | None:
        """The nearest verb or auxiliary above ``tok`` (itself included at the root), or None."""
        node = tok
        while node.head.i != node.i:
            node = node.head
            if node.pos_ in ("VERB", "AUX"):
                return node
        return node if node.pos_ in ("VERB", "AUX") else None

    def _clause_owner(self, tok, exclude: set[str]) -> list[Mention]:
        """Antecedent of a possessive pronoun: the preceding subject of its clause, if it fits."""
        owned = tok.head
        own_phrase = {owned.i, *(c.i for c in owned.children if c.dep_ == "appos")}
        if owned.dep_ == "appos":
            own_phrase.add(owned.head.i)
        own = (self.mentions.mention(self.doc[i]) for i in own_phrase)
        exclude |= {m.id for m in own if m is not None}
        want_person = tok.lower_ in _PERSON_PRON
        gender = PRONOUN_GENDER.get(tok.lower_)
        node = tok
        for _ in range(3):  # own clause first, then the clauses above it
            verb = self.governor(node)
            if verb is None:
                return []
            for s in self.subjects(verb):
                if s.i >= tok.i or s.i in own_phrase or s.pos_ == "PRON" and s.lower_ in RELATIVE:
                    continue
                for m in (self.refer(s) if s.pos_ != "PRON" else self._antecedent(s, set())):
                    if m.id in exclude or m.label in NUMERIC_LABELS:
                        continue
                    if want_person and self.state.fits(m, gender):
                        self.state.learn_gender(m, gender, strong=False)
                        return [m]
                    if not want_person and not m.is_person():
                        return [m]
            node = verb
        return []

    def subjects(self, verb: Token) -> list[Token]:
        """Subject tokens of a verb (own, or inherited from the verb it hangs on)."""
        node = verb
        for _ in range(8):
            own = [c for c in node.children if c.dep_ in SUBJ]
            if own:
                out = []
                for s in own:
                    out.extend([s, *[c for c in s.conjuncts if c.pos_ in NOMINAL]])
                return out
            if node.dep_ in ("relcl", "acl") and node.head.pos_ in NOMINAL:
                head = node.head
                if head.dep_ in ("attr", "oprd") and head.head.lemma_.lower() in COPULAS and head.pos_ == "NOUN":
                    # "X is a tool made of Y": what the predicate noun's modifier says holds of X
                    return self.subjects(head.head)
                if head.dep_ == "appos" and head.pos_ == "NOUN" and head.head.pos_ in ("PROPN", "NOUN"):
                    head = head.head  # "Ada, a chemist born in Lyon,": born is said of Ada
                return [head, *[c for c in head.conjuncts if c.pos_ in NOMINAL]]
            if node.dep_ in _INHERIT and node.head.i != node.i:
                node = node.head
            elif node.dep_ == "pcomp" and node.head.dep_ == "prep":
                node = node.head.head
            else:
                return []
        return []


_QUOTE_MARKS = {'"', "\u201c", "\u201d", "``", "''", "\u00ab", "\u00bb"}


def _quoted(tok: Token) -> bool:
    """True when ``tok`` stands between an opening and a closing double quotation mark of its text."""
    before = sum(1 for t in tok.doc[: tok.i] if t.text in _QUOTE_MARKS)
    after = sum(1 for t in tok.doc[tok.i + 1:] if t.text in _QUOTE_MARKS)
    return before % 2 == 1 and after >= 1
