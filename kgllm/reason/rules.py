"""Forward-chaining rules over facts: a readable rule file in, derived facts that cite their premises out.

Rule files (``*.rules``; the built-in ones are package data, :mod:`kgllm.rules`; users write their own)
    One rule a line, ``body => head``; ``#`` starts a comment; a line ending in ``\\`` goes on
    on the next line. Body and head are atoms separated by commas:

    * ``X son Y`` -- a fact, read as in the graph: "Y is the son of X". Terms that start with an
      upper-case letter are variables, anything else is a constant (an entity id or name);
    * ``X != Y`` -- (body only) the two variables name different entities.

    Every variable of the head must occur in a fact atom of the body. Example::

        # the gender a kinship word tells, and the neutral relation under it
        X son Y => X child Y, Y gender male
        X child Y, Y child Z => X grandchild Z
        X grandchild Y, Y gender female => X granddaughter Y

Evaluation
    Semi-naive forward chaining in rounds until nothing new is derived (or ``max_facts`` is
    reached, which marks the result incomplete). A fact derived in round *k* needs *k* rule
    steps, so the first derivation kept for each fact is a shortest one. Each derived
    :class:`~kgllm.types.Fact` carries the union of its premises' provenance (the sentences it
    rests on) and the smallest of their confidences; :meth:`Inference.explain` gives the rule and
    the premises, :meth:`Inference.support` the given facts it rests on in the end.

Examples
--------
>>> rules = RuleSet.parse('''
... X son Y => X child Y, Y gender male
... X daughter Y => X child Y, Y gender female
... X child Y, Y child Z => X grandchild Z
... X grandchild Y, Y gender female => X granddaughter Y
... ''')
>>> result = rules.infer([Fact("ada", "son", "bo"), Fact("bo", "daughter", "cy")])
>>> [f.as_line() for f in result.derived if f.relation == "granddaughter"]
['ada --granddaughter--> cy']
>>> [p.as_line() for p in result.support(Fact("ada", "granddaughter", "cy"))]
['ada --son--> bo', 'bo --daughter--> cy']
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from kgllm.errors import InputError, NotFoundError
from kgllm.types import Fact, Provenance

__all__ = ["Atom", "Rule", "RuleSet", "Inference", "builtin_rules_path", "provenance_of"]

Triple = tuple[str, str, str]


def builtin_rules_path(name: str) -> Path:
    """Path of a rule file shipped with kgllm (``"kinship"`` -> ``kinship.rules``; see :mod:`kgllm.rules`).

    >>> builtin_rules_path("kinship").name
    'kinship.rules'

    Raises
    ------
    NotFoundError
        No such file.
    """
    from kgllm import rules as shipped

    return shipped.path(name)


def _is_var(term: str) -> bool:
    return term[:1].isupper()


@dataclass(frozen=True, slots=True)
class Atom:
    """``subject relation object`` (a fact pattern) or ``subject != object`` (``relation`` is ``"!="``)."""

    subject: str
    relation: str
    object: str

    def __str__(self) -> str:
        return f"{self.subject} {self.relation} {self.object}"


@dataclass(frozen=True, slots=True)
class Rule:
    """``body => head``; ``source`` says where it was written (``file:line``)."""

    body: tuple[Atom, ...]
    head: tuple[Atom, ...]
    source: str = ""

    def __str__(self) -> str:
        return f"{', '.join(map(str, self.body))} => {', '.join(map(str, self.head))}"


@dataclass(slots=True)
class Inference:
    """What :meth:`RuleSet.infer` found: the given and the derived facts, and how each was derived."""

    given: list[Fact]
    derived: list[Fact]
    complete: bool = True
    _how: dict[Triple, tuple[Rule, tuple[Triple, ...]]] = field(default_factory=dict, repr=False)
    _facts: dict[Triple, Fact] = field(default_factory=dict, repr=False)

    @property
    def facts(self) -> list[Fact]:
        """Given then derived facts."""
        return [*self.given, *self.derived]

    def get(self, subject: str, relation: str, object: str) -> Fact | None:
        """The fact ``(subject, relation, object)`` if it was given or derived."""
        return self._facts.get((subject, relation, object))

    def explain(self, fact: Fact) -> tuple[Rule, list[Fact]] | None:
        """The rule and the premises that derived ``fact``; None for a given (or unknown) fact."""
        how = self._how.get((fact.subject, fact.relation, fact.object))
        if how is None:
            return None
        return how[0], [self._facts[t] for t in how[1]]

    def support(self, fact: Fact) -> list[Fact]:
        """The given facts a derived fact rests on (the fact itself when it was given), in first-use order."""
        out: dict[Triple, Fact] = {}
        stack = [(fact.subject, fact.relation, fact.object)]
        seen: set[Triple] = set()
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            how = self._how.get(t)
            if how is None:
                if t in self._facts:
                    out[t] = self._facts[t]
                continue
            stack.extend(reversed(how[1]))
        return list(out.values())

    def steps(self, fact: Fact) -> list[Fact]:
        """Every fact of ``fact``'s derivation tree (premises before conclusions), ``fact`` last."""
        out: dict[Triple, Fact] = {}

        def visit(t: Triple) -> None:
            if t in out:
                return
            how = self._how.get(t)
            for p in how[1] if how else ():
                visit(p)
            out[t] = self._facts[t]

        visit((fact.subject, fact.relation, fact.object))
        return list(out.values())


