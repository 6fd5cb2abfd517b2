"""Relation typing: the extractor's relation phrases mapped onto a schema's relations, by meaning and type.

The rule extractor names relations after the sentence's words (``born_in``,
``capital_of``, ``is_a``). Given a :class:`~kgllm.schema.Schema`,
:class:`RelationTyper` renames each fact to the schema relation it means, or
drops it (abstains) when none is close enough.

Meaning
    MiniLM embeddings (:func:`kgllm.resources.get_embedder`) of the phrase's
    words ("born in") against each relation's words and description
    (``birthPlace`` -> "birth place"); with ``sentence_weight > 0`` the cosine
    with the whole sentence is blended in.
Direction
    kgllm's names read "X R Y" as "Y is the R of X" for a bare noun R and
    "X is the R of Y" for ``R_of`` (see :mod:`kgllm.extract.patterns`). So a
    phrase ending in "of" matched to a relation whose name does not end in "of"
    is compared without its "of" and its subject and object are swapped:
    ``(oslo, capital_of, norway)`` -> ``(norway, capital, oslo)``. A relation
    whose name ends in "of" (``isPartOf``) keeps the direction. Likewise a bare
    active verb matched to a relation named by its agent noun ("discover" ->
    ``discoverer``, "lead" -> ``leader``, "create" -> ``creator``) swaps: "X
    discovered Y" is "X is the discoverer of Y", i.e. ``(Y, discoverer, X)``.
Function words
    A phrase made only of function words (``is_a``, ``be_in``, ``have``) says
    nothing about which relation it is; it is never mapped (it abstains).
Type
    A relation's ``domain``/``range`` (or, without one, the type its last word
    names: ``birthDate`` -> a date, ``birthPlace`` -> a place) is checked against
    the spaCy entity label of the subject/object through :data:`TYPE_LABELS`.
    A known clash lowers the score by ``type_penalty``; an unknown type on
    either side costs nothing. With ``on_violation="report"`` or ``"drop"``
    the chosen relation is checked again (:mod:`kgllm.extract.violations`):
    each clash is recorded in ``last_violations``, and ``"drop"`` removes
    the fact.
Abstaining
    A fact whose best score is below ``threshold`` is dropped (the schema says
    what the graph may contain), or kept under its own name with
    ``keep_unmatched=True``.

Without a schema
    :func:`canonicalize_relations` joins spellings of one relation within one
    delta (one ingest): two phrases become one when they end in the same
    function word (or none) *and* either their words' embeddings reach a high
    cosine (``0.9``) or, when that function word exists, they are one word form
    apart (:func:`stem_key`: ``locate_in``/``located_in``; a bare ``named`` and
    ``name`` may be passive and active, so they need the cosine). So ``capital_of`` and ``capital`` (opposite directions) or
    ``founded_by`` and ``found`` (passive and active) never merge; phrases made
    only of function words are left alone. Each group takes its most frequent
    spelling (ties: the shorter, then the alphabetically first).

Examples
--------
>>> from kgllm.schema import Schema
>>> typer = RelationTyper(Schema.from_names(["birthPlace", "employer", "capital"]))
>>> typer.choose("born_in", object_label="GPE")
('birthPlace', False)
>>> typer.choose("capital_of")
('capital', True)
>>> typer.choose("favourite_colour") is None
True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from kgllm.errors import InputError
from kgllm.extract.base import ExtractionResult
from kgllm.extract.violations import Violation, check_fact, check_on_violation
from kgllm.schema import RelationSpec, Schema, relation_words
from kgllm.types import Fact, GraphDelta

__all__ = ["RelationTyper", "TYPE_LABELS", "FUNCTION_WORDS", "type_labels", "is_agent_noun_of", "retype_facts",
           "canonicalize_relations", "stem_key"]

#: Words naming an entity type -> the spaCy NER labels an entity of that type can carry.
TYPE_LABELS: dict[str, frozenset[str]] = {}
for _words, _labels in (
    ("person people human agent artist athlete politician writer actor musician scientist player",
     "PERSON"),
    ("place location city country town region state settlement village area continent island",
     "GPE LOC FAC"),
    ("organisation organization company institution university party team club band agency school",
     "ORG NORP"),
    ("date year time day month birthdate", "DATE TIME"),
    ("number integer int float double decimal quantity amount count population total", "CARDINAL QUANTITY MONEY "
     "PERCENT ORDINAL"),
    ("work film book song album", "WORK_OF_ART"),
    ("language", "LANGUAGE NORP"),
):
    for _w in _words.split():
        TYPE_LABELS[_w] = frozenset(_labels.split())


def type_labels(type_name: str | None) -> frozenset[str] | None:
    """The NER labels a schema type admits, or None when the type is unknown (then anything goes).

    >>> sorted(type_labels("xsd:date")), sorted(type_labels("Place")), type_labels("Spacecraft")
    (['DATE', 'TIME'], ['FAC', 'GPE', 'LOC'], None)
    """
    if not type_name:
        return None
    word = relation_words(type_name.rsplit(":", 1)[-1].rsplit("#", 1)[-1].rsplit("/", 1)[-1])
    return TYPE_LABELS.get(word.split()[-1]) if word else None


#: Extractors whose facts already carry schema relations (kept as they are when their relation is in the schema).
_TYPED_BY = ("lm", "trained")

#: Words that carry no relation meaning of their own (a phrase made only of them abstains).
FUNCTION_WORDS = frozenset("a an the be is are was were been being have has had do does did get of in on at to "
                           "for with from by as into onto about".split())


def is_agent_noun_of(verb: str, noun: str) -> bool:
    """Whether ``noun`` names the doer of ``verb`` (``discoverer`` of "discover", ``creator`` of "create").

    >>> is_agent_noun_of("discover", "discoverer"), is_agent_noun_of("create", "creator")
    (True, True)
    >>> is_agent_noun_of("lead", "leader"), is_agent_noun_of("club", "club"), is_agent_noun_of("own", "number")
    (True, False, False)
    """
    if verb == noun or len(verb) < 3 or not noun.endswith(("er", "or")):
        return False
    return any(len(stem) >= 3 and (verb.startswith(stem) or stem.startswith(verb)) and abs(len(verb) - len(stem)) <= 1
               for stem in (noun[:-2], noun[:-1]))


def _range_of(spec: RelationSpec) -> str | None:
    words = spec.words.split()
    return spec.range or (words[-1] if words and words[-1] in TYPE_LABELS else None)


class RelationTyper:
    """Map relation phrases onto a schema's relations (see the module docstring).

    Parameters
    ----------
    schema : Schema
        The relations facts may carry; must not be empty.
    threshold : float, optional
        Lowest score (cosine, after any type penalty) that maps a phrase; lower abstains.
    keep_unmatched : bool, optional
        Keep an abstained fact under its own relation name instead of dropping it.
    sentence_weight : float, optional
        Weight in [0, 1] of the sentence's similarity to the relation, blended with the phrase's.
    type_penalty : float, optional
        Subtracted from the score for each known domain/range clash.
    embedder : Embedder, optional
        Default the shared MiniLM one.
    on_violation : {"penalize", "report", "drop"}, optional
        What a typed fact whose subject/object type clashes with its relation's domain/range gets beyond the
        score penalty: nothing (``"penalize"``), a :class:`~kgllm.extract.violations.Violation` in
        :attr:`last_violations` (``"report"``), or that and removal (``"drop"``).
    """

    def __init__(self, schema: Schema, threshold: float = 0.4, keep_unmatched: bool = False,
                 sentence_weight: float = 0.0, type_penalty: float = 0.2, embedder: Any = None,
                 on_violation: str = "penalize") -> None:
        if not isinstance(schema, Schema) or not len(schema):
            raise InputError("relation typing needs a Schema with at least one relation")
        if not 0.0 <= sentence_weight <= 1.0:
            raise InputError(f"sentence_weight must be in [0, 1], got {sentence_weight!r}")
        self.schema = schema
        self.threshold = threshold
        self.keep_unmatched = keep_unmatched
        self.sentence_weight = sentence_weight
        self.type_penalty = type_penalty
        self.on_violation = check_on_violation(on_violation)
        #: The violations the last :meth:`type_delta` call found (empty under ``"penalize"``).
        self.last_violations: list[Violation] = []
        if embedder is None:
            from kgllm.resources import get_embedder

            embedder = get_embedder()
        self.embedder = embedder
        specs = schema.relations
        self._vectors = embedder.encode([s.text for s in specs])
        self._ends_of = np.array([s.words.endswith(" of") or s.words == "of" for s in specs])
        self._heads = [s.words.split()[-1] if s.words else "" for s in specs]
        self._domain = [type_labels(s.domain) for s in specs]
        self._range = [type_labels(_range_of(s)) for s in specs]
        self._types = {s.name: (s.domain, _range_of(s)) for s in specs}

    def scores(self, phrase: str, subject_label: str = "", object_label: str = "",
               sentence: str = "") -> tuple[np.ndarray, np.ndarray]:
        """Score of ``phrase`` against every schema relation, and whether each match swaps the direction."""
        words = relation_words(phrase)
        if all(w in FUNCTION_WORDS for w in words.split()):
            return np.full(len(self.schema), -1.0, dtype=np.float32), np.zeros(len(self.schema), dtype=bool)
        inverse_words = words[:-3] if words.endswith(" of") and len(words) > 3 else None
        texts = [words] + ([inverse_words] if inverse_words else []) + ([sentence] if sentence else [])
        vecs = self.embedder.encode(texts)
        forward = self._vectors @ vecs[0]
        swap = np.zeros(len(forward), dtype=bool)
        score = forward
        if inverse_words:
            swap = ~self._ends_of
            score = np.where(swap, self._vectors @ vecs[1], forward)
        elif " " not in words:
            swap = np.array([is_agent_noun_of(words, head) for head in self._heads])
        if sentence and self.sentence_weight:
            score = (1 - self.sentence_weight) * score + self.sentence_weight * (self._vectors @ vecs[-1])
        for k in range(len(score)):
            s_label, o_label = (object_label, subject_label) if swap[k] else (subject_label, object_label)
            clashes = sum(1 for allowed, label in ((self._domain[k], s_label), (self._range[k], o_label))
                          if allowed is not None and label and label not in allowed)
            score[k] -= clashes * self.type_penalty
        return score, swap

    def choose(self, phrase: str, subject_label: str = "", object_label: str = "",
               sentence: str = "") -> tuple[str, bool] | None:
        """The schema relation ``phrase`` means and whether to swap subject and object; None to abstain."""
        score, swap = self.scores(phrase, subject_label, object_label, sentence)
        best = int(np.argmax(score))
        if score[best] < self.threshold:
            return None
        return self.schema.relations[best].name, bool(swap[best])

    def type_delta(self, delta: GraphDelta) -> GraphDelta:
        """``delta`` with every fact's relation mapped onto the schema (abstained facts dropped or kept).

        Entities and merges are kept; facts that become one triple are joined (highest confidence,
        provenance of both). An :class:`~kgllm.extract.base.ExtractionResult` keeps its ``skipped``. A fact the
        language model already typed (its extractor's name starts with ``lm``, its relation is in the schema)
        is kept as it is, as is one the trained relation model typed (extractor ``trained``).
        """
        labels = {e.id: e.type for e in delta.entities}
        typed: list[Fact] = []
        self.last_violations = []
        for fact in delta.facts:
            if fact.relation in self.schema and fact.provenance and \
                    fact.provenance[0].extractor.startswith(_TYPED_BY):
                self._keep(fact, labels, typed)
                continue
            sentence = fact.provenance[0].sentence if fact.provenance and self.sentence_weight else ""
            chosen = self.choose(fact.relation, labels.get(fact.subject, ""), labels.get(fact.object, ""), sentence)
            if chosen is None:
                if self.keep_unmatched:
                    typed.append(fact)
                continue
            name, swap = chosen
            s, o = (fact.object, fact.subject) if swap else (fact.subject, fact.object)
            self._keep(replace(fact, subject=s, relation=name, object=o), labels, typed)
        return retype_facts(delta, typed)

    def _keep(self, fact: Fact, labels: dict[str, str], typed: list[Fact]) -> None:
        """Append ``fact`` to ``typed`` unless ``on_violation="drop"`` and it violates its domain/range."""
        if self.on_violation != "penalize":
            domain, range_ = self._types[fact.relation]
            reasons = check_fact(fact, labels, domain, range_, type_labels)
            if reasons:
                drop = self.on_violation == "drop"
                self.last_violations.append(Violation(fact, "; ".join(reasons), dropped=drop))
                if drop:
                    return
        typed.append(fact)


def retype_facts(delta: GraphDelta, facts: list[Fact]) -> GraphDelta:
    """A copy of ``delta`` holding ``facts`` instead, same triples joined.

    >>> from kgllm.types import Provenance
    >>> a, b = Provenance("d", 0), Provenance("d", 1)
    >>> out = retype_facts(GraphDelta(), [Fact("x", "r", "y", 0.5, (a,)), Fact("x", "r", "y", 0.9, (b,))])
    >>> [(f.confidence, len(f.provenance)) for f in out.facts]
    [(0.9, 2)]
    """
    joined: dict[str, Fact] = {}
    for fact in facts:
        old = joined.get(fact.id)
        if old is None:
            joined[fact.id] = fact
            continue
        prov = tuple({p.key(): p for p in (*old.provenance, *fact.provenance)}.values())
        joined[fact.id] = replace(old, confidence=max(old.confidence, fact.confidence), provenance=prov)
    kwargs: dict[str, Any] = {"entities": list(delta.entities), "facts": list(joined.values()),
                              "merges": list(delta.merges)}
    if isinstance(delta, ExtractionResult):
        return ExtractionResult(**kwargs, skipped=list(delta.skipped))
    return GraphDelta(**kwargs)


_SUFFIXES = ("ing", "ed", "es", "s", "e", "d")


def stem_key(name: str) -> str:
    """A relation name's content words, crudely stemmed and joined: equal keys are one word form apart.

    >>> stem_key("located_in") == stem_key("locate_in"), stem_key("birthplace") == stem_key("birth_place")
    (True, True)
    >>> stem_key("lead") == stem_key("leader"), stem_key("founded_by")
    (False, 'found by')
    """
    out: list[str] = []
    for word in relation_words(name).split():
        if word not in FUNCTION_WORDS:
            word = next((word[:-len(x)] for x in _SUFFIXES if word.endswith(x) and len(word) - len(x) >= 3), word)
        out.append(word)
    content = "".join(w for w in out if w not in FUNCTION_WORDS)
    return " ".join([content, *[w for w in out if w in FUNCTION_WORDS]])


def canonicalize_relations(delta: GraphDelta, threshold: float = 0.9, embedder: Any = None) -> GraphDelta:
    """``delta`` with near-identical spellings of one relation joined (see the module docstring).

    Parameters
    ----------
    delta : GraphDelta
        One ingest's facts; an :class:`~kgllm.extract.base.ExtractionResult` keeps its ``skipped``.
    threshold : float, optional
        Lowest cosine between two phrases' words that joins them.
    embedder : Embedder, optional
        Default the shared MiniLM one.

    Examples
    --------
    >>> from kgllm.types import Provenance
    >>> p = Provenance("d", 0)
    >>> delta = GraphDelta(facts=[Fact("a", "located_in", "b", 1.0, (p,)), Fact("c", "locate_in", "d", 1.0, (p,)),
    ...                           Fact("e", "located_in", "f", 1.0, (p,)), Fact("g", "capital_of", "h", 1.0, (p,)),
    ...                           Fact("h", "capital", "g", 1.0, (p,))])
    >>> [f.relation for f in canonicalize_relations(delta).facts]
    ['located_in', 'located_in', 'located_in', 'capital_of', 'capital']
    """
    counts: dict[str, int] = {}
    for fact in delta.facts:
        counts[fact.relation] = counts.get(fact.relation, 0) + 1
    groups: dict[str, list[str]] = {}
    for name in sorted(counts, key=lambda n: (-counts[n], len(n), n)):
        words = relation_words(name).split()
        if words and not all(w in FUNCTION_WORDS for w in words):
            groups.setdefault(words[-1] if words[-1] in FUNCTION_WORDS else "", []).append(name)
    if embedder is None and any(len(names) > 1 for names in groups.values()):
        from kgllm.resources import get_embedder

        embedder = get_embedder()
    canonical: dict[str, str] = {}
    for names in groups.values():
        if len(names) < 2:
            continue
        vectors = embedder.encode([relation_words(n) for n in names])
        keys = [stem_key(n) for n in names]
        heads: list[int] = []
        for k, name in enumerate(names):
            near = [h for h in heads if (keys[h] == keys[k] and " " in keys[k])
                    or float(vectors[h] @ vectors[k]) >= threshold]
            if near:
                canonical[name] = names[near[0]]
            else:
                heads.append(k)
    if not canonical:
        return delta
    facts = [replace(f, relation=canonical.get(f.relation, f.relation)) for f in delta.facts]
    return retype_facts(delta, facts)
