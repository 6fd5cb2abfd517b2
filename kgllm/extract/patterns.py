"""Dependency patterns: facts read off one parsed sentence.

Relation names (snake_case phrases of the sentence's words, :mod:`kgllm.extract.relnames`)
    * verbs: the lemma in the active voice, then particles and the preposition of a
      prepositional object: "studied at" -> ``study_at``, "plays" -> ``play``; a passive with a
      ``by`` agent is read actively, subject and object swapped: "X was founded by Y" ->
      ``(Y, found, X)``; a passive without one keeps its participle: "was born in" -> ``born_in``;
    * a common-noun object with a named prepositional object joins the relation: "runs a bakery
      in Lisvik" -> ``(X, keep_pharmacy_in, Lisvik)`` (next to ``(X, keep, pharmacy)``);
    * dates, durations and prices qualify the event they belong to (:mod:`kgllm.extract.values`):
      ``(X, founded_date, 1990)`` for "X was founded in 1990" and for "In 1990 A founded X" (the
      date of a verb of creating or changing hands goes to what it acts on, otherwise to the
      subject); "worked for nine years" -> ``(A, work_duration, nine years)``; a relative date
      ("two years later") becomes a year when one was stated before it in its paragraph;
    * a predicate noun with ``of`` keeps both: "X is the capital of Y" and the apposition
      "X, the capital of Y," -> ``(X, capital_of, Y)``; an agent noun becomes its verb ("Y is the
      founder of X" -> ``(Y, found, X)``); a bare predicate noun gives ``is_a`` without the
      nationality ("X is an Austrian engineer" -> ``is_a engineer``, ``nationality Austrian``); other
      prepositions give ``be_P`` ("a chemist from Lima" -> ``be_from``);
    * a possessed noun names the relation from owner to value, read as "value is the R of
      owner": "Norway's capital Oslo", "Omar's daughter Mira", "his daughter Mira", "Mira, his
      daughter", "The mayor of Lyon is Claire Martin", "X has a population of N" -> ``(owner, R,
      value)``; "whose headquarters are in Y" -> ``(owner, headquarters_in, Y)``; "is 23 kilometres
      long" -> ``(X, length, 23 kilometres)``.

So a relation ending in a preposition reads left to right ("oslo capital_of norway"); a bare
noun relation R reads "object is the R of subject".

Coverage: active verbs with direct and prepositional objects, passives with ``by`` agents,
copulas (``be``, ``become``, ``remain``) with nominal, adjectival and prepositional complements,
appositions, titles, brackets, possessives, relative clauses ("X, who was born in Y,"),
participle modifiers ("a tool made of Y"), "there" for the place last named, subjects shared by
coordinated verbs and one fact per conjunct of subjects and objects. Negated verbs give no
fact; a value ("about 350 families") is never a subject ("About 350 families live in X" -> ``(X,
family_live_in, about 350 families)``). Arguments are what :class:`~kgllm.extract.coref.Referents`
says the tokens stand for.

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

from kgllm.extract.mentions import COPULAS, NOMINAL, NUMERIC_LABELS, SUBJ
from kgllm.extract.nominal import Found, NounPatterns
from kgllm.extract.relnames import MEASURES, PATIENT_VERBS, date_relation, participle_of, relation_name
from kgllm.extract.values import TimeExpr, time_modifiers

__all__ = ["SentencePatterns", "relation_name"]

# "known by X", "called by X": a name, not a doer.
_NAMING = {"know", "call"}


class SentencePatterns(NounPatterns):
    """Pattern matching over one parsed sentence (see the module docstring).

    Parameters
    ----------
    refs : Referents
        The sentence's mentions and what its tokens stand for.
    """

    def run(self) -> list[Found]:
        """Read the sentence's facts: ``(subject, relation, object, confidence)``."""
        for tok in self.doc:
            if tok.pos_ in ("VERB", "AUX") and tok.dep_ not in ("aux", "auxpass"):
                self._verb(tok)
            if tok.dep_ == "poss":
                self._possessive(tok)
            if tok.dep_ == "appos":
                self._apposition(tok)
            if tok.dep_ == "compound":
                self._compound_title(tok)
            if tok.dep_ == "prep" and tok.lower_ == "of" and tok.head.dep_ in SUBJ:
                self._subject_of(tok)
            if tok.pos_ == "PROPN" or (tok.i in self.ent_of and tok.ent_type_ not in NUMERIC_LABELS):
                self._brackets(tok)
        return self.facts

    def _verb(self, verb) -> None:
        if any(c.dep_ == "neg" for c in verb.children):
            return
        subj_toks = self.refs.subjects(verb)
        if not subj_toks:
            return
        lemma = verb.lemma_.lower()
        times = time_modifiers(verb, self.refs)
        if lemma in COPULAS:
            for s_tok in subj_toks:
                subj = self.refs.refer(s_tok)
                if subj:
                    self._copula(verb, s_tok, subj, times)
            return
        passive = _passive(verb)
        particles = [c.lower_ for c in verb.children if c.dep_ == "prt"]
        word = verb.lower_ if passive else lemma
        used = {i for t in times for i in t.tokens}
        # "born on 14 June 1953 in Brno": a place the parser hung on the date belongs to the verb
        inner = [p for t in times for i in sorted(t.tokens) for p in self.doc[i].children
                 if p.dep_ == "prep" and p.i not in used]
        agents = [m for a in verb.children if a.dep_ == "agent" and passive and lemma not in _NAMING for p in a.children
                  if p.dep_ == "pobj" for m in self.refs.refer_all(p) if m.label not in NUMERIC_LABELS]
        for s_tok in subj_toks:
            subj = self.refs.refer(s_tok)
            if not subj:
                continue
            if all(m.label in NUMERIC_LABELS for m in subj):
                self._counted_subject(verb, s_tok, subj, particles)
                continue
            owned = self._owned(s_tok) if all(self._owned_noun(m) for m in subj) else None
            if owned:  # "His thesis won the prize" -> (he, thesis_win, prize)
                subj, word = owned[0], relation_name(owned[1], word)
            s_ids = {m.id for m in subj}
            if agents and not owned:  # "X was founded by Y": Y founded X
                self.emit(agents, relation_name(lemma, *particles), subj, self._conf(0.8, s_tok))
            for child in [*verb.children, *inner]:
                if child.i in used:
                    continue
                if child.dep_ == "dobj":
                    self._direct_object(verb, s_tok, subj, child, relation_name(word, *particles))
                elif child.dep_ == "oprd" and child.pos_ in NOMINAL:  # "was named X", "is called X"
                    self.emit(subj, relation_name(word, *particles), self.refs.refer_all(child, s_ids),
                              self._conf(0.7, s_tok, child))
                    if any(c.dep_ == "prep" and c.lower_ == "of" for c in child.children):
                        self._predicate_noun(s_tok, subj, child)  # "was named director of Y": director_of Y
                elif child.dep_ == "prep" or (child.dep_ == "agent" and (owned or not agents)):
                    for pobj in child.children:
                        if pobj.dep_ == "pobj" and pobj.i not in used:
                            self.emit(subj, relation_name(word, *particles, child.lower_),
                                      self.refs.refer_all(pobj, s_ids), self._conf(0.8, s_tok, pobj))
                elif child.dep_ == "advmod" and child.lower_ == "there":  # "lives there": in the place last named
                    self.emit(subj, relation_name(word, *particles, "in"), self.refs.refer(child),
                              self._conf(0.7, s_tok, child))
            self._times(verb, s_tok, subj, passive, times, owned[1] if owned else "")

    def _times(self, verb, s_tok, subj, passive, times: list[TimeExpr], prefix: str = "") -> None:
        """Dates and durations of a verb, on the argument whose event they date."""
        if not times:
            return
        lemma = verb.lemma_.lower()
        dobjs = [c for c in verb.children if c.dep_ == "dobj"]
        named = [m for d in dobjs for m in self._named(self.refs.refer_all(d))]
        target = subj
        base = relation_name(prefix, participle_of(verb), *(c.lower_ for c in verb.children if c.dep_ == "prt"))
        if not passive and named and lemma in PATIENT_VERBS:
            target = named  # "In 1990 she founded X": X was founded in 1990
        elif not passive and dobjs and not named and dobjs[0].pos_ == "NOUN" and dobjs[0].i not in self.ent_of:
            base = relation_name(base, dobjs[0].lemma_)  # "made his debut in 2012": made_debut_date
        for t in times:
            if t.kind == "duration":
                self.emit(subj, relation_name(prefix, lemma, "duration"), [t.value], self._conf(0.75, s_tok))
            else:
                self.emit(target, date_relation(base, t.prep), [t.value], self._conf(0.8, s_tok))

    def _counted_subject(self, verb, s_tok, subj, particles) -> None:
        """"About 350 families live in X" -> (X, family_live_in, about 350 families): a value is never a subject."""
        for child in verb.children:
            if child.dep_ == "prep":
                places = [m for p in child.children if p.dep_ == "pobj" for m in self._named(self.refs.refer_all(p))]
                prep = child.lower_
            elif child.dep_ == "advmod" and child.lower_ == "there":
                places, prep = self.refs.refer(child), "in"
            else:
                continue
            rel = relation_name(s_tok.lemma_ if s_tok.pos_ == "NOUN" else "", verb.lemma_, *particles, prep)
            self.emit(places, rel, subj, self._conf(0.75, s_tok))

    def _direct_object(self, verb, s_tok, subj, dobj, rel) -> None:
        if dobj.pos_ == "NOUN" and dobj.i not in self.ent_of:
            for prep in dobj.children:  # "X has a population of N", "reported revenue of N" -> (X, population, N)
                if prep.dep_ == "prep" and prep.lower_ == "of":
                    values = [m for p in prep.children if p.dep_ == "pobj" for m in self.refs.refer_all(p)]
                    if values and all(v.label in NUMERIC_LABELS for v in values):
                        self.emit(subj, self._noun_relation(dobj), values, self._conf(0.75, s_tok))
                        return
                    if verb.lemma_.lower() == "have":
                        self.emit(subj, self._noun_relation(dobj), values, self._conf(0.75, s_tok))
                        return
            own = self.refs.refer(dobj)
            if own and own[0].head == dobj.i and own[0].label not in NUMERIC_LABELS:
                for prep in dobj.children:  # "keeps a pharmacy in Lisvik" -> keep_pharmacy_in Lisvik
                    if prep.dep_ == "prep" and prep.lower_ != "of":
                        places = [m for p in prep.children if p.dep_ == "pobj"
                                  for m in self._named(self.refs.refer_all(p))]
                        self.emit(subj, relation_name(rel, dobj.lemma_, prep.lower_), places,
                                  self._conf(0.7, s_tok))
        self.emit(subj, rel, self.refs.refer_all(dobj, {m.id for m in subj}), self._conf(0.8, s_tok, dobj))

    def _owned(self, s_tok):
        """``(owners, noun relation)`` of a possessed common-noun subject ("its headquarters", "whose tower")."""
        if s_tok.pos_ != "NOUN" or s_tok.i in self.ent_of:
            return None
        poss = [c for c in s_tok.children if c.dep_ == "poss"]
        if not poss:
            return None
        called = [m for c in s_tok.children if c.dep_ == "appos" for m in self._named(self.refs.refer(c))]
        if called:  # "His daughter, Ada Berg, is a chemist": the sentence is about the one it names
            return None
        own = {m.id for t in [*s_tok.conjuncts, *(c for c in s_tok.children if c.dep_ == "appos")]
               for m in self.refs.refer(t)}
        owners = [m for m in self.refs.refer_all(poss[0]) if m.id not in own]
        return (owners, self._noun_relation(s_tok)) if owners else None

    def _copula(self, verb, s_tok, subj, times: list[TimeExpr]) -> None:
        s_ids = {m.id for m in subj}
        owned = self._owned(s_tok)
        relational_subject = owned is not None or (
            any(c.dep_ == "prep" and c.lower_ == "of" for c in s_tok.children) and s_tok.pos_ == "NOUN")
        used = {i for t in times for i in t.tokens}
        base = owned[1] if owned else ""
        for child in verb.children:
            if child.i in used:
                continue
            if child.dep_ in ("attr", "oprd") and not relational_subject:
                for attr in [child, *[c for c in child.conjuncts if c.pos_ in NOMINAL]]:
                    self._predicate_noun(s_tok, subj, attr)
                if child.pos_ == "NOUN" and child.i not in self.ent_of:
                    base = self._noun_relation(child)
            elif child.dep_ == "acomp":
                self._adjective(s_tok, subj, child, owned)
            elif child.dep_ == "prep" and verb.lemma_.lower() == "be":
                owners, rel = (owned[0], relation_name(owned[1], child.lower_)) if owned else (
                    subj, relation_name("be", child.lower_))
                for pobj in child.children:
                    if pobj.dep_ == "pobj":
                        self.emit(owners, rel, self.refs.refer_all(pobj, s_ids), self._conf(0.7, s_tok, pobj))
        if base:
            for t in times:
                if t.kind == "date":
                    self.emit(owned[0] if owned else subj, date_relation(base, t.prep), [t.value],
                              self._conf(0.75, s_tok))

    def _adjective(self, s_tok, subj, adj, owned) -> None:
        """"is 23 kilometres long" -> (X, length, 23 kilometres); "is famous for Y" -> (X, famous_for, Y)."""
        owners, prefix = owned if owned else (subj, "")
        for c in adj.children:
            if c.dep_ in ("npadvmod", "nmod") and c.pos_ in NOMINAL:
                values = [m for m in self.refs.refer_all(c) if m.label in NUMERIC_LABELS]
                measure = MEASURES.get(adj.lemma_.lower(), adj.lemma_.lower())
                self.emit(owners, relation_name(prefix, measure), values, self._conf(0.75, s_tok))
            elif c.dep_ == "prep":
                for pobj in c.children:
                    if pobj.dep_ == "pobj":
                        self.emit(owners, relation_name(prefix, adj.lemma_, c.lower_),
                                  self.refs.refer_all(pobj, {m.id for m in subj}), self._conf(0.7, s_tok, pobj))


def _passive(verb) -> bool:
    """A passive verb: with a passive auxiliary or subject, a participle modifier ("a tool made of Y"), or a
    participle coordinated with a passive ("was commissioned by A and designed by B")."""
    if any(c.dep_ in ("auxpass", "nsubjpass") for c in verb.children):
        return True
    if verb.tag_ == "VBN" and verb.dep_ == "acl":
        return True
    return verb.tag_ == "VBN" and verb.dep_ == "conj" and not any(c.dep_ in ("aux", "nsubj") for c in verb.children) \
        and _passive(verb.head)
