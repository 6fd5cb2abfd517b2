"""Forward-chaining rules (kgllm.reason.rules) and the shipped kinship rules (graphs/rules/kinship.rules)."""

from __future__ import annotations

import pytest

from kgllm.errors import InputError, NotFoundError
from kgllm.reason.kinship import KIN_TERMS, genders, kin_facts, kinship_answer
from kgllm.reason.rules import RuleSet, builtin_rules_path
from kgllm.types import Fact, Provenance


def test_rules_parse_comments_continuations_and_constraints() -> None:
    rs = RuleSet.parse("# a comment\nX sibling Y, Y sibling Z, \\\n  X != Z => X sibling Z  # trailing\n\n")
    (rule,) = rs.rules
    assert str(rule) == "X sibling Y, Y sibling Z, X != Z => X sibling Z"
    assert rule.source == "<rules>:2"
    inferred = rs.infer([Fact("a", "sibling", "b"), Fact("b", "sibling", "a")])
    assert inferred.derived == []  # a is not its own sibling


@pytest.mark.parametrize("text, message", [
    ("X likes Y", "expected one 'body => head'"),
    ("X likes => Y likes X", "expected an atom"),
    ("X likes Y => Z likes X", "variable Z"),
    ("X likes Y => X != Y", "only appear in the body"),
    ("X likes Y,, Y likes Z => X likes Z", "empty atom"),
])
def test_bad_rules_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        RuleSet.parse("# header\n" + text, "my.rules")
    with pytest.raises(InputError, match="my.rules:2"):
        RuleSet.parse("# header\n" + text, "my.rules")


def test_user_rule_files_load_and_unknown_files_are_reported(tmp_path) -> None:
    path = tmp_path / "work.rules"
    path.write_text("X manages Y => Y reports_to X\nX reports_to Y, Y reports_to Z => X reports_to Z\n")
    rs = RuleSet.load(path)
    out = rs.infer([Fact("ana", "manages", "ben"), Fact("ben", "manages", "cas")])
    assert out.get("cas", "reports_to", "ana") is not None
    with pytest.raises(NotFoundError):
        RuleSet.load(tmp_path / "missing.rules")
    with pytest.raises(NotFoundError, match="no built-in rule file"):
        builtin_rules_path("no-such-rules")


def test_derived_facts_cite_their_premises_and_sources() -> None:
    p1 = Provenance("story", 0, 0, 20, "rules", "Ines is Omar's sister.")
    p2 = Provenance("story", 1, 21, 40, "rules", "Mira is Ines's daughter.")
    facts = [Fact("omar", "sister", "ines", 0.9, (p1,)), Fact("ines", "daughter", "mira", 0.7, (p2,)),
             Fact("mira", "gender", "female")]
    found = kinship_answer(facts, "omar", "mira")
    assert found is not None
    fact, inference = found
    assert fact.relation == "niece"
    assert {p.sentence for p in fact.provenance} == {p1.sentence, p2.sentence}
    assert fact.confidence == 0.7
    assert [f.relation for f in inference.support(fact)] == ["sister", "daughter", "gender"]
    rule, premises = inference.explain(fact)
    assert "gender female" in str(rule) and premises[0].relation == "nibling"
    assert inference.explain(facts[0]) is None  # a given fact has no derivation


@pytest.mark.parametrize("facts, source, target, answer", [
    ([("al", "son", "bo"), ("bo", "daughter", "cy")], "al", "cy", "granddaughter"),
    ([("al", "wife", "di"), ("di", "son", "bo")], "al", "bo", "son"),             # a spouse's child
    ([("bo", "father", "al"), ("bo", "sister", "cy")], "al", "cy", "daughter"),   # walked backwards
    ([("al", "daughter", "di"), ("di", "husband", "bo")], "al", "bo", "son-in-law"),
    ([("bo", "mother", "di"), ("di", "brother", "al")], "bo", "al", "uncle"),
    ([("al", "son", "bo"), ("bo", "uncle", "cy")], "al", "cy", "brother"),        # the family convention
    ([("al", "sister", "di"), ("di", "son", "bo"), ("bo", "daughter", "cy")], "al", "cy", None),  # no term
])
def test_kinship_compositions(facts, source, target, answer) -> None:
    given = [Fact(*f) for f in facts] + [Fact(p, "gender", g) for p, g in
                                          {"al": "male", "bo": "male", "cy": "female", "di": "female"}.items()]
    found = kinship_answer(given, source, target)
    assert (found[0].relation if found else None) == answer


def test_gender_comes_from_kinship_words_before_hints() -> None:
    facts = [Fact("a", "brother", "b"), Fact("c", "son", "b"), Fact("d", "mother", "b")]  # 2 male, 1 female
    assert genders(facts, {"b": "female", "e": "male"}) == {"b": "male", "e": "male"}
    # without a gender for the target, no gendered term is named
    assert kinship_answer([Fact("al", "son", "bo"), Fact("bo", "child", "cy")], "al", "cy") is None


def test_kin_facts_use_the_schema_terms() -> None:
    lines = [f.as_line() for f in kin_facts([Fact("a", "Son_In_Law", "b"), Fact("c", "brother_of", "d"),
                                            Fact("e", "mom", "f"), Fact("g", "likes", "h")])]
    assert lines == ["a --son-in-law--> b", "d --brother--> c", "e --mother--> f"]
    assert len(KIN_TERMS) == 26 and "son-in-law" in KIN_TERMS and "sibling" not in KIN_TERMS


def test_shipped_kinship_rules_parse_and_stay_finite() -> None:
    rs = RuleSet.load("kinship")
    assert {"son", "granddaughter", "mother-in-law", "great-grandfather"} <= rs.relations
    people = [f"p{i}" for i in range(8)]
    chain = [Fact(a, "son", b) for a, b in zip(people, people[1:])] + [Fact(p, "gender", "male") for p in people]
    out = rs.infer(chain)
    assert out.complete and out.get("p0", "great-grandson", "p3") is not None
    assert out.get("p3", "grandfather", "p1") is not None
