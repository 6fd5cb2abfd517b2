"""Question analysis: the entities a question names, the relation it asks, the kind of answer, qualifiers.

:func:`analyse_question` reads a question once for the whole answer pipeline
(:class:`~kgllm.reason.reasoner.Reasoner`):

* ``seeds``: the graph entities it names (:class:`~kgllm.retrieve.link.EntityLinker`);
* ``want``: the kind of answer asked (:func:`~kgllm.reason.support.question_type`: *when* a
  date, *how many* a number, *who* a person or organisation, *where* a place, *which X* an X);
* ``predicate``: the words that state the asked relation and must be stated by any sentence
  that answers it -- the head of the question's relation words in its dependency parse ("Who
  *founded* X", "Who is the chief *editor* of X", "How *long* is X", "Where is X *from*");
  ``context``: its other relation words ("chief"), which help rank but are not required;
* ``qualifiers``: phrases that narrow the answer ("before joining X", "in 2004"): a sentence
  that answers must say them too, and they are never the answer;
* ``nested``: a relative clause on a noun ("the company that owns X") is a question of its
  own, answered first (:func:`nested_parts`).

Examples
--------
>>> a = analyse_question("Who founded Velmora Bikes in 1990?")
>>> a.predicate, sorted(a.want.kinds), [(q.prep, q.text) for q in a.qualifiers]
(('found',), ['org', 'person'], [('in', '1990')])
>>> analyse_question("Who is the chief editor of Velmora Bikes?").predicate
('editor',)
>>> analyse_question("How tall is the Orlin tower?").predicate
('tall',)
>>> analyse_question("Where is Ines Kobal from?").predicate
('from',)
>>> from kgllm.reason.steps import nested_parts
>>> nested_parts("In which town is the firm that makes Velmora Bikes based?")
('which firm makes Velmora Bikes', 'In which town is {} based?')
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from kgllm.reason.roles import question_roles
from kgllm.reason.support import question_type
from kgllm.retrieve.answer_type import NOUN_KIND, AnswerType, shape_kind
from kgllm.retrieve.link import STOPWORDS, LinkedEntity, tokenize
from kgllm.types import entity_id

__all__ = ["Qualifier", "QuestionAnalysis", "analyse_question", "parse"]

_WH = frozenset({"who", "whom", "whose", "when", "where", "which", "what", "how", "why"})
#: Adjectives of measure that state the relation in "how long/old/tall... is X".
_MEASURES = frozenset("long old tall high far big large wide deep heavy early late".split())
#: Prepositions that narrow an answer when their object is a name or a date ("before X", "in 2004").
_QUALIFYING = frozenset("before after since until during in on at from by with for".split())
#: Words that carry no relation of their own in a question.
_LIGHT = frozenset("be have do get make take go come".split())
_CONTENT_POS = frozenset({"VERB", "NOUN", "ADJ", "ADV"})  # names (PROPN) and numbers state no relation


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Any:
    """The spaCy parse of a (short) text, cached: questions are parsed once."""
    from kgllm.resources import get_nlp

    return get_nlp()(text)


@dataclass(frozen=True, slots=True)
class Qualifier:
    """A phrase that narrows the answer: its preposition, its words, and the entity or date it names."""

    prep: str
    text: str
    entity: str | None = None
    date: str | None = None


@dataclass(slots=True)
class QuestionAnalysis:
    """What :func:`analyse_question` read off a question (see the module docstring)."""

    question: str
    seeds: list[LinkedEntity] = field(default_factory=list)
    want: AnswerType | None = None
    predicate: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    qualifiers: list[Qualifier] = field(default_factory=list)
    type_noun: str = ""
    wh_role: str = ""  # the answer's role: "agent" ("Who founded X?"), "patient" ("What did X found?"), ...
    seed_role: str = ""  # the entity's role around the predicate ("patient" in "When was X founded?")
    context_pos: tuple[tuple[str, str], ...] = ()  # the other relation words with their part of speech
    forms: tuple[str, ...] = ()  # the predicate's words as the question writes them ("founded")

    @property
    def seed_ids(self) -> list[str]:
        """Ids of the linked entities, best first."""
        return [le.entity_id for le in self.seeds]

    @property
    def excluded(self) -> set[str]:
        """Entity ids that are never the answer: those the question names."""
        return set(self.seed_ids) | {q.entity for q in self.qualifiers if q.entity}


def _entity_tokens(doc: Any, seeds: Sequence[LinkedEntity]) -> dict[int, str]:
    """spaCy token index -> the id of the linked entity it belongs to (mentions matched word by word)."""
    words = [tokenize(t.text) for t in doc]
    out: dict[int, str] = {}
    for le in seeds:
        target = le.mention.split()
        for i in range(len(doc)):
            j, k, got = i, 0, []
            while j < len(doc) and k < len(target):
                w = words[j]
                if not w:
                    j += 1
                    continue
                if target[k:k + len(w)] != w:
                    break
                got.append(j)
                k += len(w)
                j += 1
            if k == len(target) and got:
                for g in got:
                    out.setdefault(g, le.entity_id)
    return out


def _names_thing(tok: Any, ent_of: dict[int, str]) -> bool:
    """Whether a noun belongs to an entity's phrase or is a definite description ("the lab")."""
    if tok.pos_ != "NOUN":
        return False
    near = [tok.head, *tok.children, *(tok.doc[i] for i in (tok.i - 1, tok.i + 1) if 0 <= i < len(tok.doc))]
    if any(n.i in ent_of and n.dep_ in ("compound", "appos") or (tok.dep_ in ("compound", "appos") and n.i in ent_of)
           for n in near):
        return True
    return any(c.dep_ == "det" and c.lower_ == "the" for c in tok.children) and not any(
        c.dep_ in ("prep", "poss") for c in tok.children)


