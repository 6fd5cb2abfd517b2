"""Relation names: the sentence's words as a phrase, one spelling across inflections, voice and agent nouns.

* Verbs are named by their lemma in the active voice ("studied at" -> ``study_at``); a passive
  with a ``by`` agent is read in the active voice, subject and object swapped ("X was founded
  by Y" -> ``(Y, found, X)``, as "Y founded X"); a passive without one keeps its participle
  (``born_in``, ``based_in``), since no doer is named.
* An agent noun maps to its verb where the noun names the doer of that verb (:data:`AGENT_VERBS`):
  "Y, the founder of X" and "X's founder Y" -> ``(Y, found, X)``; "the owner of X" -> ``own``.
* A date gets a relation of its own, never shared with a place: the event's past participle and
  ``date`` ("founded in 1990" -> ``founded_date``, next to ``founded_in`` for a place), with a
  preposition that is no point in time kept ("owned since 2005" -> ``owned_since``); a duration
  the verb's lemma and ``duration`` (``work_duration``).
* A measure adjective becomes its noun ("23 kilometres long" -> ``length``).

Examples
--------
>>> relation_name("born", "in"), relation_name("Parent Body", "of")
('born_in', 'parent_body_of')
>>> normalise("founder_of"), normalise("founder"), normalise("capital_of"), normalise("sister")
(('found', False), ('found', True), ('capital_of', False), ('sister', False))
>>> date_relation("founded", "in"), date_relation("owned", "since"), date_relation("worked", "from")
('founded_date', 'owned_since', 'worked_from_date')
>>> past_participle("begin"), past_participle("found"), past_participle("open"), past_participle("stop")
('begun', 'founded', 'opened', 'stopped')
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Token

__all__ = ["relation_name", "normalise", "date_relation", "past_participle", "participle_of", "AGENT_VERBS",
           "MEASURES", "PATIENT_VERBS"]

_WORD = re.compile(r"[^0-9a-z]+")

#: Agent nouns and the verb whose doer they name (general English). Nouns of offices (director, manager,
#: leader ...) are not here: "the director of a museum" holds an office, and keeps its own name.
AGENT_VERBS = {
    "founder": "found", "co-founder": "co-found", "cofounder": "co-found", "owner": "own", "co-owner": "co-own",
    "maker": "make", "creator": "create", "co-creator": "co-create", "inventor": "invent",
    "discoverer": "discover", "designer": "design", "builder": "build", "publisher": "publish",
    "manufacturer": "manufacture", "producer": "produce", "developer": "develop", "writer": "write",
    "author": "write", "co-author": "co-write", "composer": "compose", "painter": "paint", "sculptor": "sculpt",
    "illustrator": "illustrate", "translator": "translate", "employer": "employ", "buyer": "buy",
    "seller": "sell", "supplier": "supply", "distributor": "distribute", "operator": "operate",
    "winner": "win", "organiser": "organise", "organizer": "organize", "killer": "kill",
    "narrator": "narrate", "performer": "perform", "maintainer": "maintain", "inhabitant": "inhabit",
}
#: Measure adjectives and the quantity they measure.
MEASURES = {"long": "length", "tall": "height", "high": "height", "wide": "width", "broad": "width",
            "deep": "depth", "thick": "thickness", "heavy": "weight", "old": "age", "large": "size",
            "big": "size", "far": "distance", "distant": "distance"}
#: Verbs whose date (and price) belongs to what they act on: creating, changing hands, opening, naming.
PATIENT_VERBS = frozenset(
    "found co-found establish create co-create build construct design develop write co-write compose publish "
    "release launch introduce produce make manufacture invent discover describe name rename open close acquire "
    "buy purchase sell restore rebuild renovate demolish destroy complete finish start begin form commission "
    "paint record film appoint hire sign elect replace set take merge register patent translate edit "
    "illustrate print issue found-up incorporate reopen extend enlarge electrify".split())
_POINT = {"", "in", "on", "at", "during", "of"}
_DATE_ONLY = {"since", "until", "till", "before", "after"}
_IRREGULAR = dict(pair.split(":") for pair in (
    "be:been begin:begun bear:born become:become break:broken bring:brought build:built buy:bought catch:caught "
    "choose:chosen come:come cut:cut do:done draw:drawn drive:driven eat:eaten fall:fallen feel:felt find:found "
    "fight:fought fly:flown forget:forgotten freeze:frozen get:got give:given go:gone grow:grown hang:hung "
    "have:had hear:heard hide:hidden hold:held keep:kept know:known lay:laid lead:led leave:left lend:lent "
    "let:let lie:lain lose:lost make:made mean:meant meet:met pay:paid put:put read:read ride:ridden ring:rung "
    "rise:risen run:run say:said see:seen seek:sought sell:sold send:sent set:set shake:shaken shine:shone "
    "shoot:shot show:shown shut:shut sing:sung sink:sunk sit:sat sleep:slept speak:spoken spend:spent "
    "split:split spread:spread stand:stood steal:stolen stick:stuck strike:struck swear:sworn swim:swum "
    "take:taken teach:taught tear:torn tell:told think:thought throw:thrown understand:understood wake:woken "
    "wear:worn win:won withdraw:withdrawn write:written co-write:co-written undertake:undertaken "
    "overtake:overtaken rebuild:rebuilt rewrite:rewritten set-up:set-up").split())
_VOWELS = "aeiou"


def relation_name(*words: str) -> str:
    """Join words into a snake_case relation name.

    >>> relation_name("born", "in")
    'born_in'
    >>> relation_name("", "ICAO  Code", ""), relation_name("façade", "of")
    ('icao_code', 'facade_of')
    """
    text = unicodedata.normalize("NFKD", "_".join(w for w in words if w))
    return _WORD.sub("_", "".join(c for c in text if not unicodedata.combining(c)).lower()).strip("_")


def past_participle(lemma: str) -> str:
    """The past participle of a verb lemma (English spelling rules and the common irregular verbs)."""
    lemma = lemma.lower()
    if lemma in _IRREGULAR:
        return _IRREGULAR[lemma]
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and len(lemma) > 2 and lemma[-2] not in _VOWELS:
        return lemma[:-1] + "ied"
    if (len(lemma) >= 3 and lemma[-1] not in _VOWELS + "wxy" and lemma[-2] in _VOWELS and lemma[-3] not in _VOWELS
            and len(re.findall(f"[{_VOWELS}]+", lemma)) == 1):
        return lemma + lemma[-1] + "ed"  # one syllable ending consonant-vowel-consonant: "stop" -> "stopped"
    return lemma + "ed"


def participle_of(verb: Token) -> str:
    """The past participle of a verb token: its own form when it is one (or a regular past), else built."""
    lemma = verb.lemma_.lower()
    if verb.tag_ == "VBN" or (verb.tag_ == "VBD" and lemma not in _IRREGULAR):
        return verb.lower_
    return past_participle(lemma)


def normalise(rel: str) -> tuple[str, bool]:
    """An agent-noun relation as its verb: ``(name, swap)``, ``swap`` when subject and object trade places.

    ``R_of`` reads "subject is the R of object" -> "subject V object"; a bare noun R reads "object is
    the R of subject" -> "object V subject" (swapped). Other names come back unchanged.
    """
    noun, of = (rel[:-3], True) if rel.endswith("_of") else (rel, False)
    verb = AGENT_VERBS.get(noun.replace("_", "-"))
    if verb is None:
        return rel, False
    return relation_name(verb), not of


def date_relation(base: str, prep: str) -> str:
    """The relation of a date qualifying ``base`` (see the module docstring)."""
    prep = prep.lower()
    if prep in _POINT:
        return relation_name(base, "date")
    if prep in _DATE_ONLY:
        return relation_name(base, prep)
    return relation_name(base, prep, "date")
