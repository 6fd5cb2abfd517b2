"""Dependency patterns: facts read off one parsed sentence.

Relation names (snake_case, from lemmas)
    * verbs: the lemma in the active voice, the past participle in the passive,
      then particles and the preposition of a prepositional object:
      "studied at" -> ``study_at``, "was born in" -> ``born_in``,
      "was founded by" -> ``founded_by``, "plays" -> ``play``;
    * a predicate noun with a preposition keeps both: "X is the capital of Y" and
      the apposition "X, the capital of Y," -> ``(X, capital_of, Y)``;
      "X is a cheese from Y" -> ``(X, cheese_from, Y)``; a bare predicate noun gives
      ``is_a``: "Ada, a chemist," -> ``(Ada, is_a, chemist)``;
    * a possessed noun names the relation from owner to value, read as "value
      is the R of owner": "Norway's capital Oslo", "Omar's daughter Mira",
      "his daughter Mira", "Mira, his daughter", "The mayor of Lyon is
      Claire Martin", "X has a population of N" -> ``(owner, R, value)``.

So a relation ending in a preposition reads left to right ("oslo capital_of
norway"); a bare noun relation R reads "object is the R of subject".

Coverage: active verbs with direct and prepositional objects, passives with
``by`` agents, copulas (``be``, ``become``, ``remain``) with nominal, adjectival
and prepositional complements, appositions, possessives, relative clauses
("X, who was born in Y,"), participle modifiers ("a tool made of Y"),
subjects shared by coordinated verbs and one fact per conjunct of subjects and
objects. Negated verbs give no fact. Arguments are what
:class:`~kgllm.extract.coref.Referents` says the tokens stand for.

Examples
--------
>>> from kgllm.extract.coref import DocState, Referents
>>> from kgllm.extract.mentions import SentenceMentions
>>> from kgllm.resources import get_nlp
>>> from kgllm.types import Chunk
>>> text = "The mayor of Lyon is Claire Martin."
>>> refs = Referents(SentenceMentions(get_nlp()(text), Chunk("d", 0, text, 0, len(text))), DocState())
>>> [(s.text, rel, o.text) for s, rel, o, _ in SentencePatterns(refs).run()]
[('Lyon', 'mayor', 'Claire Martin')]
"""

from __future__ import annotations

import re
from typing import Iterable

from kgllm.extract.coref import Referents
from kgllm.extract.mentions import COPULAS, NOMINAL, SUBJ, Mention

__all__ = ["SentencePatterns", "relation_name"]

_WORD = re.compile(r"[^0-9a-z]+")


def relation_name(*words: str) -> str:
    """Join words into a snake_case relation name.

    >>> relation_name("born", "in")
    'born_in'
    >>> relation_name("Parent Body", "of")
    'parent_body_of'
    """
    text = "_".join(w for w in words if w)
    return _WORD.sub("_", text.lower()).strip("_")