#: Nouns that ask what someone does for a living.
_OCCUPATION = frozenset("job occupation profession career trade living".split())


def _asks_occupation(doc: Any, type_noun: str) -> bool:
    """ "What does X do (for a living)?", "What job does X have?", "What is X's profession?"."""
    words = [t.lower_ for t in doc if not t.is_punct]
    if not words or words[0] != "what":
        return False
    if type_noun in _OCCUPATION or any(t.lemma_.lower() in _OCCUPATION and t.pos_ == "NOUN" for t in doc):
        return True
    return words[-1] in ("do", "does", "did") or words[-3:] in (["for", "a", "living"],)


def _noun_run(doc: Any, start: int, ent_of: dict[int, str]) -> list[Any]:
    """The nouns from ``start`` on ("programming language"), none that name an entity."""
    run: list[Any] = []
    for t in doc[start:start + 5]:
        if t.text == "-" and run and t.i + 1 < len(doc) and not doc[t.i + 1].is_punct:
            continue  # "co-founder", "start-up": one word
        if t.pos_ not in ("NOUN", "PROPN" if run and doc[t.i - 1].text == "-" else "NOUN") or t.i in ent_of:
            break
        run.append(t)
    return run


def _depth(tok: Any) -> int:
    d = 0
    while tok.head.i != tok.i and d < 50:
        tok, d = tok.head, d + 1
    return d


