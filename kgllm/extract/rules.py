"""Rule-based relation extraction from spaCy dependency parses.

:class:`RuleExtractor` splits each document into sentence chunks
(:func:`~kgllm.extract.chunk.chunk_document`), parses them in batches with the
shared spaCy pipeline (:func:`~kgllm.models.get_nlp`) and reads facts off the
dependency tree with general English patterns (no per-dataset rules).

Mentions
    A fact argument is the whole name, not its head word: the syntactic noun
    phrase (compounds, adjectival and numeric modifiers, ``X of Y`` inside a
    proper name) joined with any named entity it overlaps, without leading
    determiners or possessives. A common-noun title in front of a name is left
    out ("the musician Andrew White" -> "Andrew White"). Ids are the raw
    :func:`~kgllm.types.entity_id` of the surface form (resolution is a later,
    separate step: :mod:`kgllm.extract.resolve`).

Relation names (snake_case, from lemmas)
    * verbs: the lemma in the active voice, the past participle in the passive,
      then particles and the preposition of a prepositional object:
      "studied at" -> ``study_at``, "was born in" -> ``born_in``,
      "was founded by" -> ``founded_by``, "plays" -> ``play``;
    * a predicate noun with a preposition keeps both: "X is the capital of Y" and
      the apposition "X, the capital of Y," -> ``(X, capital_of, Y)``;
      "X is a dish from Y" -> ``(X, dish_from, Y)``; a bare predicate noun gives
      ``is_a``: "Ada, a chemist," -> ``(Ada, is_a, chemist)``;
    * a possessed noun names the relation from owner to value, read as "value
      is the R of owner": "Poland's capital Warsaw", "Jason's daughter Lisa",
      "his daughter Lisa", "Lisa, his daughter", "The leader of Aarhus is Jacob",
      "X has a population of N" -> ``(owner, R, value)``.

So a relation ending in a preposition reads left to right ("warsaw capital_of
poland"); a bare noun relation R reads "object is the R of subject".

Coverage: active verbs with direct and prepositional objects, passives with
``by`` agents, copulas (``be``, ``become``, ``remain``) with nominal, adjectival
and prepositional complements, appositions, possessives, relative clauses
("X, who was born in Y,"), participle modifiers ("a dish made from Y"),
subjects shared by coordinated verbs and one fact per conjunct of subjects and
objects. Negated verbs give no fact.

Pronouns (a simple, documented heuristic)
    ``he``/``she`` (and object ``him``/``her``) become the most recent PERSON
    mention of the same document before the pronoun (an object pronoun never
    refers to its own clause's subject); ``it``/``its`` the most recent named
    non-person mention; ``they``/``them``/``their`` the most recent coordinated
    group of mentions, else the most recent named non-person mention. The
    possessives ``his``/``her``/``its``/``their`` first try the subject of
    their own clause when it comes before them ("Jason and his wife Gabrielle",
    "Lisa, his daughter" with Jason as subject), then the rule above. Relative
    pronouns (``who``, ``which``, ``that``, ``whose``) are the noun the clause
    modifies. A pronoun with no antecedent gives no fact.

Provenance
    One :class:`~kgllm.types.Provenance` per fact: the document id, the chunk
    index, ``start``/``end`` = the character span of the *sentence* in the
    document (``document.text[start:end] == sentence``), ``extractor="rules"``.

Examples
--------
>>> from kgllm.extract.rules import RuleExtractor
>>> from kgllm.types import Document
>>> delta = RuleExtractor().extract([Document("d", "Marie Curie was born in Warsaw.")])
>>> [f.as_line() for f in delta.facts]
['marie curie --born_in--> warsaw']
>>> p = delta.facts[0].provenance[0]
>>> (p.doc_id, p.chunk, p.start, p.end, p.extractor)
('d', 0, 0, 31, 'rules')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from kgllm.errors import InputError
from kgllm.extract.chunk import chunk_document
from kgllm.progress import progress as track_progress
from kgllm.types import Chunk, Document, Entity, Fact, GraphDelta, Provenance, entity_id

__all__ = ["RuleExtractor", "relation_name"]

_NOMINAL = {"NOUN", "PROPN", "NUM", "PRON", "X", "SYM"}
_PERSON_PRON = {"he", "she", "him", "her", "his", "hers"}
_THING_PRON = {"it", "its"}
_GROUP_PRON = {"they", "them", "their", "theirs"}
_RELATIVE = {"who", "whom", "which", "that", "whose"}
_NUMERIC_LABELS = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"}
_LEFT_MODS = {"compound", "amod", "nummod", "nmod", "quantmod"}
_RIGHT_MODS = {"compound", "flat", "nummod"}
_SUBJ = {"nsubj", "nsubjpass", "csubj", "csubjpass"}
_COPULAS = {"be", "become", "remain"}
_INHERIT = {"conj", "xcomp", "advcl"}
_LOCATIONS = {"GPE", "LOC", "FAC"}
# Generic place classifiers: "the city of Abilene" denotes Abilene.
_PLACE_NOUNS = {"city", "town", "village", "region", "state", "country", "province", "county", "island",
                "municipality", "district", "kingdom", "republic", "borough", "area", "territory"}
_WORD = re.compile(r"[^0-9a-z]+")


def relation_name(*words: str) -> str:
    """Join words into a snake_case relation name.

    >>> relation_name("born", "in")
    'born_in'
    >>> relation_name("ICAO Location", "identifier")
    'icao_location_identifier'
    """
    text = "_".join(w for w in words if w)
    return _WORD.sub("_", text.lower()).strip("_")


@dataclass(slots=True)
class _Mention:
    """A mention: token span ``[start, end)`` of one sentence, with its surface text."""

    text: str
    label: str
    start: int
    end: int
    head: int
    sent: int  # sentence (chunk) index in the document
    group: int = -1  # id of a coordination group, -1 when alone
    subject: bool = False  # subject of a main clause (preferred antecedent)

    @property
    def id(self) -> str:
        return entity_id(self.text)

    def is_person(self) -> bool:
        return self.label == "PERSON"

    def is_named_thing(self) -> bool:
        return bool(self.label) and self.label not in _NUMERIC_LABELS and self.label != "PERSON"


@dataclass(slots=True)
class _DocState:
    """Mentions seen so far in one document, for pronoun resolution."""

    history: list[_Mention] = field(default_factory=list)
    groups: int = 0


class _Sentence:
    """Pattern matching over one parsed sentence chunk."""

    def __init__(self, sdoc, chunk: Chunk, state: _DocState) -> None:
        self.doc = sdoc
        self.chunk = chunk
        self.state = state
        self.ent_of: dict[int, object] = {}
        for ent in sdoc.ents:
            for i in range(ent.start, ent.end):
                self.ent_of[i] = ent
        self.facts: list[tuple[_Mention, str, _Mention, float]] = []
        self.mentions: dict[int, _Mention] = {}
        self.local: list[_Mention] = self._named_mentions()

    # ---------------------------------------------------------------- mentions
    def _named_mentions(self) -> list[_Mention]:
        """Named mentions of the sentence in order (for entities and pronoun antecedents)."""
        heads = {ent.root.i for ent in self.doc.ents}
        for tok in self.doc:
            if tok.pos_ == "PROPN" and tok.dep_ not in ("compound", "flat") and tok.i not in self.ent_of:
                heads.add(tok.i)
        found = [m for m in (self.mention(self.doc[i]) for i in sorted(heads)) if m is not None]
        # Coordinated mentions form a group ("Jason and Mary" for "they").
        by_head = {m.head: m for m in found}
        for m in found:
            tok = self.doc[m.head]
            if m.group < 0 and any(c.i in by_head for c in tok.conjuncts):
                gid = self.state.groups
                self.state.groups += 1
                for c in [tok, *tok.conjuncts]:
                    if c.i in by_head:
                        by_head[c.i].group = gid
        for tok in self.doc:  # main-clause subjects, named or not ("Binignit is ... It contains ...")
            if tok.dep_ in _SUBJ and tok.head.dep_ in ("ROOT", "conj") and tok.pos_ != "PRON":
                for t in [tok, *tok.conjuncts]:
                    for m in self.refer(t):
                        m.subject = True
                        if all(x.head != m.head for x in found):
                            found.append(m)
        return sorted(found, key=lambda m: m.start)

    def mention(self, tok) -> _Mention | None:
        """The mention headed by ``tok`` (cached), or None for pronouns and punctuation."""
        if tok.i in self.mentions:
            return self.mentions[tok.i]
        if tok.pos_ not in _NOMINAL or tok.pos_ == "PRON" or tok.lower_ in _RELATIVE:
            return None
        start, end = self._bounds(tok)
        span = self.doc[start:end]
        label = ""
        ent = self.ent_of.get(tok.i)
        if ent is None:
            ent = next((self.ent_of[i] for i in range(start, end) if i in self.ent_of), None)
        if ent is not None:
            label = ent.label_
        text = span.text.strip()
        if not entity_id(text):
            return None
        m = _Mention(text, label, start, end, tok.i, self.chunk.index)
        self.mentions[tok.i] = m
        return m

    def _bounds(self, tok) -> tuple[int, int]:
        left, right = tok.i, tok.i + 1
        proper = tok.pos_ == "PROPN" or tok.i in self.ent_of
        for child in reversed(list(tok.lefts)):
            if child.dep_ not in _LEFT_MODS or child.right_edge.i + 1 != left:
                break
            if proper and child.pos_ == "NOUN" and child.text.islower() and child.i not in self.ent_of:
                break  # "the musician Andrew White": the title is not part of the name
            if any(t.pos_ in ("VERB", "AUX") or t.dep_ in ("punct", "cc") and t.text not in "-–"
                   for t in child.subtree):
                break  # a modifier never spans a clause
            left = child.left_edge.i
        for child in tok.rights:
            if child.i != right:
                break
            if child.dep_ in _RIGHT_MODS:
                right = child.right_edge.i + 1
            elif (child.dep_ == "prep" and child.lower_ == "of" and tok.pos_ == "PROPN" and tok.text[:1].isupper()
                  and any(g.dep_ == "pobj" and g.pos_ == "PROPN" for g in child.children)):
                right = child.right_edge.i + 1  # "University of Paris", "Kingdom of Sarawak"
            elif (child.dep_ == "punct" and child.text == "," and tok.ent_type_ in _LOCATIONS
                  and any(a.dep_ == "appos" and a.ent_type_ in _LOCATIONS and a.left_edge.i == child.i + 1
                          and not any(g.dep_ in ("appos", "prep", "relcl", "acl", "punct") for g in a.children)
                          for a in tok.rights)):
                app = next(a for a in tok.rights if a.dep_ == "appos")
                right = app.right_edge.i + 1  # "Marietta, Ohio": a place qualified by its region
                break
            else:
                break
        lo, hi = tok.left_edge.i, tok.right_edge.i + 1
        for i in range(left, right):
            ent = self.ent_of.get(i)
            if ent is not None and ent.start >= lo and ent.end <= hi:
                if ent.label_ in _NUMERIC_LABELS and tok.i not in range(ent.start, ent.end):
                    continue
                left, right = min(left, ent.start), max(right, ent.end)
        while left < right - 1 and (self.doc[left].dep_ in ("det", "poss", "case", "punct", "cc", "predet")
                                    or self.doc[left].tag_ in ("DT", "PRP$", "WP$", "POS")):
            if self.doc[left].dep_ == "poss" and left != tok.i:
                left = self.doc[left].right_edge.i + 1  # drop the whole possessor phrase
                continue
            left += 1
        while right - 1 > left and (self.doc[right - 1].is_punct or self.doc[right - 1].tag_ == "POS"):
            right -= 1
        text = self.doc[left:right].text
        if text.count("(") > text.count(")") and right < len(self.doc) and self.doc[right].text == ")":
            right += 1  # "Cross of Valour (Poland)"
        return left, right

    # --------------------------------------------------------------- referents
    def refer(self, tok, exclude: Iterable[str] = ()) -> list[_Mention]:
        """Mentions a token stands for: itself, its named apposition, or a pronoun's antecedent."""
        low = tok.lower_
        if low in _RELATIVE and tok.tag_ in ("WP", "WDT", "WP$", "DT") or (low == "that" and tok.dep_ in _SUBJ):
            clause = tok.head
            for _ in range(4):  # "whose birthplace was": climb to the relative clause
                if clause.dep_ in ("relcl", "acl") or clause.head.i == clause.i:
                    break
                clause = clause.head
            if clause.dep_ in ("relcl", "acl") and clause.head.i != tok.i:
                return self.refer(clause.head)
            return []
        if tok.pos_ == "PRON":
            return self._antecedent(tok, set(exclude))
        if tok.pos_ == "NOUN" and tok.i not in self.ent_of:
            # "his wife Gabrielle" -> Gabrielle; "the city of Abilene" -> Abilene
            for child in tok.rights:
                if child.dep_ == "appos" and (child.pos_ == "PROPN" or child.i in self.ent_of):
                    owner = [c for c in child.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
                    m = self.mention(owner[0] if owner else child)  # "her son Stephen's house" -> Stephen
                    return [m] if m else []
            if tok.lemma_.lower() in _PLACE_NOUNS:
                for prep in tok.rights:
                    if prep.dep_ == "prep" and prep.lower_ == "of":
                        for pobj in prep.children:
                            if pobj.dep_ == "pobj" and (pobj.pos_ == "PROPN" or pobj.i in self.ent_of):
                                m = self.mention(pobj)
                                return [m] if m else []
        m = self.mention(tok)
        return [m] if m else []

    def refer_all(self, tok, exclude: Iterable[str] = ()) -> list[_Mention]:
        """:meth:`refer` for a token and each of its nominal conjuncts."""
        out: list[_Mention] = []
        for t in [tok, *[c for c in tok.conjuncts if c.pos_ in _NOMINAL]]:
            for m in self.refer(t, exclude):
                if m.id not in {x.id for x in out}:
                    out.append(m)
        return out

    def _antecedent(self, tok, exclude: set[str]) -> list[_Mention]:
        low = tok.lower_
        if low not in _PERSON_PRON | _THING_PRON | _GROUP_PRON:
            return []
        if tok.dep_ == "poss":
            found = self._clause_owner(tok, exclude)
            if found:
                return found
        elif tok.dep_ not in _SUBJ:
            verb = self._governor(tok)
            if verb is not None:
                for s in self.subjects(verb, resolve=False):
                    exclude |= {m.id for m in self.refer(s)} if s.pos_ != "PRON" else set()
        candidates = self.state.history + [m for m in self.local if m.end <= tok.i]
        candidates = [m for m in candidates if m.id not in exclude]
        subjects = [m for m in candidates if m.subject and m.sent >= self.chunk.index - 1]
        if low in _PERSON_PRON:
            return (self._latest(subjects, lambda m: m.is_person())
                    or self._latest(candidates, lambda m: m.is_person()))
        if low in _THING_PRON:
            return (self._latest(subjects, lambda m: not m.is_person() and m.label not in _NUMERIC_LABELS)
                    or self._latest(candidates, lambda m: m.is_named_thing()))
        for m in reversed(candidates):  # they/them/their: a coordinated group
            if m.group >= 0:
                return [x for x in candidates if x.group == m.group]
        return self._latest(candidates, lambda m: m.is_named_thing())

    @staticmethod
    def _latest(candidates: list[_Mention], accept) -> list[_Mention]:
        for m in reversed(candidates):
            if accept(m):
                return [m]
        return []

    def _governor(self, tok):
        node = tok
        while node.head.i != node.i:
            node = node.head
            if node.pos_ in ("VERB", "AUX"):
                return node
        return node if node.pos_ in ("VERB", "AUX") else None

    def _clause_owner(self, tok, exclude: set[str]) -> list[_Mention]:
        """Antecedent of a possessive pronoun: the preceding subject of its clause, if it fits."""
        owned = tok.head
        own_phrase = {owned.i, *(c.i for c in owned.children if c.dep_ == "appos")}
        if owned.dep_ == "appos":
            own_phrase.add(owned.head.i)
        exclude |= {m.id for i in own_phrase for m in ([self.mention(self.doc[i])] if self.mention(self.doc[i]) else [])}
        want_person = tok.lower_ in _PERSON_PRON
        node = tok
        for _ in range(3):  # own clause first, then the clauses above it
            verb = self._governor(node)
            if verb is None:
                return []
            for s in self.subjects(verb, resolve=False):
                if s.i >= tok.i or s.i in own_phrase or s.pos_ == "PRON" and s.lower_ in _RELATIVE:
                    continue
                for m in (self.refer(s) if s.pos_ != "PRON" else self._antecedent(s, set())):
                    if m.id in exclude or m.label in _NUMERIC_LABELS:
                        continue
                    if want_person or not m.is_person():
                        return [m]
            node = verb
        return []

    # ------------------------------------------------------------------ clauses
    def subjects(self, verb, resolve: bool = True):
        """Subject tokens of a verb (own, or inherited from the verb it hangs on)."""
        node = verb
        for _ in range(8):
            own = [c for c in node.children if c.dep_ in _SUBJ]
            if own:
                out = []
                for s in own:
                    out.extend([s, *[c for c in s.conjuncts if c.pos_ in _NOMINAL]])
                return out
            if node.dep_ in ("relcl", "acl") and node.head.pos_ in _NOMINAL:
                head = node.head
                if head.dep_ in ("attr", "oprd") and head.head.lemma_.lower() in _COPULAS and head.pos_ == "NOUN":
                    # "X is a dish made from Y": what the predicate noun's modifier says holds of X
                    return self.subjects(head.head)
                return [head, *[c for c in head.conjuncts if c.pos_ in _NOMINAL]]
            if node.dep_ in _INHERIT and node.head.i != node.i:
                node = node.head
            elif node.dep_ == "pcomp" and node.head.dep_ == "prep":
                node = node.head.head
            else:
                return []
        return []

    def emit(self, subj: Iterable[_Mention], rel: str, obj: Iterable[_Mention], conf: float) -> None:
        if not rel:
            return
        objs = list(obj)
        for s in subj:
            for o in objs:
                if s.id != o.id:
                    self.facts.append((s, rel, o, conf))

    def run(self) -> None:
        for tok in self.doc:
            if tok.pos_ in ("VERB", "AUX") and tok.dep_ not in ("aux", "auxpass"):
                self._verb(tok)
            if tok.dep_ == "poss" and tok.lower_ != "whose" or tok.lower_ == "whose" and tok.dep_ == "poss":
                self._possessive(tok)
            if tok.dep_ == "appos":
                self._apposition(tok)
            if tok.dep_ == "prep" and tok.lower_ == "of" and tok.head.dep_ in _SUBJ:
                self._subject_of(tok)

    def _conf(self, base: float, *tokens) -> float:
        penalty = sum(0.15 for t in tokens if t.pos_ == "PRON") + sum(
            0.1 for t in tokens if t.pos_ == "NOUN" and t.i not in self.ent_of)
        return round(max(0.3, base - penalty), 2)

    def _verb(self, verb) -> None:
        if any(c.dep_ == "neg" for c in verb.children):
            return
        subj_toks = self.subjects(verb)
        if not subj_toks:
            return
        lemma = verb.lemma_.lower()
        passive = any(c.dep_ in ("auxpass", "nsubjpass") for c in verb.children) or (
            verb.dep_ == "acl" and verb.tag_ == "VBN")
        for s_tok in subj_toks:
            subj = self.refer(s_tok)
            if not subj:
                continue
            if lemma in _COPULAS:
                self._copula(verb, s_tok, subj)
                continue
            word = verb.lower_ if passive else lemma
            particles = [c.lower_ for c in verb.children if c.dep_ == "prt"]
            for child in verb.children:
                if child.dep_ == "dobj":
                    self._direct_object(verb, s_tok, subj, child, relation_name(word, *particles))
                elif child.dep_ == "oprd" and child.pos_ in _NOMINAL:  # "was named X", "is called X"
                    self.emit(subj, relation_name(word, *particles), self.refer_all(child, {m.id for m in subj}),
                              self._conf(0.7, s_tok, child))
                elif child.dep_ in ("prep", "agent"):
                    for pobj in child.children:
                        if pobj.dep_ == "pobj":
                            rel = relation_name(word, *particles, child.lower_)
                            self.emit(subj, rel, self.refer_all(pobj, {m.id for m in subj}),
                                      self._conf(0.8, s_tok, pobj))

    def _direct_object(self, verb, s_tok, subj, dobj, rel) -> None:
        if verb.lemma_.lower() == "have" and dobj.pos_ == "NOUN":
            for prep in dobj.children:  # "X has a population of N" -> (X, population, N)
                if prep.dep_ == "prep" and prep.lower_ == "of":
                    for pobj in prep.children:
                        if pobj.dep_ == "pobj":
                            self.emit(subj, self._noun_relation(dobj), self.refer_all(pobj), self._conf(0.75, s_tok))
                    return
        self.emit(subj, rel, self.refer_all(dobj, {m.id for m in subj}), self._conf(0.8, s_tok, dobj))

    def _copula(self, verb, s_tok, subj) -> None:
        s_ids = {m.id for m in subj}
        relational_subject = any(c.dep_ == "poss" or (c.dep_ == "prep" and c.lower_ == "of")
                                 for c in s_tok.children) and s_tok.pos_ == "NOUN"
        for child in verb.children:
            if child.dep_ in ("attr", "oprd") and not relational_subject:
                for attr in [child, *[c for c in child.conjuncts if c.pos_ in _NOMINAL]]:
                    self._predicate_noun(s_tok, subj, attr)
            elif child.dep_ == "acomp":
                for prep in child.children:
                    if prep.dep_ == "prep":
                        for pobj in prep.children:
                            if pobj.dep_ == "pobj":
                                self.emit(subj, relation_name(child.lemma_, prep.lower_),
                                          self.refer_all(pobj, s_ids), self._conf(0.7, s_tok, pobj))
            elif child.dep_ == "prep" and verb.lemma_.lower() == "be":
                for pobj in child.children:
                    if pobj.dep_ == "pobj":
                        self.emit(subj, relation_name("be", child.lower_), self.refer_all(pobj, s_ids),
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
                              self.refer_all(pobj, s_ids), self._conf(0.8, s_tok, pobj))
                    done = True
        if not done and attr.pos_ == "NOUN":
            m = self.mention(attr)
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

    def _values_of(self, noun) -> list[_Mention]:
        """What a relational noun denotes: its apposition, copula partner or the name it describes."""
        out: list[_Mention] = []
        for child in noun.children:
            if child.dep_ == "appos":
                owner = [c for c in child.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
                out.extend(self.refer_all(owner[0]) if owner else self.refer_all(child))
        if noun.dep_ == "appos" and noun.head.pos_ in _NOMINAL:
            out.extend(self.refer(noun.head))
        if noun.dep_ in _SUBJ and noun.head.lemma_.lower() in _COPULAS:
            for c in noun.head.children:
                if c.dep_ in ("attr", "oprd", "acomp") and c.pos_ in _NOMINAL:
                    out.extend(self.refer_all(c))
        if noun.dep_ == "nsubjpass" and noun.head.lemma_.lower() in ("call", "name"):
            for c in noun.head.children:
                if c.dep_ == "oprd":
                    out.extend(self.refer_all(c))
        if noun.dep_ in ("attr", "oprd") and noun.head.lemma_.lower() in _COPULAS:
            for s in self.subjects(noun.head):
                out.extend(self.refer(s))
        if noun.dep_ == "compound" and (noun.head.pos_ == "PROPN" or noun.head.i in self.ent_of):
            out.extend(self.refer(noun.head))
        return out

    def _possessive(self, poss) -> None:
        """``Y's R X`` / ``his R X`` / ``Y's R is X`` / ``X, his R`` -> (Y, R, X)."""
        noun = poss.head
        owners = self.refer_all(poss)
        if not owners:
            return
        values: list[_Mention]
        if noun.pos_ == "PROPN" or noun.i in self.ent_of:
            # "his daughter Lisa" parsed with the title as a compound of the name
            titles = [c for c in noun.lefts if c.dep_ == "compound" and c.pos_ == "NOUN" and c.text.islower()]
            if not titles:
                if noun.dep_ in _SUBJ or noun.dep_ in ("attr",):
                    values = self._values_of(noun)
                    rel = self._noun_relation(noun)
                    self.emit(owners, rel, [v for v in values if v.id != self.mention(noun).id]
                              if self.mention(noun) else values, self._conf(0.6, poss))
                return
            rel = relation_name(*(t.lemma_ for t in titles))
            values = self.refer(noun)
        else:
            rel = self._noun_relation(noun)
            values = self._values_of(noun)
        self.emit(owners, rel, values, self._conf(0.85, poss))

    def _apposition(self, appos) -> None:
        head = appos.head
        if head.pos_ not in _NOMINAL or any(c.dep_ == "poss" for c in appos.children):
            return  # possessive appositions ("Lisa, his daughter") are read by the possessive rule
        if any(c.dep_ == "poss" for c in head.children):
            return  # "Sheila's sister, Diana": possessive rule
        if appos.pos_ == "NOUN" and appos.i not in self.ent_of and head.pos_ != "NOUN":
            # "Ada, a chemist," / "Oslo, the capital of Norway,": a reduced copula
            subj = self.refer(head)
            if subj:
                self._predicate_noun(head, subj, appos)
        elif head.pos_ in ("PROPN",) and (appos.pos_ == "PROPN" or appos.i in self.ent_of):
            h, a = self.mention(head), self.mention(appos)
            if h and a and h.label in _LOCATIONS and a.label in _LOCATIONS and a.start >= h.end:
                self.emit([h], "located_in", [a], 0.6)  # "Staten Island, in the United States"

    def _subject_of(self, prep) -> None:
        """``The R of Y is X`` -> (Y, R, X)."""
        noun = prep.head
        if noun.pos_ != "NOUN" or noun.head.lemma_.lower() not in _COPULAS:
            return
        owners = [m for pobj in prep.children if pobj.dep_ == "pobj" for m in self.refer_all(pobj)]
        values = self._values_of(noun)
        self.emit(owners, self._noun_relation(noun), values, self._conf(0.8, noun))


class RuleExtractor:
    """Extract facts with spaCy dependency patterns (see the module docstring for the rules).

    Parameters
    ----------
    batch_size : int, optional
        Sentences per :meth:`spacy.Language.pipe` batch.
    nlp : spacy.Language, optional
        Pipeline to use; default the shared one from :func:`kgllm.models.get_nlp`,
        loaded on first use (construction does no heavy work).

    Examples
    --------
    >>> from kgllm.types import Document
    >>> text = "Warsaw is the capital of Poland. Jason and his wife Gabrielle visited it."
    >>> delta = RuleExtractor().extract([Document("d", text)])
    >>> sorted(f.as_line() for f in delta.facts)  # "it": the previous sentence's subject
    ['gabrielle --visit--> warsaw', 'jason --visit--> warsaw', 'jason --wife--> gabrielle', 'warsaw --capital_of--> poland']
    """

    name = "rules"

    def __init__(self, batch_size: int = 64, nlp=None) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self._nlp = nlp

    @property
    def nlp(self):
        """The spaCy pipeline (loaded lazily)."""
        if self._nlp is None:
            from kgllm.models import get_nlp

            self._nlp = get_nlp()
        return self._nlp

    def extract(self, documents: Sequence[Document], progress: bool = False) -> GraphDelta:
        """Extract entities and facts from ``documents``.

        Parameters
        ----------
        documents : Sequence[Document]
            Documents to read. An empty sequence gives an empty delta.
        progress : bool, optional
            Show a rich progress bar over sentences.

        Returns
        -------
        GraphDelta
            One :class:`~kgllm.types.Entity` per distinct mention id and the facts, with
            raw (unresolved) entity ids and one provenance each.

        Raises
        ------
        InputError
            If a document's text is empty, naming the document id.
        """
        docs = list(documents)
        if not docs:
            return GraphDelta()
        chunks: list[Chunk] = []
        for doc in docs:
            if not isinstance(doc.text, str) or not doc.text.strip():
                raise InputError(f"document {doc.id!r} has empty text: nothing to extract")
            chunks.extend(chunk_document(doc))
        parsed = self.nlp.pipe((c.text for c in chunks), batch_size=self.batch_size)
        if progress:
            parsed = track_progress(parsed, "extracting", total=len(chunks))
        return self._collect(chunks, parsed)

    def _collect(self, chunks: list[Chunk], parsed: Iterator) -> GraphDelta:
        entities: dict[str, Entity] = {}
        facts: dict[tuple[str, str], Fact] = {}
        state = _DocState()
        current = None
        for chunk, sdoc in zip(chunks, parsed):
            if chunk.doc_id != current:
                current, state = chunk.doc_id, _DocState()
            sent = _Sentence(sdoc, chunk, state)
            sent.run()
            prov = Provenance(chunk.doc_id, chunk.index, chunk.start, chunk.end, self.name, chunk.text)
            used = list(sent.local)
            for s, rel, o, conf in sent.facts:
                used.extend((s, o))
                fact = Fact(s.id, rel, o.id, conf, (prov,))
                key = (chunk.doc_id, fact.id)
                if key not in facts or facts[key].confidence < conf:
                    facts[key] = fact
            for m in used:
                _add_entity(entities, m)
            state.history.extend(sent.local)
        return GraphDelta(entities=list(entities.values()), facts=list(facts.values()))


def _add_entity(entities: dict[str, Entity], m: _Mention) -> None:
    eid = m.id
    old = entities.get(eid)
    if old is None:
        entities[eid] = Entity(eid, m.text, m.label)
        return
    aliases = old.aliases if m.text == old.name or m.text in old.aliases else (*old.aliases, m.text)
    if aliases is not old.aliases or (m.label and not old.type):
        entities[eid] = Entity(eid, old.name, old.type or m.label, aliases)
