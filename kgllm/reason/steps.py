"""Questions answered in steps: a relative clause on a noun ("the engineer who restored X"), a relation noun
of a name ("Hannah's husband", "the club's manager"), and what carries from one step to the next."""

from __future__ import annotations

import re
from typing import NamedTuple

from kgllm.reason.analysis import _WH, parse

__all__ = ["PossessedParts", "alongside", "nested_parts", "possessed_parts", "with_time"]

_RELATIVE = frozenset({"that", "who", "which", "whom"})


def nested_parts(question: str) -> tuple[str, str] | None:
    """A question with a relative clause on a noun, split: the inner question and the outer template.

    The inner question asks which thing the clause describes ("which company owns X"); the
    outer one is the question with that noun phrase replaced by ``{}`` (to be filled with the
    inner answer's name). None when the question holds no such clause.

    >>> nested_parts("Who trained the pilot who flew the Kestrel prototype?")
    ('which pilot flew the Kestrel prototype', 'Who trained {}?')
    >>> nested_parts("Where was the co-founder of the Pell Institute who wrote Tidewater born?")
    ('which co-founder of the Pell Institute wrote Tidewater', 'Where was {} born?')
    >>> nested_parts("Who founded Velmora Bikes?") is None
    True
    """
    doc = parse(question)
    for tok in doc:
        if tok.dep_ not in ("relcl", "acl") or tok.lower_ in _WH:
            continue
        rel = [c for c in tok.subtree]
        pron = [c for c in rel if c.lower_ in _RELATIVE and c.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj")]
        noun, of_name = tok.head, ""
        if noun.pos_ == "PROPN" and pron and pron[0].lower_ in ("who", "whom") and noun.dep_ == "pobj" \
                and noun.head.lower_ == "of" and noun.head.head.pos_ == "NOUN":
            # "the co-founder of X who wrote Y": "who" is said of a person, the noun the name belongs to
            of_name = doc[noun.head.i:tok.left_edge.i].text
            noun = noun.head.head
        if noun.pos_ != "NOUN" or noun.lower_ in _WH or any(c.lower_ in _WH for c in noun.children):
            continue  # "which company that ..." is the question's own answer type
        if not pron:
            continue
        outside = [t for t in doc if t.i < rel[0].i or t.i > rel[-1].i]
        if rel[-1].tag_ == "VBN" and not any(t.pos_ == "VERB" for t in outside) and rel[-1].i != tok.i:
            rel = rel[:-1]  # "Where was X who wrote Y born?": the participle completes the question, not the clause
        clause = " ".join(t.text for t in rel if t.i != pron[0].i)
        mods = [c for c in noun.lefts if c.dep_ in ("amod", "compound")]
        word = noun.i
        while word > 1 and doc[word - 1].text == "-" and not doc[word - 2].whitespace_:
            word -= 2  # "co-founder" is three tokens
        start = min(noun.left_edge.i, word)
        while start > 0 and doc[start - 1].dep_ == "det" and doc[start - 1].i < word:
            start -= 1
        head = " ".join([*(m.text for m in mods if m.i < word), doc[word:noun.i + 1].text])
        head = f"{head} {of_name}" if of_name else head
        inner = f"which {head} {clause}"
        end = rel[-1].i + 1
        before = doc[:start].text
        after = doc[end:].text
        outer = re.sub(r"\s+([?.!,])", r"\1", f"{before} {{}} {after}".strip())
        return re.sub(r"\s+", " ", inner).strip(), outer
    return None


class PossessedParts(NamedTuple):
    """A question split by :func:`possessed_parts`: who is meant, the question asked of them (``{}`` for that
    one's name), and the name the question gives them ("Tobias's cousin Simon"; "" when none)."""

    inner: str
    outer: str
    name: str = ""
    noun: str = ""  # the relation noun, as a lemma ("husband")


def possessed_parts(question: str) -> PossessedParts | None:
    """A question about someone named by a relation to a name ("Hannah's husband", "the grandmother of Iris",
    "the current Brackwater United manager"), split: who that is, and the question asked of them.

    Not when the question only asks who that is ("Who is Hannah's husband?").

    >>> possessed_parts("Where does Ana Ruiz's husband come from?")
    PossessedParts(inner="Who is Ana Ruiz's husband?", outer='Where does {} come from?', name='', noun='husband')
    >>> possessed_parts("What does Ana Ruiz's brother Tomas do?")
    PossessedParts(inner="Who is Ana Ruiz's brother?", outer='What does {} do?', name='Tomas', noun='brother')
    >>> possessed_parts("Who is Ana Ruiz's husband?") is None
    True
    """
    doc = parse(question)
    nouns = [t for t in doc if t.pos_ == "NOUN" and t.dep_ != "compound"]
    named = [t for t in nouns if any(c.dep_ in ("poss", "compound") and c.pos_ == "PROPN" for c in t.children)]
    for tok in named + [t for t in nouns if t not in named]:  # "Edith's father" before "the job of Edith"
        owners = [c for c in tok.children if c.dep_ == "poss" and c.pos_ == "PROPN"]
        names = [c for c in tok.lefts if c.dep_ == "compound" and c.pos_ == "PROPN"]
        end = tok.i + 1
        if not owners and not names and end + 1 < len(doc) and doc[end].lower_ == "of" and doc[end + 1].pos_ in (
                "PROPN", "DET"):
            k = end + 1
            while k < len(doc) and (doc[k].pos_ in ("PROPN", "DET") or (doc[k].lower_ == "and" and k + 1 < len(doc)
                                                                        and doc[k + 1].pos_ == "PROPN")):
                k += 1
            if any(t.pos_ == "PROPN" for t in doc[end + 1:k]):
                owners, end = [doc[end + 1]], k
        if not owners and not names or any(c.lower_ in _WH for c in tok.children):
            continue  # "which founder of X wrote Y" asks which one, not who the founder is
        called = [c for c in tok.rights if c.dep_ == "appos" and c.pos_ == "PROPN" and c.i == end]
        if called:  # "Tobias's cousin Simon": the phrase runs to the name, which the inner answer must be
            end = called[0].right_edge.i + 1
        start = min([tok.i, *(t.left_edge.i for t in owners + names)])
        while start < tok.i and doc[start].pos_ in ("AUX", "VERB", "PRON", "ADP"):
            start += 1  # a misattached auxiliary ("does" under a first name) is no part of the phrase
        while start > 1 and doc[start - 1].text == "-" and not doc[start - 2].whitespace_:
            start -= 2  # "co-founder" is three tokens
        while start > 0 and doc[start - 1].dep_ in ("det", "amod") and doc[start - 1].head.i == tok.i:
            start -= 1
        if start > 0 and doc[start - 1].lower_ in _WH:
            continue
        rest = [t for t in doc if not (start <= t.i < end) and not t.is_punct]
        if [t.lower_ for t in rest[:2]] in ([w, b] for w in _WH for b in ("is", "was", "are", "were")) and len(rest) == 2:
            return None  # "Who is Hannah's husband?": the question itself
        phrase = doc[start:called[0].i if called else end].text
        be = "are" if tok.tag_ == "NNS" else "is"
        outer = re.sub(r"\s+([?.!,])", r"\1", f"{doc[:start].text} {{}} {doc[end:].text}".strip())
        return PossessedParts(f"Who {be} {phrase}?", outer, doc[called[0].i:end].text if called else "",
                              tok.lemma_.lower())
    return None


_WHEN = re.compile(r"\b(?:in|on|during|since|before|after|by|until)\s+(?:(?:\d{1,2}\s+)?(?:January|February|March|April|"
                   r"May|June|July|August|September|October|November|December)\s+)?\d{4}\b", re.I)


def with_time(inner: str, outer: str) -> str:
    """``outer`` with the time the inner question names, when it names none itself: "the club X joined in
    August 2020" asks who managed it then.

    >>> with_time("which club Ana Ruiz joined in August 2020", "Who was managing {}?")
    'Who was managing {} in August 2020?'
    """
    found = _WHEN.search(inner)
    if not found or _WHEN.search(outer):
        return outer
    body = outer.rstrip("?").rstrip()
    return f"{body} {found.group()}?"


def alongside(question: str) -> bool:
    """Whether the question asks for the one who did something with another ("Who founded X with his
    brother?"): then a sentence's other doers are not part of the answer.

    >>> alongside("Who founded Velmora Bikes together with her sister?")
    True
    >>> alongside("Who founded Velmora Bikes?")
    False
    """
    return any(t.lower_ in ("with", "alongside") and t.dep_ == "prep" and t.head.pos_ in ("VERB", "AUX")
               for t in parse(question))
