"""Kinship statements in narrative text: who is whose son, sister, uncle ... (the kinship schema's reader).

Active when the extractor is asked for kinship (``RuleExtractor(kinship=True)``, which the
``textgraph`` evaluation uses); the general patterns of :mod:`kgllm.extract.patterns` are not
changed by it. It reads the parsed sentences of one document left to right, on the tokens rather
than on the dependency tree (family stories are often run-on sentences that the parser joins
badly), and knows these English constructions, where K is a kinship noun:

* possessives: ``Ann's son Bo``, ``Ann's son, Bo,``, ``her son Bo``, ``Bo, Ann's son``,
  ``Bo is Ann's son``, ``Bo is her son``, ``Bo is the son of Ann``;
* lists and coordination: ``his sons Bo and Cy``, ``his brother Bo and mother Ann``,
  ``Ann and her son Bo``;
* ``Ann has a son named Bo``, ``Ann has a few children, Bo, Cy and Di``;
* an unnamed relative named in a later sentence: ``Ann phoned her son at noon. His name is Bo.``;
* ``Bo and Cy are brothers`` (siblings).

A name is a capitalised run of proper-noun tokens; a run directly followed by a verb, ``'s`` or
``and his/her`` ends one word early, since its last word starts a new clause ("... her sister
Vera Tomas was reading ...": Vera, then Tomas). A possessive pronoun stands for the nearest earlier
person of its gender in its sentence who is not named as someone's relative there ("Arvid drove
his son Nils home, and his wife ..." : Arvid), else the nearest such person at all, else the
nearest in the earlier sentences. Genders come from the kinship nouns (``son``: male) and from the
pronouns resolved to a person.

Examples
--------
>>> from kgllm.resources import get_nlp
>>> nlp = get_nlp()
>>> sents = ["Omar went sailing with his daughter Mira.", "Mira's brother, Tariq, stayed home."]
>>> found = read_kinship([nlp(s) for s in sents])
>>> [(s, k, o) for _, s, k, o in found.facts]
[('Omar', 'daughter', 'Mira'), ('Mira', 'brother', 'Tariq')]
>>> found.gender["Tariq"], found.gender["Omar"]
('male', 'male')
"""

from __future__ import annotations

from typing import Any, Sequence

from kgllm.extract.coref import PRONOUN_GENDER, _quoted
from kgllm.extract.kinship_words import (BE, COUNT, FUNCTION, HAVE, KIN_NOUNS, NAMED, NOT_NAMES, NUMERIC, POSS_PRON,
                                         KinshipReading, Name)

__all__ = ["KinshipReading", "read_kinship", "KIN_NOUNS"]

def read_kinship(docs: Sequence[Any], chunks: Sequence[int] | None = None) -> KinshipReading:
    """Kinship facts and genders of a document given as parsed sentences (spaCy ``Doc`` objects)."""
    out = KinshipReading()
    known: set[str] = set()   # capitalised words used as names somewhere in the document
    for doc in docs:
        for t in doc:
            if t.is_alpha and t.text[:1].isupper() and not t.is_sent_start and (
                    t.pos_ == "PROPN" or t.ent_type_ == "PERSON" or (t.i and doc[t.i - 1].lower_ in KIN_NOUNS)):
                known.add(t.text)
    solo: set[str] = set()    # ... and alone (not next to another capitalised word)
    for doc in docs:
        toks = list(doc)
        for k, t in enumerate(toks):
            if t.text in known and not (k and toks[k - 1].text[:1].isupper() and not toks[k - 1].is_sent_start) and not (
                    k + 1 < len(toks) and toks[k + 1].is_alpha and toks[k + 1].text[:1].isupper()):
                solo.add(t.text)
    history: list[Name] = []
    pending: list[tuple[str, str, str | None]] = []   # unnamed relatives: (owner, term, gender)
    for n, doc in enumerate(docs):
        chunk = chunks[n] if chunks is not None else n
        _Sentence(doc, chunk, out, history, pending, known, solo).read()
    return out


