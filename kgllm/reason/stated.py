"""Answers stated by the graph's facts: candidates from the facts around a question's entities.

The extractor reads a sentence into facts whose relation names say what the sentence states
("Arthur Penhallow (1921-1998)" -> ``died_date``; "Eight years later he gave up fishing" ->
``given_up_fishing_date`` citing both sentences). A fact ``(entity, relation, value)`` of a
question's entity is a candidate when its relation's words state the question's predicate
(the same lemma, a derived form or a close synonym: see
:meth:`~kgllm.reason.reader.DocumentReader.word_strength`); it is judged like an answer read off
a sentence (:func:`~kgllm.reason.support.judge`): the value of the asked kind, the entity and
the value in the roles the question gives them, the question's qualifiers and other nouns said
by the fact or its sentence. The roles of a fact follow from how relations are named
(:mod:`kgllm.extract.relnames`): a verb's subject is its doer, a participle's subject is what was
done to (``born_in``, ``founded_date``), a noun's subject owns it (``X --brother--> Y``).

:func:`merge` joins these with the reader's candidates: the same answer found both ways keeps
the better judgement, a little more confident.

Examples
--------
>>> fact_roles("found"), fact_roles("born_in"), fact_roles("brother"), fact_roles("died_date")
(('agent', 'patient'), ('patient', 'prep:in'), ('owner', 'value'), ('agent', 'mod'))
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from kgllm.extract.relnames import PATIENT_VERBS, past_participle
from kgllm.reason.analysis import parse
from kgllm.reason.candidate import Candidate
from kgllm.reason.kinship import is_kin
from kgllm.reason.roles import compatible
from kgllm.reason.spans import counted, counts_asked, fitness, names_question_entity, span_kind
from kgllm.reason.support import judge, normalize_answer
from kgllm.retrieve.answer_type import IS_A
from kgllm.retrieve.question import relation_text

__all__ = ["stated_candidates", "merge", "fact_roles"]

_PREPS = frozenset("in at on from to of by for with since until before after during into near under over as".split())
_TIME = frozenset({"date", "duration", "since", "until", "before", "after"})
_PATIENT_FORMS = {past_participle(v): v for v in PATIENT_VERBS}
_PARTICIPLE_ENDS = ("ed", "en", "wn", "ne", "lt", "rn", "ught", "ld")


def _participle(word: str) -> bool:
    return word in _PATIENT_FORMS or word.endswith(_PARTICIPLE_ENDS) or word in ("born", "made", "led", "paid", "set")


def fact_roles(relation: str) -> tuple[str, str]:
    """The roles a fact's subject and object play in its relation (see the module docstring)."""
    if relation in IS_A:
        return "subject", "value"
    words = relation_text(relation).split()
    if not words:
        return "", ""
    if words[-1] in _TIME:  # "founded_date": the date of what was founded; "died_date": of who died
        return ("patient" if words[0] in _PATIENT_FORMS else "agent"), "mod"
    prep = words[-1] if words[-1] in _PREPS and len(words) > 1 else ""
    if _participle(words[0]) and len(words) > 1 and prep:
        return "patient", f"prep:{prep}"
    if prep:
        return ("subject" if words[0] == "be" else "agent"), f"prep:{prep}"
    if is_kin(words[0]) or (not _participle(words[0]) and words[0] not in _PATIENT_FORMS.values()
                            and parse(" ".join(words))[-1].pos_ == "NOUN"):
        return "owner", "value"  # a noun: "X --brother--> Y" reads "Y is the brother of X"
    return "agent", "patient"


