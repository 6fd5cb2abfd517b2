"""Facts that noun phrases state without a verb: predicate nouns, appositions, titles, possessives, brackets.

:class:`NounPatterns` is the base of :class:`~kgllm.extract.patterns.SentencePatterns`: it holds the
facts found so far (:meth:`NounPatterns.emit` normalises their relation names with
:func:`~kgllm.extract.relnames.normalise` and never puts a value in the subject) and reads:

* predicate nouns and appositions ("X is a N", "X, a N,"): ``(X, is_a, N)`` without the
  nationality, which gives ``(X, nationality, Austrian)``; a preposition other than ``of`` gives
  ``(X, be_P, Y)`` ("a chemist from Lima" -> ``be_from``), ``of`` a relational noun
  ("the capital of Y" -> ``capital_of``; an agent noun becomes its verb: "the founder of Y" -> ``found``);
* titles before a name ("the striker Tomas Vane" -> ``is_a striker``), place-based modifiers
  ("the Bergen-based group K" -> ``(K, based_in, Bergen)``);
* brackets after a name: life dates "(1901-1977)" -> ``born_date``, ``died_date``;
* possessives ("Y's R X", "his R X", "X, Y's R", "The R of Y is X") -> ``(Y, R, X)``.
"""

from __future__ import annotations

from typing import Iterable

from kgllm.extract.coref import Referents
from kgllm.extract.mentions import COPULAS, LOCATIONS, NOMINAL, NUMERIC_LABELS, SUBJ, Mention, noun_word
from kgllm.extract.relnames import normalise, relation_name
from kgllm.extract.values import life_dates

__all__ = ["NounPatterns", "Found"]

Found = tuple[Mention, str, Mention, float]
# Nouns before a name that say nothing about what it is ("née Trask": a birth name).
_NOT_KINDS = frozenset("née nee name word term".split())
#: Nouns that are plural in form only (their lemma is no word of their own).
_PLURALIA = frozenset("headquarters premises remains earnings savings goods arms means news series species "
                      "works barracks".split())