def analyse_question(question: str, linker: Any = None, seeds: Sequence[LinkedEntity] | None = None,
                     limit: int = 3) -> QuestionAnalysis:
    """Read ``question`` (see the module docstring).

    ``linker``: an :class:`~kgllm.retrieve.link.EntityLinker` (or anything with ``link(text, limit)``);
    ``seeds``: already linked entities (then the linker is not called). Without either, the
    question names no entity (the relation and kind are still read).
    """
    if seeds is None:
        seeds = linker.link(question, limit=limit) if linker is not None else []
    seeds = _named(question, list(seeds))
    store = getattr(linker, "store", None)
    if store is not None:
        seeds += _short_names(question, seeds, store)
    doc = parse(question)
    ent_of = _entity_tokens(doc, seeds)
    want = question_type(question)
    quals: list[Qualifier] = []
    skip: set[int] = set(ent_of)
    type_noun = ""
    phrases: list[tuple[Any, Any, str | None, str | None]] = []  # (preposition, its object's span, entity, date)
    for tok in doc:
        low = tok.lower_
        if low in _WH:
            skip.add(tok.i)
            nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
            run = _noun_run(doc, tok.i + 1, ent_of) if low in ("which", "what") else []
            if low == "how" and nxt is not None and nxt.lower_ in ("many", "much"):
                skip.add(nxt.i)
                run = _noun_run(doc, tok.i + 2, ent_of)  # "how much money": money is what is counted
            if run:  # "which programming language": the answer's type, not a relation
                skip.update(range(run[0].i, run[-1].i + 1))
                type_noun = run[-1].lemma_.lower()
                if run[-1].i > 1 and doc[run[-1].i - 1].text == "-":
                    type_noun = f"{doc[run[-1].i - 2].lower_}-{type_noun}"  # "co-founder"
        if tok.dep_ == "prep" and low in _QUALIFYING:
            objs = [c for c in tok.children if c.dep_ == "pobj"]
            if objs and objs[0].lower_ not in _WH:
                span = doc[objs[0].left_edge.i: objs[0].right_edge.i + 1]
                ent = next((ent_of[t.i] for t in span if t.i in ent_of), None)
                date = span.text if shape_kind(span.text) == "date" or any(
                    t.ent_type_ == "DATE" for t in span) else None
                phrases.append((tok, span, ent, date))
    seeds = [le for le in seeds if not (type_noun and le.mention.split() == [type_noun])] if type_noun else seeds
    # the entity asked about is one named outside such phrases; a phrase naming another one, or a date, qualifies
    inside = {e for _, _, e, _ in phrases if e}
    main = [le for le in seeds if le.entity_id not in inside]
    if seeds and not main:
        main = [seeds[0]]
    seeds = main + [le for le in seeds if le not in main]
    for tok, span, ent, date in phrases:
        if (ent and ent != seeds[0].entity_id) or (date and not ent):
            quals.append(Qualifier(tok.lower_, span.text, ent, date))
            skip.update(t.i for t in span)
            skip.add(tok.i)
    for i in sorted(ent_of):  # "Tessellate 3.0": a version the linked name leaves out must be said too
        nxt = doc[i + 1] if i + 1 < len(doc) else None
        if nxt is not None and nxt.i not in ent_of and re.fullmatch(r"\d+(\.\d+)+|v?\d+", nxt.text) \
                and nxt.ent_type_ != "DATE" and not shape_kind(nxt.text) == "date":
            quals.append(Qualifier("", nxt.text))
            skip.add(nxt.i)
    rel = [t for t in doc if t.i not in skip and t.pos_ in _CONTENT_POS and not t.is_punct and len(t.text) > 2
           and (t.lemma_.lower() not in _LIGHT or any(c.dep_ == "prt" for c in t.children))
           and t.lower_ not in STOPWORDS and t.lower_ not in ("many", "much")]
    rel += [t for t in doc if t.i not in skip and t.lower_ in _MEASURES and t not in rel]
    predicate: tuple[str, ...] = ()
    head = None
    if rel:
        head = min(rel, key=lambda t: (_depth(t), 0 if t.pos_ == "VERB" else 1, t.i))
        predicate = (_lemma(head),)
    else:  # "Where is X from?", "In which district is X?": the preposition states the relation
        preps = [t for t in doc if t.pos_ == "ADP" and t.i not in skip and t.lower_ not in ("of",)]
        if preps:
            head = preps[-1]
            predicate = (head.lower_,)
    # nouns of the entity's own phrase ("the Corvid diffractometer") and definite descriptions ("the lab")
    # name the entity or its kind, not the relation: they rank, but a sentence need not repeat them
    others = [t for t in rel if (head is None or t.i != head.i) and not _names_thing(t, ent_of)]
    context = tuple(dict.fromkeys(_lemma(t) for t in others if (_lemma(t),) != predicate))
    context_pos = tuple(dict.fromkeys((_lemma(t), t.pos_) for t in others if (_lemma(t),) != predicate))
    if type_noun:  # "which company licensed X": the type is "company", not "licensed"
        kinds = want.kinds if want is not None else frozenset({NOUN_KIND[type_noun]} & set(NOUN_KIND.values())
                                                               if type_noun in NOUN_KIND else set())
        want = AnswerType(kinds, want.tolerated if want is not None else frozenset(), frozenset({type_noun}))
    first = seeds[0].entity_id if seeds else None
    seed_toks = {i for i, e in ent_of.items() if e == first}
    seed_role, wh_role = question_roles(doc, head.i if head is not None else -1, seed_toks)
    forms = (head.lower_,) if head is not None else ()
    if _asks_occupation(doc, type_noun):  # "What does X do?", "What job does X have?": what X is
        return QuestionAnalysis(question, seeds, None, ("is_a",), (), quals, type_noun, "", "", (), ())
    return QuestionAnalysis(question, seeds, want, predicate, context, quals, type_noun, wh_role, seed_role,
                            context_pos, forms)