def stated_candidates(analysis: Any, store: Any, strength: Callable[[str, str, str], float],
                      canonical: Callable[[str], str | None]) -> list[Candidate]:
    """Candidates from the facts of the question's entities (see the module docstring)."""
    if not analysis.seeds or not analysis.predicate:
        return []
    out: list[Candidate] = []
    excluded = analysis.excluded
    forms = analysis.forms or analysis.predicate
    context = [w for w, pos in analysis.context_pos if pos == "NOUN"]
    for seed in analysis.seed_ids:
        for fact in store.neighbors(seed, "both"):
            if fact.subject == fact.object or not any(p.sentence for p in fact.provenance):
                continue
            other = fact.object if fact.subject == seed else fact.subject
            if other in excluded:
                continue
            words = relation_text(fact.relation).split()
            if analysis.predicate == ("is_a",):  # "What does X do?": what the text says X is
                if fact.relation not in IS_A or fact.subject != seed:
                    continue
                p = 1.0
            else:
                p = max((strength(w, r, f) for w, f in zip(analysis.predicate, forms) for r in words), default=0.0)
            if p <= 0:
                continue
            ent = store.get_entity(other)
            text = ent.name if ent is not None else other
            if names_question_entity(text, analysis) or not counts_asked(text, analysis, " ".join(words)):
                continue
            sentence = " ".join(pr.sentence for pr in fact.provenance if pr.sentence)
            subject_role, object_role = fact_roles(fact.relation)
            r_ent, r_ans = (subject_role, object_role) if fact.subject == seed else (object_role, subject_role)
            kinds, nouns = span_kind(text, ent.type if ent is not None else "", ent, store)
            fit = fitness(analysis, kinds, nouns, _Named(text), r_ans)
            if fit is None:
                continue
            kind = next((k for k, strong in kinds.items() if strong), next(iter(kinds), ""))
            place, sep, region = text.partition(", ")
            if kind == "place" and sep and place[:1].isupper() and region[:1].isupper():
                text = place  # "Gothenburg, Sweden": the place, without the region that qualifies it
            said = f" {normalize_answer(sentence)} {' '.join(words)} "
            ctx_ok = not context or sum(1 for w in context if any(
                strength(w, s, "") for s in said.split())) >= len(context) / 2
            quals_ok = all(normalize_answer(q.text) in said or (q.entity and q.entity in (fact.subject, fact.object))
                           for q in analysis.qualifiers)
            roles_ok = compatible(analysis.wh_role, r_ans) and compatible(analysis.seed_role, r_ent)
            verdict = judge(analysis, p, kind, fit, 1, 1, quals_ok, answer_role=r_ans, entity_role=r_ent,
                            roles_ok=roles_ok, context_ok=ctx_ok)
            score = (1.5 * p + (0.4 if ctx_ok else 0.0) + {2: 0.8, 1: 0.5}.get(fit, 0.0) + 0.7 * roles_ok
                     + (0.3 if quals_ok else 0.0) - (0.3 if fit <= 0 and analysis.want and analysis.want.kinds else 0.0))
            nearly = fit == 0 and not verdict.supported and analysis.want is not None and kind in analysis.want.kinds \
                and judge(analysis, p, kind, 1, 1, 1, quals_ok, answer_role=r_ans, entity_role=r_ent, roles_ok=roles_ok,
                context_ok=ctx_ok).supported
            prov = fact.provenance[0]
            out.append(Candidate(counted(text, analysis), other if ent is not None else None, kind, round(score, 4),
                                 prov.doc_id, None, p, verdict.supported, verdict.reasons, verdict.confidence, seed,
                                 fact.subject == other and r_ans == "agent", (), -1, fact.relation,
                                 frozenset(nouns), nearly, fit, fact))
    return out


class _Named:
    """A name outside any sentence, for :func:`~kgllm.reason.spans.fitness` (which asks whether it is a name)."""

    def __init__(self, text: str) -> None:
        self.tokens = [_Word(w) for w in text.split()]

    def __iter__(self):
        return iter(self.tokens)


class _Word:
    def __init__(self, word: str) -> None:
        self.pos_ = "PROPN" if word[:1].isupper() else "NOUN"
        self.ent_type_ = ""


def merge(read: Sequence[Candidate], stated: Sequence[Candidate]) -> list[Candidate]:
    """The reader's and the facts' candidates together: one per answer, the better judged, agreement rewarded."""
    best: dict[str, Candidate] = {}
    count: dict[str, int] = {}
    for cand in [*read, *stated]:
        key = normalize_answer(cand.text)
        count[key] = count.get(key, 0) + 1
        old = best.get(key)
        if old is None or (cand.supported, cand.score) > (old.supported, old.score):
            best[key] = cand
    for key, cand in best.items():
        if count[key] > 1:
            cand.score = round(cand.score + 0.2, 4)
    return list(best.values())