class NounPatterns:
    """Facts of one parsed sentence read off its noun phrases (see the module docstring).

    Parameters
    ----------
    refs : Referents
        The sentence's mentions and what its tokens stand for.
    """

    def __init__(self, refs: Referents) -> None:
        self.refs = refs
        self.mentions = refs.mentions
        self.doc = refs.doc
        self.ent_of = refs.mentions.ent_of
        self.facts: list[Found] = []

    def emit(self, subj: Iterable[Mention], rel: str, obj: Iterable[Mention], conf: float) -> None:
        """Add ``(s, rel, o)`` for each subject and object, the relation normalised; a value is never a subject."""
        if not rel:
            return
        rel, swap = normalise(rel)
        subj, obj = (obj, subj) if swap else (subj, obj)
        objs = list(obj)
        for s in subj:
            if s.label in NUMERIC_LABELS or self._owned_noun(s):
                continue  # a value, or "its first product": a noun that only means something with its owner
            for o in objs:
                if s.id != o.id:
                    self.facts.append((s, rel, o, conf))

    def _owned_noun(self, m: Mention) -> bool:
        if m.sent != self.refs.chunk.index or not 0 <= m.head < len(self.doc) or m.label:
            return False
        head = self.doc[m.head]
        return head.pos_ == "NOUN" and any(c.dep_ == "poss" for c in head.children)

    def _conf(self, base: float, *tokens) -> float:
        penalty = sum(0.15 for t in tokens if t.pos_ == "PRON") + sum(
            0.1 for t in tokens if t.pos_ == "NOUN" and t.i not in self.ent_of)
        return round(max(0.3, base - penalty), 2)

    def _named(self, mentions: Iterable[Mention]) -> list[Mention]:
        return [m for m in mentions if m.label not in NUMERIC_LABELS and (m.label or m.text[:1].isupper())]

    def _noun_relation(self, noun) -> str:
        mods = []
        for child in reversed(list(noun.lefts)):
            if child.dep_ in ("compound", "amod") and child.i == noun.i - len(mods) - 1 and child.ent_type_ != "NORP":
                mods.insert(0, child.lower_)
            else:
                break
        head = noun_word(noun) if noun.pos_ == "NOUN" else noun.lower_
        if noun.lower_ in _PLURALIA:
            head = noun.lower_  # "headquarters" is no plural of "headquarter"
        return relation_name(*mods, head)

    def _predicate_noun(self, s_tok, subj, attr) -> None:
        """``X is the R of Y`` -> (X, R_of, Y); ``X is a N P Y`` -> (X, is_a, N), (X, be_P, Y)."""
        if attr.pos_ == "PRON" or any(c.dep_ == "poss" for c in attr.children):
            return  # "X is Y's R" is read by the possessive rule
        if attr.pos_ == "PROPN" or attr.i in self.ent_of or attr.pos_ == "NUM":
            return  # "X is Y" between two names: identity, not a relation
        s_ids = {m.id for m in subj}
        relational = False
        for prep in (c for c in attr.children if c.dep_ == "prep"):
            rel = relation_name(self._noun_relation(attr), "of") if prep.lower_ == "of" else relation_name(
                "be", prep.lower_)
            relational |= prep.lower_ == "of"
            for pobj in prep.children:
                if pobj.dep_ == "pobj":
                    self.emit(subj, rel, self.refs.refer_all(pobj, s_ids), self._conf(0.8, s_tok, pobj))
        if attr.pos_ == "NOUN" and not relational:
            self._kind(subj, attr, s_tok)

    def _kind(self, subj: list[Mention], noun, s_tok=None) -> None:
        """(X, is_a, N) for a noun saying what X is; its nationality adjective gives (X, nationality, NORP) and a
        place-based participle (X, based_in, place) ("the Bergen-based group")."""
        m = self.mentions.mention(noun)
        if m is None or m.label in NUMERIC_LABELS or {noun.lower_, m.text.split()[0].lower()} & _NOT_KINDS:
            return
        conf = self._conf(0.7, s_tok) if s_tok is not None else 0.7
        norp = [c for c in noun.lefts if c.dep_ in ("amod", "compound") and c.ent_type_ == "NORP"]
        based = [(c, t) for c in noun.lefts if c.dep_ == "amod" and c.tag_ == "VBN"
                 for t in c.lefts if t.ent_type_ in LOCATIONS or t.pos_ == "PROPN"]
        skip = {i for c in norp for i in range(c.left_edge.i, c.i + 1)} | {
            i for c, _ in based for i in range(c.left_edge.i, c.i + 1)}
        words = [(noun.lemma_.lower() if t.i == noun.i and noun.tag_ == "NNS" else t.text) + t.whitespace_
                 for t in self.doc[m.start:m.end] if t.i not in skip]
        if "".join(words).strip():
            self.emit(subj, "is_a", [Mention("".join(words).strip(), "", m.start, m.end, noun.i, m.sent)], conf)
        for c in norp:
            self.emit(subj, "nationality", [Mention(c.text, "NORP", c.i, c.i + 1, c.i, m.sent)], conf)
        for c, t in based:  # "the Bergen-based group": based in Bergen
            self.emit(subj, relation_name(c.lower_, "in"), self.refs.refer(t), conf)

    def _values_of(self, noun) -> list[Mention]:
        """What a relational noun denotes: its apposition, copula partner or the name it describes."""
        out: list[Mention] = []
        for child in noun.children:
            if child.dep_ != "appos":
                continue
            if child.pos_ == "NOUN" and child.i not in self.ent_of:  # "his wife, the architect X", not "a writer"
                out.extend(m for m in self._named(self.refs.refer(child)) if self.doc[m.head].i != child.i)
                out.extend(self._called(child))
                continue
            owner = [c for c in child.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
            out.extend(self.refs.refer_all(owner[0]) if owner else self.refs.refer_all(child))
        if noun.dep_ == "appos" and noun.head.pos_ in NOMINAL:
            out.extend(self.refs.refer(noun.head))
        if noun.dep_ in SUBJ and noun.head.lemma_.lower() in COPULAS and not out:
            # "His daughter is a pilot" names her by the copula; "His daughter, Ada, is a pilot" by the apposition
            for c in noun.head.children:
                if c.dep_ in ("attr", "oprd", "acomp") and c.pos_ in NOMINAL:
                    out.extend(self.refs.refer_all(c))
        if noun.dep_ == "nsubjpass" and noun.head.lemma_.lower() in ("call", "name"):
            for c in noun.head.children:
                if c.dep_ == "oprd":
                    out.extend(self.refs.refer_all(c))
        if noun.dep_ in ("attr", "oprd") and noun.head.lemma_.lower() in COPULAS:
            for s in self.refs.subjects(noun.head):
                out.extend(self.refs.refer(s))
        if noun.dep_ == "compound" and (noun.head.pos_ == "PROPN" or noun.head.i in self.ent_of):
            out.extend(self.refs.refer(noun.head))
        return out

    def _called(self, noun) -> list[Mention]:
        """The name a noun is given by "called X" / "named X" / "known as X"."""
        return [m for acl in noun.children if acl.dep_ == "acl" and acl.lemma_.lower() in ("call", "name", "know")
                for c in acl.children if c.dep_ == "oprd" or (c.dep_ == "prep" and c.lower_ == "as")
                for m in self._named(self.refs.refer_all(c if c.dep_ == "oprd" else next(
                    (p for p in c.children if p.dep_ == "pobj"), c)))]

    def _possessive(self, poss) -> None:
        """``Y's R X`` / ``his R X`` / ``Y's R is X`` / ``X, his R`` -> (Y, R, X)."""
        noun = poss.head
        owners = self.refs.refer_all(poss)
        if not owners:
            return
        values: list[Mention]
        if noun.pos_ == "PROPN" or noun.i in self.ent_of:
            # "his daughter Mira" parsed with the title as a compound of the name
            titles = [c for c in noun.lefts if c.dep_ == "compound" and c.pos_ == "NOUN" and c.text.islower()]
            if not titles:
                if noun.dep_ in SUBJ or noun.dep_ in ("attr",):
                    values = self._values_of(noun)
                    own = self.mentions.mention(noun)
                    self.emit(owners, self._noun_relation(noun), [v for v in values if own is None or v.id != own.id],
                              self._conf(0.6, poss))
                return
            rel = relation_name(*(t.lemma_ for t in titles))
            values = self.refs.refer(noun)
        else:
            rel = self._noun_relation(noun)
            values = self._values_of(noun)
        self.emit(owners, rel, [v for v in values if v.label not in NUMERIC_LABELS or noun.dep_ in SUBJ],
                  self._conf(0.85, poss))

    def _apposition(self, appos) -> None:
        head = appos.head
        if head.pos_ not in NOMINAL or any(c.dep_ == "poss" for c in appos.children):
            return  # possessive appositions ("Ines, his sister") are read by the possessive rule
        named_head = head.pos_ == "PROPN" or head.i in self.ent_of
        if appos.pos_ == "NOUN" and appos.i not in self.ent_of:
            # "Ada, a chemist," / "Oslo, the capital of Norway," / "his daughter, Mira, a pilot,": a reduced copula
            if named_head or any(c.dep_ == "appos" and (c.pos_ == "PROPN" or c.i in self.ent_of)
                                 for c in head.children):
                subj = self._named(self.refs.refer(head))
                if subj:
                    self._predicate_noun(head, subj, appos)
        elif (not named_head and head.pos_ == "NOUN" and not any(c.dep_ == "poss" for c in head.children)
              and (appos.pos_ == "PROPN" or appos.i in self.ent_of)):
            self._title(head, appos)  # "the coastal ferry operator Brisa Norte"

    def _title(self, noun, name) -> None:
        """A common noun naming what the name after it is: "the striker Tomas Vane" -> is_a striker."""
        if any(c.dep_ in ("poss", "prep") for c in noun.children) or noun.dep_ in ("attr", "appos"):
            return  # "his sister Ines" is read by the possessive rule; "a friend of ..." is no title
        subj = self._named(self.refs.refer(name))
        if subj:
            self._kind(subj, noun)

    def _compound_title(self, tok) -> None:
        """The title inside a name's own phrase: "the locksmith Ivo Brandt" (a compound of the name)."""
        if tok.dep_ != "compound" or tok.pos_ != "NOUN" or not tok.text.islower():
            return
        name = tok.head
        if (name.pos_ == "PROPN" or name.i in self.ent_of) and not any(c.dep_ == "poss" for c in name.children):
            if tok.i + 1 < len(self.doc) and (self.doc[tok.i + 1].pos_ == "PROPN" or tok.i + 1 in self.ent_of):
                subj = self._named(self.refs.refer(name))
                if subj:
                    self._kind(subj, tok)

    def _brackets(self, name) -> None:
        """Life dates in brackets after a name: "(1901-1977)" -> born_date, died_date."""
        found = life_dates(name, self.refs)
        if found:
            subj = self._named(self.refs.refer(name))
            self.emit(subj, "born_date", [found[0]], 0.75)
            self.emit(subj, "died_date", [found[1]], 0.75)

    def _subject_of(self, prep) -> None:
        """``The R of Y is X`` -> (Y, R, X)."""
        noun = prep.head
        if noun.pos_ != "NOUN" or noun.head.lemma_.lower() not in COPULAS:
            return
        owners = [m for pobj in prep.children if pobj.dep_ == "pobj" for m in self.refs.refer_all(pobj)]
        values = self._values_of(noun)
        self.emit(owners, self._noun_relation(noun), values, self._conf(0.8, noun))