class _Sentence:
    def __init__(self, doc: Any, chunk: int, out: KinshipReading, history: list[Name],
                 pending: list[tuple[str, str, str | None]], known: set[str] = frozenset(),  # type: ignore[assignment]
                 solo: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.toks = list(doc)
        self.known = known
        self.solo = solo
        self.chunk, self.out, self.history, self.pending = chunk, out, history, pending
        self.names = self._names()
        self.at = {i: nm for nm in self.names for i in range(nm.start, nm.end)}

    # ---------------------------------------------------------------- tokens
    def _is_name_token(self, i: int) -> bool:
        t = self.toks[i]
        if not (t.is_alpha and t.text[:1].isupper()) or t.lower_ in NOT_NAMES or t.lower_ in KIN_NOUNS:
            return False
        if t.lemma_.lower() in KIN_NOUNS or t.lower_.rstrip("s") in KIN_NOUNS:
            return False
        if t.lower_ in PRONOUN_GENDER:
            return False
        if t.ent_type_ in NUMERIC:   # "April" the month, unless it acts as a person ("her daughter April went")
            prev = self.toks[i - 1] if i and self.toks[i - 1].text != "," else self.toks[i - 2] if i > 1 else None
            nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
            if prev is not None and prev.lower_ in KIN_NOUNS:
                return True
            if t.ent_type_ not in ("DATE", "EVENT") or t.pos_ != "PROPN" and t.text not in self.known:
                return False
            acts = nxt is not None and (nxt.pos_ in ("VERB", "AUX") or nxt.text in ("'s", "’s") or nxt.lower_ == "and"
                                        or (i == 0 and nxt.text == ","))
            return acts and (prev is None or prev.pos_ != "ADP")   # "in April, ..." stays a month

        return t.pos_ == "PROPN" or t.ent_type_ == "PERSON" or t.text in self.known or (
            t.pos_ == "NOUN" and not t.is_sent_start) or (
            t.is_sent_start and not t.is_stop and t.pos_ not in FUNCTION and i + 1 < len(self.toks)
            and self.toks[i + 1].pos_ in ("VERB", "AUX", "CCONJ", "PART"))

    def _names(self) -> list[Name]:
        names, i = [], 0
        while i < len(self.toks):
            if not self._is_name_token(i):
                i += 1
                continue
            j = i
            while j < len(self.toks) and self._is_name_token(j):
                j += 1
            if j - i >= 2 and self.toks[i].text in self.solo and self.toks[i + 1].text not in self.solo:
                names.append(Name(self.toks[i].text, i, i + 1, self.chunk))   # "Richard Birthday party"
                i += 1
                continue
            if j - i >= 2 and all(t.text in self.solo for t in self.toks[i:j]):
                names.extend(Name(self.toks[k].text, k, k + 1, self.chunk) for k in range(i, j))
                i = j
                continue
            if j - i >= 2 and j < len(self.toks) and self._clause_after(j):
                names.append(Name(" ".join(t.text for t in self.toks[i:j - 1]), i, j - 1, self.chunk))
                i = j - 1
                names.append(Name(self.toks[i].text, i, j, self.chunk))
            else:
                names.append(Name(" ".join(t.text for t in self.toks[i:j]), i, j, self.chunk))
            i = j
        return names

    def _clause_after(self, j: int) -> bool:
        t = self.toks[j]
        if t.pos_ in ("VERB", "AUX") or t.text in ("'s", "’s"):
            return True
        return t.lower_ == "and" and j + 1 < len(self.toks) and self.toks[j + 1].lower_ in POSS_PRON

    def kin(self, i: int) -> tuple[str, str | None, bool, int] | None:
        """``(term, gender, plural, next index)`` of a kinship noun at token ``i``."""
        if i >= len(self.toks):
            return None
        while (i + 1 < len(self.toks) and (self.toks[i].pos_ in ("ADJ", "NUM") or self.toks[i].lower_ in COUNT)
               and self.toks[i].lower_ != "great" and self.toks[i].lower_ not in KIN_NOUNS):
            i += 1                                            # "his favorite son", "her older sister"
        t = self.toks[i]
        words = [t.lower_]
        if t.lower_ == "great" and i + 1 < len(self.toks):
            words, i = ["great", self.toks[i + 1].lower_], i + 1
            t = self.toks[i]
        base = t.lemma_.lower() if t.lower_ not in KIN_NOUNS else t.lower_
        if base not in KIN_NOUNS:
            return None
        term, gender = KIN_NOUNS[base]
        plural = t.lower_ in ("children", "grandchildren") or (t.lower_ != base and t.lower_.endswith("s"))
        nxt = i + 1
        if [x.lower_ for x in self.toks[nxt:nxt + 4]] in (["-", "in", "-", "law"], ["in", "-", "law", "'s"][:4]):
            term, nxt = f"{term}-in-law", nxt + 4
        elif [x.lower_ for x in self.toks[nxt:nxt + 2]] == ["in", "law"]:
            term, nxt = f"{term}-in-law", nxt + 2
        if words[0] == "great":
            term = f"great-{term}"
        return term, gender, plural, nxt

    def name_at(self, i: int, skip_comma: bool = True) -> Name | None:
        if skip_comma and i < len(self.toks) and self.toks[i].text == ",":
            i += 1
        return self.at.get(i) if i < len(self.toks) and self.at.get(i, None) and self.at[i].start == i else None

    # ---------------------------------------------------------------- reading
    def emit(self, owner: str, term: str, gender: str | None, value: Name) -> None:
        if owner == value.text:
            return
        value.value = True
        self.out.facts.append((self.chunk, owner, term, value.text))
        self.out.learn(value.text, gender, self.chunk, strong=True)

    def resolve(self, i: int, gender: str | None, exclude: Name | None = None) -> str | None:
        before = [nm for nm in self.names if nm.end <= i and nm is not exclude]
        for pool in ([nm for nm in before if not nm.value], before, self.history):
            for nm in reversed(pool):
                if self.out.fits(nm.text, gender):
                    self.out.learn(nm.text, gender, self.chunk, strong=False)
                    return nm.text
        return None

    def read(self) -> None:
        toks, i = self.toks, 0
        while i < len(toks):
            low = toks[i].lower_
            nm = self.name_at(i, skip_comma=False)
            if nm is not None and nm.end < len(toks) and (toks[nm.end].text in ("'s", "’s") or (
                    toks[nm.end].text in ("'", "’") and self.kin(nm.end + 1))):   # "Bo 'son" for "Bo's son"
                i = self._possessed(nm.text, nm.end + 1, nm.start)
                continue
            if low in POSS_PRON and toks[i].tag_ == "PRP$" and not _quoted(toks[i]):
                if i + 2 < len(toks) and toks[i + 1].lower_ == "name" and toks[i + 2].lower_ in BE:
                    self._name_is(POSS_PRON[low], i + 3)
                    i += 3
                    continue
                owner = self.resolve(i, POSS_PRON[low], exclude=self._before(i))
                i = self._possessed(owner, i + 1, i) if owner else i + 1
                continue
            if low == "their" and toks[i].tag_ == "PRP$":
                group = self._group(i)
                for owner in group:
                    self._possessed(owner, i + 1, i)
                k = self.kin(i + 1)
                if k is not None and k[0] in ("mother", "father", "parent") and len(group) == 2:
                    a, b = (self._find(n) for n in group)   # children of one parent are siblings
                    if a is not None and b is not None:
                        self.emit(a.text, "sibling", None, b)
                        self.emit(b.text, "sibling", None, a)
                i = max(i + 1, k[3] if k else i + 1)
                continue
            if low in HAVE and i > 0:
                i = self._has(i)
                continue
            if low in ("gave", "give", "gives") and [t.lower_ for t in toks[i + 1:i + 3]] == ["birth", "to"]:
                i = self._has(i + 2, owner_at=i - 1)
                continue
            if low in ("are", "were") and i + 1 < len(toks):
                self._are(i)
            if low in ("married", "couple"):
                self._married(i)
            if low in ("the", "another", "a", "an") and self.kin(i + 1) and i + 1 < len(toks):
                self._the_k_of(i)
            i += 1
        self.history.extend(self.names)

    def _possessed(self, owner: str | None, i: int, owner_at: int) -> int:
        """After ``owner's`` / ``his``: ``K Name``, ``K, Name,``, lists; or ``Name, owner's K``."""
        k = self.kin(i)
        if k is None or owner is None:
            return i
        term, gender, plural, j = k
        if j + 1 < len(self.toks) and self.toks[j].text in ("'s", "’s") and self.kin(j + 1) and not plural:
            between = f"{owner}'s {term}"                   # "her daughter's son": an unnamed daughter between
            self.out.facts.append((self.chunk, owner, term, between))
            self.out.learn(between, gender, self.chunk, strong=True)
            return self._possessed(between, j + 1, owner_at)
        value = self.name_at(j)
        if value is None:
            prev = self._before(owner_at)
            if prev is not None:
                self.emit(owner, term, gender, prev)       # "Bo, Ann's son" / "Bo is Ann's son"
            elif j >= len(self.toks) or self.toks[j].is_punct or self.toks[j].pos_ in ("VERB", "AUX", "ADP"):
                self.pending.append((owner, term, gender))
            return j
        self.emit(owner, term, gender, value)
        j = value.end
        while j < len(self.toks):                            # lists: "sons Bo and Cy", "brother Bo and mother Ann"
            k2 = j + 1 if self.toks[j].text in (",", "and") else j
            if k2 < len(self.toks) and self.toks[k2].lower_ == "and":
                k2 += 1
            if k2 == j:
                break
            nxt = self.name_at(k2)
            if plural and nxt is not None:
                self.emit(owner, term, gender, nxt)
                j = nxt.end
                continue
            if k2 < len(self.toks) and self.toks[k2].lower_ in POSS_PRON:
                break                                          # "... and her uncle Chuck": its own owner
            k3 = self.kin(k2)
            if k3 is not None and self.name_at(k3[3]) is not None:
                value = self.name_at(k3[3])
                self.emit(owner, k3[0], k3[1], value)
                j = value.end
                continue
            break
        return j

    def _before(self, at: int) -> Name | None:
        """``Name ,`` or ``Name is`` right before token ``at`` (a reversed possessive)."""
        toks = self.toks
        if at >= 2 and toks[at - 1].text == ",":
            nm = self.at.get(at - 2)
            return nm if nm is not None and nm.end == at - 1 else None
        if at >= 2 and toks[at - 1].lower_ in BE:
            if at >= 3 and toks[at - 2].lower_ in ("who", "that"):
                at -= 2 if toks[at - 3].text == "," else 1     # "Bo, who is Ann's son" / "Bo who is ..."
            nm = self.at.get(at - 2)
            return nm if nm is not None and nm.end == at - 1 else None
        if at >= 1 and toks[at].lower_ in POSS_PRON:         # "Vera her aunt arrived" (a missing comma)
            nm = self.at.get(at - 1)
            return nm if nm is not None and nm.end == at else None
        return None

    def _group(self, i: int) -> list[str]:
        """What ``their`` at token ``i`` stands for: the last ``A and B`` before it (this or an earlier sentence)."""
        pool = [nm for nm in self.history[-12:] + [nm for nm in self.names if nm.end <= i]]
        for a, b in zip(reversed(pool[:-1]), reversed(pool[1:])):
            if a.chunk == b.chunk and b.start == a.end + 1:
                toks = self.toks if a.chunk == self.chunk else None
                if toks is None or toks[a.end].lower_ == "and":
                    return [a.text, b.text]
        return []

    def _married(self, i: int) -> None:
        """``Ann and Bo (are|have been|got) married``."""
        j = i - 1
        while j >= 0 and (self.toks[j].lower_ in ("are", "were", "is", "was", "been", "have", "has", "had", "got",
                                                   "get", "be", "happily", "recently", "just", "a", "the") or (
                self.toks[j].pos_ == "ADJ" and self.toks[i].lower_ == "couple")):
            j -= 1
        b = self.at.get(j)
        if b is None or b.start < 2 or self.toks[b.start - 1].lower_ != "and":
            return
        a = self.at.get(b.start - 2)
        if a is not None:
            self.emit(a.text, "spouse", None, b)
            self.emit(b.text, "spouse", None, a)

    def _name_is(self, gender: str, i: int) -> None:
        value = self.name_at(i, skip_comma=False)
        if value is None:
            return
        for n in range(len(self.pending) - 1, -1, -1):
            owner, term, g = self.pending[n]
            if g in (None, gender):
                del self.pending[n]
                self.emit(owner, term, gender, value)
                return

    def _find(self, text: str) -> Name | None:
        return next((nm for nm in reversed(self.history + self.names) if nm.text == text), None)

    def _has(self, i: int, owner_at: int | None = None) -> int:
        """``Ann has a son named Bo`` / ``Ann has a few children, Bo, Cy and Di`` / a birth ("gave birth to ... named ...")."""
        j = i + 1
        while j < len(self.toks) and self.toks[j].lower_ in COUNT:
            j += 1
        k = self.kin(j)
        if k is None:
            return i + 1
        term, gender, plural, j = k
        at = i - 1 if owner_at is None else owner_at
        subj = self.toks[at]
        owner_name = self.at.get(at)
        if owner_name is None and subj.lower_ in ("who", "that") and at >= 1:   # "Bo, who has a son named ..."
            owner_name = self.at.get(at - 2 if self.toks[at - 1].text == "," else at - 1)
        owners = [owner_name.text] if owner_name is not None else (
            [o for o in [self.resolve(at, PRONOUN_GENDER.get(subj.lower_))] if o] if subj.lower_ in ("he", "she")
            else self._group(at) if subj.lower_ == "they" else [])
        if not owners:
            return j
        if j < len(self.toks) and self.toks[j].lower_ in NAMED:
            j += 1
        elif [t.lower_ for t in self.toks[j:j + 2]] in (["who", "is"], ["who", "was"], ["who", "'s"]):
            j += 2
        while j < len(self.toks):
            if self.toks[j].text in (",", "and", ":"):
                j += 1
                continue
            value = self.name_at(j, skip_comma=False)
            if value is None:
                break
            for owner in owners:
                self.emit(owner, term, gender, value)
            j = value.end
            if not plural:
                break
        return j

    def _are(self, i: int) -> None:
        """``Bo and Cy are brothers`` / ``... are siblings``."""
        k = self.kin(i + 1)
        if k is None or not k[2] and k[0] != "sibling" or k[0] not in ("brother", "sister", "sibling"):
            return
        if not (i >= 3 and self.toks[i - 2].lower_ == "and" and self.at.get(i - 1) and self.at.get(i - 3)):
            return
        a, b = self.at[i - 3], self.at[i - 1]
        self.emit(a.text, "sibling", None, b)
        self.emit(b.text, "sibling", None, a)

    def _the_k_of(self, i: int) -> None:
        """``Bo is the son of Ann``."""
        term, gender, _, j = self.kin(i + 1)  # type: ignore[misc]
        owner = self.name_at(j + 1, skip_comma=False) if j < len(self.toks) and self.toks[j].lower_ == "of" else None
        value = self._before(i)
        if owner is not None and value is not None:
            self.emit(owner.text, term, gender, value)
