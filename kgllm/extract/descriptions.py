"""What a text says its entities are, and the noun phrases that refer back to them.

A document calls a named entity by other words after its name: a definite description
("the company", "the line", "the village"), a surname or first name alone ("Ostby" after
"Hedda Ostby"), the locative pro-form "there". This module decides which entity such a word
stands for, from three things the text itself gives:

Descriptions (:class:`Descriptions`)
    The nouns a document uses for an entity: the head word of its name ("Harrow *Tramway*"),
    predicate nouns ("X is a single-track *line*"), appositions ("X, a *maker* of ...",
    "the *village* of X"), and title nouns before a name ("the *locksmith* Ivo Brandt").
Kinds
    General English nouns that name a kind of entity fit an entity of the matching NER type:
    an organisation noun (company, firm, group, publisher ...) an ``ORG``, a place noun
    (village, town, city ...) a ``GPE``/``LOC``, a person noun (man, woman ...) a ``PERSON``.
The topic
    The document's topic entity (the first subject of its first sentence) stands for a
    description of a concrete kind (a structure, a device, a work, a material ...) that fits
    nothing nearer: "The instrument weighs 11 tonnes" in a text about one instrument.

A definite description ("the N", "this N", without a restrictive modifier: "the capital of
X" and "the company that ..." are new referents) refers to the most recent entity whose
descriptions contain N (tier 0); else, for a noun of a kind, to an entity of that kind that
the text has not called by another specific noun of that kind (tier 1: a publisher may be
"the firm", a laboratory may not), else to any entity of that kind (tier 2), the topic first,
then the latest subject, then the latest mention; else, for a bare subject "the N" of a
concrete kind, to the topic (tier 3). A description that fits none of them but names a kind
of entity or a role ("the engineer") stands for nothing: its facts are dropped rather than
stored on a bare common noun. Other common nouns ("the siege") are left as they are.

Examples
--------
>>> from kgllm.types import Document
>>> from kgllm.extract.reading import read_document
>>> text = "Valdor Tea is a trading company in Lisbon. The firm sells green tea."
>>> r = read_document(Document("d", text))[1]
>>> [m.text for m in r.referents[1]]  # "firm"
['Valdor Tea']
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from kgllm.extract.mentions import COPULAS, LOCATIONS, NUMERIC_LABELS, Mention, noun_word

if TYPE_CHECKING:
    from spacy.tokens import Token

    from kgllm.extract.coref import Referents

__all__ = ["Descriptions", "ORG_NOUNS", "PLACE_NOUNS", "THING_NOUNS", "PERSON_NOUNS", "ROLE_NOUNS", "kind_of_noun",
           "is_role_noun",
           "definite_referent", "short_name", "place_referent", "learn_descriptions"]

#: Nouns for organisations (general English).
ORG_NOUNS = frozenset(
    "company firm group business house organisation organization corporation enterprise publisher start-up "
    "startup maker manufacturer operator producer supplier retailer chain brand label agency foundation trust "
    "charity society association institute institution university college school academy lab laboratory "
    "centre center club team side band orchestra choir party union bank airline carrier broadcaster newspaper "
    "magazine journal studio council ministry department consortium cooperative league federation "
    "conglomerate subsidiary venture outfit developer builder insurer employer family dynasty clan tribe "
    "crew squad army garrison".split())
#: Nouns for places.
PLACE_NOUNS = frozenset(
    "place village town city hamlet settlement municipality region state country nation province county district island "
    "valley area capital port suburb borough territory kingdom republic parish commune canton peninsula "
    "neighbourhood neighborhood".split())
#: Nouns for concrete things: structures, routes, devices, works, materials, software.
THING_NOUNS = frozenset(
    "building castle church chapel abbey cathedral monastery bridge tower stadium ground arena park station line "
    "railway road tunnel canal factory plant mill mine hall palace museum theatre theater hospital airport harbour "
    "harbor dam fortress fort ship vessel boat aircraft plane car vehicle engine locomotive train device machine "
    "instrument apparatus tool product model book novel album song film painting poem play opera work treaty "
    "material substance compound mineral alloy ceramic language library software program programme application app "
    "system platform framework server project release version game".split())
#: Nouns for people in general (role nouns fit a person only when the text described them so).
PERSON_NOUNS = frozenset("man woman person boy girl lady gentleman".split())
#: Nouns for what a person does or is (general English); with the endings in :func:`is_role_noun`.
ROLE_NOUNS = frozenset(
    "engineer striker player goalkeeper keeper defender midfielder forward winger captain coach manager trainer "
    "referee doctor nurse surgeon lawyer judge teacher professor lecturer student pupil writer author poet novelist "
    "painter sculptor composer singer actor actress director producer designer architect builder founder owner "
    "chairman chairwoman president minister mayor governor senator king queen prince princess duke bishop priest "
    "monk nun soldier officer general commander sailor pilot driver farmer fisherman merchant baker butcher "
    "banker investor entrepreneur businessman businesswoman executive chief employee worker "
    "researcher programmer developer maintainer editor journalist reporter photographer chef waiter "
    "athlete runner swimmer cyclist boxer rider skier explorer inventor discoverer clerk secretary "
    "librarian accountant consultant analyst curator translator".split())
_ROLE_ENDINGS = ("ist", "ian", "eer", "ologist", "grapher")
#: Short and long spellings of one noun.
_SAME = {"lab": "laboratory", "programme": "program", "theatre": "theater", "harbour": "harbor",
         "centre": "center", "organisation": "organization", "startup": "start-up", "neighbourhood": "neighborhood"}
#: Nouns any entity of their kind may be called, whatever else the text called it: generic words and, for
#: organisations, the words for a business and what it does (a publisher is a firm, a laboratory is not).
_GENERIC = frozenset("company firm business group organisation organization corporation enterprise publisher "
                     "start-up startup maker manufacturer operator producer supplier retailer chain brand label house "
                     "developer builder insurer conglomerate subsidiary venture outfit employer carrier airline "
                     "place area building structure".split())
_KIND_LABELS = {"org": {"ORG", "NORP"}, "place": LOCATIONS, "person": {"PERSON"},
                "thing": {"FAC", "PRODUCT", "WORK_OF_ART", "LAW", "EVENT", "LANGUAGE"}}
_DEFINITE = {"the", "this", "that"}
# Verbs whose "in"/"to" object is a place.
_LOCATIVE_VERBS = frozenset("move emigrate immigrate travel relocate return live settle reside bear grow raise base "
                            "locate headquarter situate die stay be lie".split())


def _norm(noun: str) -> str:
    noun = noun.lower()
    return _SAME.get(noun, noun)


def is_role_noun(noun: str) -> bool:
    """Whether a noun names what a person does or is ("engineer", "chemist", "historian").

    >>> is_role_noun("striker"), is_role_noun("pianist"), is_role_noun("river")
    (True, True, False)
    """
    noun = noun.lower()
    return noun in ROLE_NOUNS or (len(noun) > 5 and noun.endswith(_ROLE_ENDINGS))


def kind_of_noun(noun: str) -> str | None:
    """The kind of entity a noun names: ``org``, ``place``, ``thing``, ``person`` or None.

    >>> kind_of_noun("firm"), kind_of_noun("village"), kind_of_noun("instrument"), kind_of_noun("siege")
    ('org', 'place', 'thing', None)
    """
    noun = noun.lower()
    for kind, nouns in (("org", ORG_NOUNS), ("place", PLACE_NOUNS), ("thing", THING_NOUNS),
                        ("person", PERSON_NOUNS)):
        if noun in nouns or _SAME.get(noun, "") in nouns:
            return kind
    return None


@dataclass(slots=True)
class Descriptions:
    """The nouns a document used for each entity id so far, and its topic entity."""

    nouns: dict[str, set[str]] = field(default_factory=dict)
    topic: Mention | None = None

    def add(self, mention: Mention, noun: str) -> None:
        """Record that the text called ``mention`` a ``noun`` (its lemma)."""
        if noun and (noun.isalpha() or "-" in noun):
            self.nouns.setdefault(mention.id, set()).add(_norm(noun))

    def of(self, mention: Mention) -> set[str]:
        """The nouns used for ``mention``, the head word of its name included."""
        words = mention.text.split()
        if "of" in words[1:]:
            words = words[:words.index("of", 1)]  # "Treaty of Ravasco", "abbey of San Fedele"
        head = {_norm(words[-1])} if words and words[-1].isalpha() else set()
        return self.nouns.get(mention.id, set()) | head

    def kinds(self, mention: Mention) -> set[str]:
        """The kinds of entity ``mention`` was described as (from its nouns)."""
        return {k for k in (kind_of_noun(n) for n in self.of(mention)) if k}


def learn_descriptions(refs: Referents) -> None:
    """Record what one sentence says its named mentions are (predicate nouns, appositions, titles)."""
    book: Descriptions = refs.state.descriptions
    doc = refs.doc
    for tok in doc:
        if (tok.dep_ == "pobj" and tok.head.lower_ in ("in", "to", "into", "near") and
                tok.head.head.lemma_.lower() in _LOCATIVE_VERBS and (tok.pos_ == "PROPN" or tok.i in refs.mentions.ent_of)):
            m = refs.mentions.mention(tok)  # "moved to Tromso", "was born in Brno": a place
            if m is not None and m.label not in NUMERIC_LABELS:
                book.add(m, "place")
        if tok.pos_ != "NOUN" or tok.i in refs.mentions.ent_of:
            continue
        named = _described_name(tok, refs)
        for m in named:
            if m.label not in NUMERIC_LABELS:
                book.add(m, noun_word(tok))
    if book.topic is None and refs.chunk.index <= 1:  # the first named subject of the first two sentences
        book.topic = next((m for m in refs.local if m.subject and m.label not in NUMERIC_LABELS
                           and (m.label or m.text[:1].isupper())), None)


def _described_name(noun: Token, refs: Referents) -> list[Mention]:
    """The named mentions a common noun describes: "X is a N", "X, a N", "the N X", "the N of X"."""
    def names(tok: Token) -> list[Mention]:
        if tok.pos_ == "PROPN" or tok.i in refs.mentions.ent_of:
            m = refs.mentions.mention(tok)
            return [m] if m is not None and m.label not in NUMERIC_LABELS else []
        return []

    if noun.dep_ in ("attr", "oprd") and noun.head.lemma_.lower() in COPULAS:
        subj = [c for c in noun.head.children if c.dep_ in ("nsubj", "nsubjpass")]
        return [m for s in subj for m in names(s)]
    if noun.dep_ == "appos":
        return names(noun.head)
    out = [m for c in noun.children if c.dep_ == "appos" for m in names(c)]
    if noun.dep_ == "compound" and noun.text.islower():
        out += names(noun.head)  # "the locksmith Ivo Brandt"
    if kind_of_noun(noun.lemma_) == "place":
        out += [m for p in noun.children if p.dep_ == "prep" and p.lower_ == "of"
                for o in p.children if o.dep_ == "pobj" for m in names(o)]
    return out


def _is_definite(tok: Token) -> bool:
    """A singular common noun with a definite determiner and nothing that makes it a new referent."""
    if tok.pos_ != "NOUN" or tok.tag_ not in ("NN",):
        return False
    dets = [c for c in tok.children if c.dep_ == "det"]
    if not dets or dets[0].lower_ not in _DEFINITE:
        return False
    for c in tok.children:
        if c.dep_ in ("relcl", "acl") and not (c.left_edge.i > 0 and tok.doc[c.left_edge.i - 1].text == ","):
            return False  # "the company that ...": a restrictive clause identifies a new referent
        if c.dep_ == "nummod" or (c.dep_ == "prep" and c.lower_ == "of"):
            return False  # "the capital of X"
        if c.dep_ == "compound" and (c.pos_ == "PROPN" or c.ent_type_):
            return False  # "the Mill Lane stadium": a name
        if c.dep_ in ("amod", "compound") and c.text[:1].isupper() and c.ent_type_ != "NORP" and not c.is_sent_start:
            return False  # "the Corvane company": a name, not a description of something named before
    return True


def _modifier_nouns(tok: Token) -> list[str]:
    return [c.lemma_.lower() for c in tok.lefts if c.dep_ == "compound" and c.pos_ == "NOUN"]


def definite_referent(tok: Token, refs: Referents) -> list[Mention] | None:
    """What a definite description stands for: ``[mention]``, ``[]`` (an entity, unknown: no fact) or None.

    None means ``tok`` is no definite description of a named entity (a plain common noun).
    """
    if not _is_definite(tok):
        return None
    noun = _norm(noun_word(tok))
    kind = kind_of_noun(noun)
    book: Descriptions = refs.state.descriptions
    compounds = _modifier_nouns(tok)
    candidates = [m for m in _candidates(refs, tok) if m.label not in NUMERIC_LABELS]
    for m in reversed(candidates):  # tier 0: the text called it so
        if noun in book.of(m) and (not compounds or any(c in book.of(m) for c in compounds) or
                                   all(c in m.text.lower() for c in compounds)):
            return [_here(m, tok, refs)]
    if compounds:
        return None  # "the design team": a new, more specific referent
    if kind is None:
        return [] if is_role_noun(noun) else None  # "the engineer" nobody was called: no fact on "engineer"
    fits = [m for m in candidates if _fits_kind(m, kind, book)]
    if topic_fits(refs, kind) and all(m.id != book.topic.id for m in fits):
        fits.append(book.topic)  # a name the tagger took for a person, with nothing to say it is one
    same_kind = [m for m in fits if not any(kind_of_noun(n) == kind and n != noun and n not in _GENERIC
                                            for n in book.of(m))]
    for tier in (same_kind, fits):
        if tier:
            return [_here(_salient(tier, book), tok, refs)]
    topic = book.topic
    bare = not any(c.dep_ in ("amod", "compound", "nmod") for c in tok.children)
    if (topic is not None and bare and kind in ("thing", "org") and not topic.is_person()
            and tok.dep_ in ("nsubj", "nsubjpass")
            and (not book.kinds(topic) or kind in book.kinds(topic) or "thing" in book.kinds(topic))):
        return [_here(topic, tok, refs)]
    return []


def topic_fits(refs: Referents, kind: str) -> bool:
    """Whether the topic, labelled a person, may be an organisation or thing: nothing in the text says it is a
    person (no gendered pronoun, no description)."""
    topic = refs.state.descriptions.topic
    return (kind in ("org", "thing") and topic is not None and topic.label == "PERSON"
            and topic.id not in refs.state.gender and not refs.state.descriptions.nouns.get(topic.id))


def _salient(tier: list[Mention], book: Descriptions) -> Mention:
    """The topic when it is among ``tier``, else its most recent subject, else its most recent mention."""
    if book.topic is not None and any(m.id == book.topic.id for m in tier):
        return next(m for m in reversed(tier) if m.id == book.topic.id)
    return next((m for m in reversed(tier) if m.subject), tier[-1])


def _fits_kind(m: Mention, kind: str, book: Descriptions) -> bool:
    kinds = book.kinds(m)
    if kinds:
        return kind in kinds
    return m.label in _KIND_LABELS[kind]


def _candidates(refs: Referents, tok: Token) -> list[Mention]:
    """Earlier named mentions of the document, then those of this sentence before ``tok``, oldest first."""
    local = [m for m in refs.local if m.end <= tok.i]
    out = [m for m in refs.state.history if m.label or m.text[:1].isupper()]
    return out + [m for m in local if m.label or m.text[:1].isupper()]


def _here(m: Mention, tok: Token, refs: Referents) -> Mention:
    """``m`` as mentioned by ``tok`` in this sentence (same name, this sentence's span)."""
    start, end = refs.mentions.bounds(tok)
    return replace(m, start=start, end=end, head=tok.i, sent=refs.chunk.index, group=-1, subject=False, anchor=-1)


def short_name(m: Mention, refs: Referents) -> Mention:
    """A one-word second mention of a longer name of the same document ("Ostby" -> "Hedda Ostby"), or ``m``.

    The long name is a PERSON (or, for an ``ORG``, an organisation) whose first or last word is the short
    name, without "of" or digits; when several fit, the topic, else none.
    """
    words = m.text.split()
    if len(words) != 1 or m.label in NUMERIC_LABELS or not m.text[:1].isupper():
        return m
    word = words[0]
    seen: dict[str, Mention] = {}
    for old in [*refs.state.history, *(x for x in refs.local if x.end <= m.start)]:
        parts = old.text.split()
        if (len(parts) < 2 or word not in (parts[0], parts[-1]) or old.label in NUMERIC_LABELS
                or any(p.lower() == "of" or any(ch.isdigit() for ch in p) for p in parts)):
            continue
        person = old.label == "PERSON" or old.id in refs.state.gender  # "her" said it is a person
        if not person and old.label != "ORG" and m.label not in ("PERSON", "ORG"):
            continue
        if m.label in LOCATIONS and not person:
            continue  # a place may share a word with an organisation named after it; a surname rarely with a place
        seen.setdefault(old.id, old)
    if any(x.id == m.id for x in refs.state.history):
        return m  # the short form is a name of its own in this document
    if len(seen) > 1:
        topic = refs.state.descriptions.topic
        if topic is None or topic.id not in seen:
            return m
        seen = {topic.id: topic}
    if not seen:
        return m
    full = next(iter(seen.values()))
    return replace(m, text=full.text, label=full.label or m.label)


def place_referent(tok: Token, refs: Referents) -> list[Mention]:
    """The place "there" stands for: the place subject of this or the previous sentence, else the topic when
    it is a place, else the place mentioned last."""
    book: Descriptions = refs.state.descriptions
    places = [m for m in _candidates(refs, tok) if m.label in LOCATIONS or "place" in book.kinds(m)]
    recent = [m for m in places if m.subject and m.sent >= refs.chunk.index - 1]
    topic = [m for m in places if book.topic is not None and m.id == book.topic.id]
    for group in (recent, topic, places):
        if group:
            return [_here_at(group[-1], tok, refs)]
    return []


def _here_at(m: Mention, tok: Token, refs: Referents) -> Mention:
    return replace(m, start=tok.i, end=tok.i + 1, head=tok.i, sent=refs.chunk.index, group=-1, subject=False,
                   anchor=-1)
