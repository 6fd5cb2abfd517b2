"""Property test: the rule extractor never raises on text and its output is well formed.

Sentences are generated from pieces written for the project: names, pronouns, quotes of every kind, Unicode
spaces, lists with commas and "and", control characters, emoji, very long sentences and nearly empty strings.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgllm.extract.rules import RuleExtractor
from kgllm.types import Document, entity_id

NAMES = ["Ada Lindqvist", "Tom", "Anna", "Claire Martin", "Oslo", "the University of Geneva", "Lyon", "Mira",
         "the town of Kvarnvik", "Tromsø, Norway", "Nørre Åby", "Zoë", "O'Neill", "3M", "1990", "I", "X Æ",
         "the company", "the firm", "the village", "Lindqvist", "there", "31 kilometres", "about 350 families",
         "nine years", "the Bergen-based group Kalder", "the engineer", "14 June 1953", "² years"]
PRONOUNS = ["he", "she", "He", "She", "it", "It", "they", "They", "him", "her", "Her", "his", "its", "their",
            "who", "which", "that", "whose"]
VERBS = ["was born in", "moved to", "is the capital of", "founded", "met", "was founded by", "lives in", "is",
         "did not visit", "'s sister", ", the mayor of", "and his wife", ", who was born in", "became", "has",
         "(born 14 June 1953)", "(1901–1977)", "two years later", "The following year", ", whose headquarters are in",
         "was founded in 1990 by", "is 31 kilometres long", ", the founder of", "worked for nine years at",
         "live there", "between 2008 and 2012"]
QUOTES = [('"', '"'), ("'", "'"), ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("\u00ab", "\u00bb"),
          ("\u201e", "\u201c"), ("\u300c", "\u300d"), ("`", "`"), ("(", ")"), ("[", "]")]
SPACES = [" ", "  ", "\u00a0", "\u2009", "\u3000", "\t", "\n", "\n\n", "\r\n", "\u200b"]
ODD = ["\x00", "\x07", "\x1b", "\x7f", "\ufeff", "\u202e", "😀", "👩‍👩‍👧", "🇳🇴", "…", "—", "-", ",", ";",
       ":",
       "!!!", "?", ".", "%", "$", "&", "#", "*", "\\", "/", "<b>", "e.g.", "Dr.", "No."]
ENDS = [".", "!", "?", "", "...", '."', ".\u201d", ".)"]

_word = st.sampled_from(NAMES + PRONOUNS + VERBS + ODD)


@st.composite
def phrase(draw) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:  # a quoted title, possibly with a pronoun inside
        left, right = draw(st.sampled_from(QUOTES))
        inner = " ".join(draw(st.lists(_word, min_size=1, max_size=4)))
        return f"{left}{inner}{right}"
    if kind == 1:  # a list with commas and "and"
        items = draw(st.lists(st.sampled_from(NAMES + PRONOUNS), min_size=2, max_size=6))
        return ", ".join(items[:-1]) + draw(st.sampled_from([" and ", ", and ", " or ", ","])) + items[-1]
    return draw(_word)


@st.composite
def sentence(draw) -> str:
    parts = draw(st.lists(phrase(), min_size=1, max_size=12))
    if draw(st.integers(0, 9)) == 0:  # a very long sentence
        parts = parts * draw(st.integers(8, 20))
    gaps = draw(st.lists(st.sampled_from(SPACES), min_size=len(parts), max_size=len(parts)))
    text = "".join(p + g for p, g in zip(parts, gaps))
    return text[:1].upper() + text[1:] + draw(st.sampled_from(ENDS))


@st.composite
def text(draw) -> str:
    if draw(st.integers(0, 7)) == 0:  # nearly empty: spaces, control characters, punctuation, emoji
        return "".join(draw(st.lists(st.sampled_from(SPACES + ODD[:10] + [".", "?", "😀"]), max_size=6)))
    sentences = draw(st.lists(sentence(), min_size=1, max_size=5))
    gaps = draw(st.lists(st.sampled_from(SPACES), min_size=len(sentences), max_size=len(sentences)))
    return "".join(s + g for s, g in zip(sentences, gaps))


@pytest.fixture(scope="module", params=[False, True], ids=["general", "kinship"])
def extractor(request) -> RuleExtractor:
    return RuleExtractor(kinship=request.param, genders=request.param)


def check_well_formed(docs: list[Document], result) -> None:
    texts = {d.id: d.text for d in docs}
    entity_ids = [e.id for e in result.entities]
    assert len(entity_ids) == len(set(entity_ids))  # one entity per id
    assert all(eid and eid == eid.strip() for eid in entity_ids)
    skipped = {s.doc_id for s in result.skipped}
    for s in result.skipped:  # only texts with nothing to read may be skipped, never because of an error
        assert (s.sentence, s.reason) == (-1, "empty text") and not texts[s.doc_id].strip()
    for f in result.facts:
        assert f.subject in entity_ids and f.object in entity_ids and f.subject != f.object
        assert re.fullmatch(r"[0-9a-z]+([_-][0-9a-z]+)*", f.relation), f.relation
        assert 0 < f.confidence <= 1
        assert 1 <= len(f.provenance) <= 2  # its sentence, and the one a relative date was computed from
        assert len({p.doc_id for p in f.provenance}) == 1
        for p in f.provenance:
            assert p.doc_id in texts and p.doc_id not in skipped and p.extractor == "rules"
            doc_text = texts[p.doc_id]
            assert 0 <= p.start < p.end <= len(doc_text)
            assert doc_text[p.start:p.end] == p.sentence
            assert entity_id(p.sentence)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(text(), min_size=1, max_size=3))
def test_extractor_never_raises_and_output_is_well_formed(extractor, texts) -> None:
    docs = [Document(f"d{i}", t) for i, t in enumerate(texts)]
    result = extractor.extract(docs)
    check_well_formed(docs, result)


@pytest.mark.parametrize("raw", [
    'In 1990, "The Sailor and Her" moved to Leeds.',
    "\u201cShe and I\u201d, \u00abthey\u00bb and \u300cit\u300d met her.",
    "His and hers.\u3000They\u00a0and\u2009them.",
    "\x00\x1b[31mOslo\x1b[0m is in Norway.\x7f",
    "😀 met 👩‍👩‍👧 in 🇳🇴. It was fun!!!",
    ", , and , and.",
    "Who? Whose? That which.",
    "The company (born 14 June 1953) is there. Two years later the firm's firm was its own there.",
    "Ostby (1901–1977) lived there. ² years later, 9999 years earlier and the following year: nothing.",
    "About 350 families live there, whose headquarters are 31 kilometres long between 2008 and 2012.",
])
def test_tricky_sentences(extractor, raw) -> None:
    docs = [Document("x", raw)]
    result = extractor.extract(docs)
    assert result.skipped == []
    check_well_formed(docs, result)