class RuleSet:
    """Rules parsed from text or files; :meth:`infer` applies them.

    Examples
    --------
    >>> rs = RuleSet.parse("X spouse Y => Y spouse X")
    >>> [str(r) for r in rs.rules]
    ['X spouse Y => Y spouse X']
    >>> RuleSet.parse("X spouse => Y")
    Traceback (most recent call last):
    ...
    kgllm.errors.InputError: <rules>:1: expected an atom 'Subject relation Object' or 'X != Y', got 'X spouse'
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: list[Rule] = list(rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __add__(self, other: "RuleSet") -> "RuleSet":
        return RuleSet([*self.rules, *other.rules])

    @property
    def relations(self) -> set[str]:
        """Relation names the rules mention (constants only)."""
        return {a.relation for r in self.rules for a in (*r.body, *r.head) if a.relation != "!="}

    @classmethod
    def parse(cls, text: str, source: str = "<rules>") -> "RuleSet":
        """Rules from the text of a rule file (see the module docstring); ``source`` names it in errors."""
        rules: list[Rule] = []
        pending, start = "", 0
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].rstrip()
            if not pending:
                start = lineno
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = (pending + line).strip(), ""
            if line:
                rules.append(_parse_rule(line, f"{source}:{start}"))
        if pending.strip():
            rules.append(_parse_rule(pending.strip(), f"{source}:{start}"))
        return cls(rules)

    @classmethod
    def load(cls, *paths: str | os.PathLike[str]) -> "RuleSet":
        """Rules of one or more files, in order; a bare name (``"kinship"``) is a built-in file.

        Raises
        ------
        NotFoundError
            A file does not exist.
        InputError
            A line is not a rule (the error names the file and line).
        """
        rules: list[Rule] = []
        for p in paths:
            path = Path(p)
            if not path.is_file() and os.sep not in str(p) and "/" not in str(p):
                path = builtin_rules_path(str(p))
            if not path.is_file():
                raise NotFoundError(f"rule file {str(p)!r} does not exist")
            rules.extend(cls.parse(path.read_text(encoding="utf-8"), str(path)).rules)
        return cls(rules)

    def infer(self, facts: Iterable[Fact], max_facts: int = 100_000) -> Inference:
        """Apply the rules to ``facts`` until nothing new follows (see the module docstring).

        Facts are matched on their ``subject``, ``relation`` and ``object`` strings as given.
        """
        known: dict[Triple, Fact] = {}
        for f in facts:
            t = (f.subject, f.relation, f.object)
            if t not in known or known[t].confidence < f.confidence:
                known[t] = f
        result = Inference(list(known.values()), [], _facts=known)
        index = _Index(known)
        delta = set(known)
        while delta:
            fresh: dict[Triple, tuple[Rule, tuple[Triple, ...]]] = {}
            for rule in self.rules:
                for head, premises in _fire(rule, index, delta):
                    if head not in known and head not in fresh:
                        fresh[head] = (rule, premises)
            for t, (rule, premises) in sorted(fresh.items()):
                prem = [known[p] for p in premises]
                fact = Fact(*t, min((f.confidence for f in prem), default=1.0), provenance_of(prem))
                known[t] = fact
                index.add(t)
                result.derived.append(fact)
                result._how[t] = (rule, premises)
                if len(known) >= max_facts:
                    result.complete = False
                    return result
            delta = set(fresh)
        return result


class _Index:
    def __init__(self, triples: Iterable[Triple]) -> None:
        self.by_rel: dict[str, list[Triple]] = {}
        for t in triples:
            self.add(t)

    def add(self, t: Triple) -> None:
        self.by_rel.setdefault(t[1], []).append(t)


def _fire(rule: Rule, index: _Index, delta: set[Triple]) -> Iterator[tuple[Triple, tuple[Triple, ...]]]:
    facts = [a for a in rule.body if a.relation != "!="]
    checks = [a for a in rule.body if a.relation == "!="]
    for i, first in enumerate(facts):
        for t in index.by_rel.get(first.relation, ()):
            if t not in delta:
                continue
            env = _match(first, t, {})
            if env is None:
                continue
            for env2, used in _join([a for j, a in enumerate(facts) if j != i], index, env):
                if any(env2.get(c.subject, c.subject) == env2.get(c.object, c.object) for c in checks):
                    continue
                premises = tuple(used[:i]) + (t,) + tuple(used[i:])
                for h in rule.head:
                    yield (env2.get(h.subject, h.subject), h.relation, env2.get(h.object, h.object)), premises


def _join(atoms: list[Atom], index: _Index, env: dict[str, str]) -> Iterator[tuple[dict[str, str], list[Triple]]]:
    if not atoms:
        yield env, []
        return
    atom, rest = atoms[0], atoms[1:]
    for t in index.by_rel.get(atom.relation, ()):
        env2 = _match(atom, t, env)
        if env2 is not None:
            for env3, used in _join(rest, index, env2):
                yield env3, [t, *used]


def _match(atom: Atom, t: Triple, env: dict[str, str]) -> dict[str, str] | None:
    out = env
    for term, value in ((atom.subject, t[0]), (atom.object, t[2])):
        if _is_var(term):
            bound = out.get(term)
            if bound is None:
                out = {**out, term: value}
            elif bound != value:
                return None
        elif term != value:
            return None
    return out


def _parse_atom(text: str, where: str) -> Atom:
    text = text.strip()
    words = text.split()
    if len(words) != 3:
        raise InputError(f"{where}: expected an atom 'Subject relation Object' or 'X != Y', got {text!r}")
    return Atom(*words)


def _parse_rule(line: str, where: str) -> Rule:
    if line.count("=>") != 1:
        raise InputError(f"{where}: expected one 'body => head' rule, got {line!r}")
    body_text, head_text = line.split("=>")
    body = tuple(_parse_atom(a, where) for a in body_text.split(",") if a.strip() or _empty(where, line))
    head = tuple(_parse_atom(a, where) for a in head_text.split(",") if a.strip() or _empty(where, line))
    if not body or not head:
        raise InputError(f"{where}: a rule needs a body and a head, got {line!r}")
    if any(a.relation == "!=" for a in head):
        raise InputError(f"{where}: '!=' may only appear in the body: {line!r}")
    bound = {term for a in body if a.relation != "!=" for term in (a.subject, a.object) if _is_var(term)}
    for a in (*head, *(c for c in body if c.relation == "!=")):
        for term in (a.subject, a.object):
            if _is_var(term) and term not in bound:
                raise InputError(f"{where}: variable {term} of {str(a)!r} does not occur in a fact of the body")
    return Rule(body, head, where)


def _empty(where: str, line: str) -> bool:
    raise InputError(f"{where}: empty atom (two commas in a row?) in {line!r}")


def provenance_of(facts: Iterable[Fact]) -> tuple[Provenance, ...]:
    """The distinct provenance entries of ``facts``, in order (a derived fact cites its premises' sources).

    >>> p = Provenance("d", 0, 0, 9, "rules", "Bo is Al's son.")
    >>> provenance_of([Fact("al", "son", "bo", provenance=(p,)), Fact("al", "child", "bo", provenance=(p,))])
    (Provenance(doc_id='d', chunk=0, start=0, end=9, extractor='rules', sentence="Bo is Al's son."),)
    """
    return tuple({p.key(): p for f in facts for p in f.provenance}.values())