class SentencePatterns:
    """Pattern matching over one parsed sentence.

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
        self.facts: list[tuple[Mention, str, Mention, float]] = []

    def emit(self, subj: Iterable[Mention], rel: str, obj: Iterable[Mention], conf: float) -> None:
        if not rel:
            return
        objs = list(obj)
        for s in subj:
            for o in objs:
                if s.id != o.id:
                    self.facts.append((s, rel, o, conf))

    def run(self) -> list[tuple[Mention, str, Mention, float]]:
        """Read the sentence's facts: ``(subject, relation, object, confidence)``."""
        for tok in self.doc:
            if tok.pos_ in ("VERB", "AUX") and tok.dep_ not in ("aux", "auxpass"):
                self._verb(tok)
            if tok.dep_ == "poss":
                self._possessive(tok)
            if tok.dep_ == "appos":
                self._apposition(tok)
            if tok.dep_ == "prep" and tok.lower_ == "of" and tok.head.dep_ in SUBJ:
                self._subject_of(tok)
        return self.facts

    def _conf(self, base: float, *tokens) -> float:
        penalty = sum(0.15 for t in tokens if t.pos_ == "PRON") + sum(
            0.1 for t in tokens if t.pos_ == "NOUN" and t.i not in self.ent_of)
        return round(max(0.3, base - penalty), 2)

    def _verb(self, verb) -> None:
        if any(c.dep_ == "neg" for c in verb.children):
            return
        subj_toks = self.refs.subjects(verb)
        if not subj_toks:
            return
        lemma = verb.lemma_.lower()
        passive = any(c.dep_ in ("auxpass", "nsubjpass") for c in verb.children) or (
            verb.dep_ == "acl" and verb.tag_ == "VBN")
        for s_tok in subj_toks:
            subj = self.refs.refer(s_tok)
            if not subj:
                continue
            if lemma in COPULAS:
                self._copula(verb, s_tok, subj)
                continue
            word = verb.lower_ if passive else lemma
            particles = [c.lower_ for c in verb.children if c.dep_ == "prt"]
            for child in verb.children:
                if child.dep_ == "dobj":
                    self._direct_object(verb, s_tok, subj, child, relation_name(word, *particles))
                elif child.dep_ == "oprd" and child.pos_ in NOMINAL:  # "was named X", "is called X"
                    self.emit(subj, relation_name(word, *particles), self.refs.refer_all(child, {m.id for m in subj}),
                              self._conf(0.7, s_tok, child))
                elif child.dep_ in ("prep", "agent"):
                    for pobj in child.children:
                        if pobj.dep_ == "pobj":
                            rel = relation_name(word, *particles, child.lower_)
                            self.emit(subj, rel, self.refs.refer_all(pobj, {m.id for m in subj}),
                                      self._conf(0.8, s_tok, pobj))

    def _direct_object(self, verb, s_tok, subj, dobj, rel) -> None:
        if verb.lemma_.lower() == "have" and dobj.pos_ == "NOUN":
            for prep in dobj.children:  # "X has a population of N" -> (X, population, N)
                if prep.dep_ == "prep" and prep.lower_ == "of":
                    for pobj in prep.children:
                        if pobj.dep_ == "pobj":
                            self.emit(subj, self._noun_relation(dobj), self.refs.refer_all(pobj),
                                      self._conf(0.75, s_tok))
                    return
        self.emit(subj, rel, self.refs.refer_all(dobj, {m.id for m in subj}), self._conf(0.8, s_tok, dobj))

    def _copula(self, verb, s_tok, subj) -> None:
        s_ids = {m.id for m in subj}
        relational_subject = any(c.dep_ == "poss" or (c.dep_ == "prep" and c.lower_ == "of")
                                 for c in s_tok.children) and s_tok.pos_ == "NOUN"
        for child in verb.children:
            if child.dep_ in ("attr", "oprd") and not relational_subject:
                for attr in [child, *[c for c in child.conjuncts if c.pos_ in NOMINAL]]:
                    self._predicate_noun(s_tok, subj, attr)
            elif child.dep_ == "acomp":
                for prep in child.children:
                    if prep.dep_ == "prep":
                        for pobj in prep.children:
                            if pobj.dep_ == "pobj":
                                self.emit(subj, relation_name(child.lemma_, prep.lower_),
                                          self.refs.refer_all(pobj, s_ids), self._conf(0.7, s_tok, pobj))
            elif child.dep_ == "prep" and verb.lemma_.lower() == "be":
                for pobj in child.children:
                    if pobj.dep_ == "pobj":
                        self.emit(subj, relation_name("be", child.lower_), self.refs.refer_all(pobj, s_ids),
                                  self._conf(0.7, s_tok, pobj))

    def _predicate_noun(self, s_tok, subj, attr) -> None:
        """``X is the R of Y`` -> (X, R_of, Y); ``X is a N`` -> (X, is_a, N)."""
        if attr.pos_ == "PRON" or any(c.dep_ == "poss" for c in attr.children):
            return  # "X is Y's R" is read by the possessive rule
        if attr.pos_ == "PROPN" or attr.i in self.ent_of or attr.pos_ == "NUM":
            return  # "X is Y" between two names: identity, not a relation
        preps = [c for c in attr.children if c.dep_ == "prep"]
        s_ids = {m.id for m in subj}
        done = False
        for prep in preps:
            for pobj in prep.children:
                if pobj.dep_ == "pobj":
                    self.emit(subj, relation_name(self._noun_relation(attr), prep.lower_),
                              self.refs.refer_all(pobj, s_ids), self._conf(0.8, s_tok, pobj))
                    done = True
        if not done and attr.pos_ == "NOUN":
            m = self.mentions.mention(attr)
            if m is not None:
                self.emit(subj, "is_a", [m], self._conf(0.7, s_tok))

    def _noun_relation(self, noun) -> str:
        mods = []
        for child in reversed(list(noun.lefts)):
            if child.dep_ in ("compound", "amod") and child.i == noun.i - len(mods) - 1:
                mods.insert(0, child.lower_)
            else:
                break
        head = noun.lemma_.lower() if noun.pos_ == "NOUN" else noun.lower_
        return relation_name(*mods, head)

    def _values_of(self, noun) -> list[Mention]:
        """What a relational noun denotes: its apposition, copula partner or the name it describes."""
        out: list[Mention] = []
        for child in noun.children:
            if child.dep_ == "appos":
                owner = [c for c in child.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
                out.extend(self.refs.refer_all(owner[0]) if owner else self.refs.refer_all(child))
        if noun.dep_ == "appos" and noun.head.pos_ in NOMINAL:
            out.extend(self.refs.refer(noun.head))
        if noun.dep_ in SUBJ and noun.head.lemma_.lower() in COPULAS:
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
                    rel = self._noun_relation(noun)
                    self.emit(owners, rel, [v for v in values if v.id != self.mentions.mention(noun).id]
                              if self.mentions.mention(noun) else values, self._conf(0.6, poss))
                return
            rel = relation_name(*(t.lemma_ for t in titles))
            values = self.refs.refer(noun)
        else:
            rel = self._noun_relation(noun)
            values = self._values_of(noun)
        self.emit(owners, rel, values, self._conf(0.85, poss))

    def _apposition(self, appos) -> None:
        head = appos.head
        if head.pos_ not in NOMINAL or any(c.dep_ == "poss" for c in appos.children):
            return  # possessive appositions ("Ines, his sister") are read by the possessive rule
        if any(c.dep_ == "poss" for c in head.children):
            return  # "Omar's sister, Ines": possessive rule
        if appos.pos_ == "NOUN" and appos.i not in self.ent_of and head.pos_ != "NOUN":
            # "Ada, a chemist," / "Oslo, the capital of Norway,": a reduced copula
            subj = self.refs.refer(head)
            if subj:
                self._predicate_noun(head, subj, appos)

    def _subject_of(self, prep) -> None:
        """``The R of Y is X`` -> (Y, R, X)."""
        noun = prep.head
        if noun.pos_ != "NOUN" or noun.head.lemma_.lower() not in COPULAS:
            return
        owners = [m for pobj in prep.children if pobj.dep_ == "pobj" for m in self.refs.refer_all(pobj)]
        values = self._values_of(noun)
        self.emit(owners, self._noun_relation(noun), values, self._conf(0.8, noun))