def _named(question: str, seeds: list[LinkedEntity]) -> list[LinkedEntity]:
    """The linked entities a question names: in a question written with capitals, a mention must hold a word
    written with a capital or a digit ("the company" names nothing, "Alpenbahn Nord" does)."""
    words = [re.sub(r"['\u2019]s$", "", w) for w in re.findall(r"[^\W_]+(?:['\u2019\-.][^\W_]+)*", question)]
    capital = {t for i, w in enumerate(words) if (w[0].isupper() and i > 0) or w[0].isdigit() for t in tokenize(w)}
    if not capital:
        return seeds
    if words and words[0][0].isupper() and words[0].casefold() not in STOPWORDS and words[0].casefold() not in _WH:
        capital.update(tokenize(words[0]))
    return [le for le in seeds if any(t in capital for t in le.mention.split())] or []


def _short_names(question: str, seeds: list[LinkedEntity], store: Any) -> list[LinkedEntity]:
    """Entities named by a part of their name only ("Okafor", "Ruth", "Kestrel"): a capitalised word no linked
    mention covers that is the first word of exactly one longer name in the graph, or the last word of a
    person's."""
    covered = {t for le in seeds for t in le.mention.split() if len(le.mention.split()) > 1}
    linked = {le.entity_id for le in seeds}
    tokens = tokenize(question)
    out: list[LinkedEntity] = []
    for i, word in enumerate(re.findall(r"[^\W_]+", question)):
        key = word.casefold()
        if not word[0].isupper() or key in covered or key in STOPWORDS or key in _WH or len(key) < 3:
            continue
        named = []
        for e in store.find_entities(key, limit=25):
            words = entity_id(e.name).split()
            if len(words) > 1 and (key == words[0] or ((e.type or "").upper() == "PERSON" and key == words[-1])):
                named.append(e.id)  # a person's first or last name; the first word of another name ("Kestrel")
        if len(set(named)) == 1 and named[0] not in linked:  # "Walter": also the one Walter with a longer name
            span = (tokens.index(key), tokens.index(key) + 1) if key in tokens else (-1, -1)
            out.append(LinkedEntity(named[0], key, 0.6, "short name", span))
            covered.add(key)
    return out


def _lemma(tok: Any) -> str:
    """A token's lemma, lower case; a participle used as an adjective keeps its verb ("married" -> "marry")."""
    lemma = tok.lemma_.lower()
    if tok.tag_ == "VBN" or tok.pos_ in ("VERB", "AUX"):
        return lemma
    return lemma if tok.pos_ != "ADJ" else tok.lower_
