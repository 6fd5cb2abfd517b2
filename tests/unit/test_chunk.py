"""Tests of sentence chunking: exact offsets and sensible boundaries."""

from __future__ import annotations

import random

import pytest

from kgllm.extract.chunk import chunk_document, split_sentences
from kgllm.types import Chunk, Document


def texts(text: str) -> list[str]:
    chunks = split_sentences("doc", text)
    check_offsets(text, chunks)
    return [c.text for c in chunks]


def check_offsets(text: str, chunks: list[Chunk]) -> None:
    previous_end = 0
    for i, c in enumerate(chunks):
        assert c.doc_id == "doc" and c.index == i
        assert text[c.start:c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert c.start >= previous_end  # in order, never overlapping
        previous_end = c.end
    # Nothing but whitespace is dropped between chunks.
    covered = "".join(text[c.start:c.end] for c in chunks)
    assert covered.split() == text.split() or "".join(covered.split()) == "".join(text.split())


@pytest.mark.parametrize("text, expected", [
    ("Ada was born in Oslo. She moved to Bergen.", ["Ada was born in Oslo.", "She moved to Bergen."]),
    ("Dr. Ada Lindqvist was born in Oslo. She studied at St. Olaf College.",
     ["Dr. Ada Lindqvist was born in Oslo.", "She studied at St. Olaf College."]),
    ("J. R. R. Tolkien wrote books. He lived in Oxford.", ["J. R. R. Tolkien wrote books.", "He lived in Oxford."]),
    ("J.R.R. Tolkien wrote books. He lived in Oxford.", ["J.R.R. Tolkien wrote books.", "He lived in Oxford."]),
    ("Mr. and Mrs. Smith met Prof. Jones. They talked.", ["Mr. and Mrs. Smith met Prof. Jones.", "They talked."]),
    ("Dr. Smith met Mr. Jones at St. Paul's. They talked.",
     ["Dr. Smith met Mr. Jones at St. Paul's.", "They talked."]),
    ("Smith et al. found it. Others disagreed.", ["Smith et al. found it.", "Others disagreed."]),
    ("Mt. Everest is tall. Ft. Worth is in Texas.", ["Mt. Everest is tall.", "Ft. Worth is in Texas."]),
    ("See No. 5 for details. The answer was no. Then he left.",
     ["See No. 5 for details.", "The answer was no.", "Then he left."]),
    ("The city has 3.5 million people. It grew by 2.5 percent.",
     ["The city has 3.5 million people.", "It grew by 2.5 percent."]),
    ("It was 1990. 2 years later he died.", ["It was 1990.", "2 years later he died."]),
    ("Version 2.0. Next release.", ["Version 2.0.", "Next release."]),
    ("Is it true? Yes! It is.", ["Is it true?", "Yes!", "It is."]),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("Wait... What happened?", ["Wait...", "What happened?"]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("He said \u201cStop.\u201d Then he left.", ["He said \u201cStop.\u201d", "Then he left."]),
    ("She said 'No.' He agreed.", ["She said 'No.'", "He agreed."]),
    ('"Why?" she asked. "Because." He shrugged.', ['"Why?" she asked.', '"Because."', "He shrugged."]),
    ("(He was born in Oslo.) Then he moved.", ["(He was born in Oslo.)", "Then he moved."]),
    ("Prices rose e.g. in Oslo. Then fell.", ["Prices rose e.g. in Oslo.", "Then fell."]),
    ("Éowyn rode. Ödön wrote. Ólafur sang.", ["Éowyn rode.", "Ödön wrote.", "Ólafur sang."]),
    ("He met Ö. Horváth there. They spoke.", ["He met Ö. Horváth there.", "They spoke."]),
    ("Multiple   spaces.   Next  one.\n\n\n  Third.", ["Multiple   spaces.", "Next  one.", "Third."]),
    ("Line one.\nLine two continues. Line three.", ["Line one.", "Line two continues.", "Line three."]),
    ("A heading without a period\n\nThe body starts here.", ["A heading without a period", "The body starts here."]),
    ("first para\r\n\r\nsecond para", ["first para", "second para"]),
    ("No final period", ["No final period"]),
    ("Trailing space. ", ["Trailing space."]),
    ("Ends with Dr.", ["Ends with Dr."]),
    ("lower case after period. continues here", ["lower case after period. continues here"]),
    ("Oslo.Bergen are close", ["Oslo.Bergen are close"]),
    ("", []),
    ("   \n\t  ", []),
])
def test_split_sentences(text, expected):
    assert texts(text) == expected


def test_offsets_with_leading_whitespace_and_unicode():
    text = "  \n\u00a0Zürich liegt am See. Emojis 😀 count as one char.\n\nΑθήνα είναι πόλη."
    chunks = split_sentences("doc", text)
    check_offsets(text, chunks)
    assert [c.text for c in chunks] == ["Zürich liegt am See.", "Emojis 😀 count as one char.", "Αθήνα είναι πόλη."]
    assert chunks[0].start == 4 and chunks[0].end == 4 + len("Zürich liegt am See.")


def test_chunk_document_uses_document_id():
    doc = Document("d42", "One fact. Another fact.")
    chunks = chunk_document(doc)
    assert [(c.doc_id, c.index, c.start, c.end) for c in chunks] == [("d42", 0, 0, 9), ("d42", 1, 10, 23)]


_WORDS = ["Oslo", "river", "Dr.", "U.S.", "St.", "J.", "3.5", "million", "e.g.", "was", "born", "in", "the",
          "Ada", "Ødegaard", "(in", "1990)", "\u201cquoted\u201d", '"said"', "'single'", "a", "of", "vs.", "café"]
_ENDS = [".", "!", "?", "?!", '."', ".)", "...", ".\u201d"]
_GAPS = [" ", "  ", "\n", " \n ", "\n\n", "\t", "\u00a0", "\r\n", " \n\n  "]


def test_property_offsets_exact_on_random_texts():
    rng = random.Random(20240607)
    for _ in range(400):
        parts = []
        for _ in range(rng.randint(1, 8)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 9))]
            words[0] = words[0][:1].upper() + words[0][1:]
            parts.append(" ".join(words) + rng.choice(_ENDS + [""]))
            parts.append(rng.choice(_GAPS))
        text = rng.choice(["", " ", "\n"]) + "".join(parts)
        chunks = split_sentences("doc", text)
        check_offsets(text, chunks)
        for c in chunks:
            assert "\n\n" not in c.text  # blank lines always split


def test_property_plain_sentences_split_exactly():
    rng = random.Random(7)
    vocabulary = ["Oslo", "river", "was", "born", "in", "the", "city", "Bergen", "near", "3.5", "km", "Zürich"]
    for _ in range(300):
        sentences = []
        for _ in range(rng.randint(1, 6)):
            words = [rng.choice(vocabulary) for _ in range(rng.randint(2, 8))]
            words[0] = rng.choice(["Ada", "Oslo", "The", "It", "Éowyn", "1990", '"Yes'])
            end = rng.choice([".", "!", "?"])
            sentences.append(" ".join(words) + (end + '"' if words[0].startswith('"') else end))
        text = rng.choice([" ", "  ", "\n", "\n\n"]).join(sentences)
        assert texts(text) == sentences
