"""What kind of thing (person, organisation, place, thing) and which gender a referent is, from the graph
and what the documents say of it."""

from __future__ import annotations

import re
from typing import Any

from kgllm.conversation.words import Referent, _HEAD, _ORG_TYPES, _PLACE_TYPES, _is_named, _strip_article
from kgllm.types import entity_id


class Kinds:
    """Kind and gender of referents (a part of :class:`~kgllm.conversation.resolver.Resolver`)."""

    def _texts(self) -> list[str]:
        from kgllm.retrieve.link import store_revision

        revision = store_revision(self.store)
        if self._sentences is None or revision != self._revision:
            documents = getattr(self.store, "documents", None)
            texts = [d.text for d in documents()] if callable(documents) else []
            self._sentences = [s for t in texts if t for s in re.split(r"(?<=[.!?])\s+", t) if s]
            self._revision = revision
            self._gender.clear()
            self._described.clear()
            self._given = None
        return self._sentences

    def kind(self, eid: str | None, text: str) -> str:
        """``person``, ``org``, ``place`` or ``thing``: the graph's entity type, checked against what the
        documents say of the name (the tagger's types are noisy): the pronouns that refer back to it (a PERSON the
        text calls "it" is not a person; a name it calls "he" or "she" is one) and the nouns that describe it ("X
        is a Dutch maker of ...": an organisation). A name the graph lacks is a ``thing``."""
        entity = self.store.get_entity(eid) if eid else None
        etype = entity.type if entity is not None else ""
        votes = self._votes(eid, text)
        personal = votes["male"] + votes["female"]
        said = self._description_kinds(eid, text)
        if personal > votes["it"] and (etype == "PERSON" or personal >= 2) and _is_named(text):
            return "person"
        if etype == "PERSON" and votes["it"] == 0 and (not said or "person" in said):
            return "person"
        for kind in ("org", "place", "thing"):
            if kind in said:
                return kind
        if etype in _ORG_TYPES:
            return "org"
        if etype in _PLACE_TYPES:
            return "place"
        return "thing"

    def _description_kinds(self, eid: str | None, text: str) -> set[str]:
        """The kinds of the nouns the documents describe the name by ("X is a maker of ...", "X, a firm ...")."""
        from kgllm.extract.descriptions import is_role_noun, kind_of_noun

        key = ("@kinds", eid or entity_id(text))
        if key not in self._described:
            names = {text, _strip_article(text)}
            entity = self.store.get_entity(eid) if eid else None
            if entity is not None:
                names |= {entity.name, *entity.aliases}
            names = {n for n in names if n and _is_named(n)}
            kinds: set[str] = set()
            if names:
                name = "(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
                found = re.finditer(rf"(?<!\w){name}(?:,| is| was| has been| had been)\s+(?:a|an|the|one of the)"
                                    rf"\s+((?:[\w-]+\s+){{0,5}}[\w-]+)", " ".join(self._texts()))
                for m in found:
                    for word in m.group(1).lower().split():
                        if word in ("of", "in", "for", "from", "with", "that", "which", "who", "and"):
                            break
                        kind = kind_of_noun(word) or ("person" if is_role_noun(word) else None)
                        if kind:
                            kinds.add(kind)
            self._described[key] = kinds  # type: ignore[assignment]
        return self._described[key]  # type: ignore[return-value]

    def gender(self, eid: str | None, text: str) -> str | None:
        """The gender the documents give a person: the pronouns that follow its name (in its sentence, before
        another name, and at the start of the next one), by majority; None when they do not tell."""
        votes = self._votes(eid, text)
        if votes["male"] == votes["female"]:
            return None
        return "male" if votes["male"] > votes["female"] else "female"

    def _votes(self, eid: str | None, text: str) -> dict[str, int]:
        """How often the documents refer back to the name by he/him/his, she/her and it/its."""
        sentences = self._texts()
        key = eid or entity_id(text)
        if key in self._gender:
            return self._gender[key]  # type: ignore[return-value]
        names = {text, _strip_article(text)}
        entity = self.store.get_entity(eid) if eid else None
        if entity is not None:
            names |= {entity.name, *entity.aliases}
        names = {n for n in names if n and _is_named(n)}
        words = _strip_article(text).split()
        if len(words) >= 2 and words[0][:1].isupper():  # a person's given name: the text's "Edith ... She ..."
            given = self.store.get_entity(entity_id(words[0]))
            if given is not None and given.type == "PERSON":
                names.add(given.name)
        votes = {"male": 0, "female": 0, "it": 0}
        pattern = re.compile(r"\b(he|him|his|she|her|hers|it|its)\b", re.I)
        for i, sentence in enumerate(sentences):
            for name in sorted(names, key=len, reverse=True):
                at = sentence.find(name)
                if at < 0 or len(sentence[:at].split()) > 2:  # the name opens the sentence: its subject
                    continue
                after = sentence[at + len(name):]
                other = self._other_person(after, names)  # the pronouns after another person may be theirs
                window = after[: other.start()] if other else after
                found = pattern.search(window)
                if found is None and other is None and i + 1 < len(sentences):
                    opening = " ".join(sentences[i + 1].split()[:6])  # "During the war he served ..."
                    stop = self._other_person(opening, names)
                    found = pattern.search(opening[: stop.start()] if stop else opening)
                if found is not None:
                    word = found.group(1).lower()
                    votes["male" if word in ("he", "him", "his") else "it" if word in ("it", "its") else "female"] += 1
                break
        self._gender[key] = votes  # type: ignore[assignment]
        return votes

    def _other_person(self, text: str, names: set[str]) -> Any:
        """The first mention in ``text`` of a person of the graph not named ``names`` (a match), or None."""
        if self._given is None:  # the given names of the graph's people
            self._given = {e.name.split()[0] for e in self.store.entities() if e.type == "PERSON" and e.name}
        own = {w for n in names for w in n.split()[:1]}
        for m in re.finditer(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)?", text):
            first = m.group(0).split()[0]
            if first in own:
                continue
            entity = self.store.get_entity(entity_id(m.group(0)))
            if first in self._given or (entity is not None and entity.type == "PERSON"):
                return m
        return None

    def described(self, ref: Referent, noun: str) -> bool:
        """Whether the documents call ``ref`` a ``noun``: "X is a (...) noun", "X, a (...) noun", "the noun X",
        "the noun of X", or the noun is a word of its name."""
        from kgllm.extract.descriptions import _SAME  # noqa: PLC2701 - the same spelling variants

        noun = noun.lower()
        forms = {noun, _SAME.get(noun, noun), *(k for k, v in _SAME.items() if v == noun)}
        name_words = {w.lower() for w in re.findall(r"\w+", ref.text)}
        if forms & name_words or any(w.endswith(f) and len(f) > 3 for w in name_words for f in forms):
            return True
        key = (ref.id or ref.text, noun)
        if key not in self._described:
            names = [re.escape(n) for n in {ref.text, _strip_article(ref.text)} if n]
            entity = self.store.get_entity(ref.id) if ref.id else None
            if entity is not None:
                names += [re.escape(n) for n in (entity.name, *entity.aliases) if n]
            nouns = "|".join(re.escape(f) for f in forms)
            name = "(?:" + "|".join(sorted(set(names), key=len, reverse=True)) + ")"
            patterns = [
                rf"{name},?\s+(?:is|was|are|were|has been|had been)\s+(?:also\s+)?(?:a|an|the|one)\b{_HEAD}\b(?:{nouns})s?\b",
                rf"{name},\s+(?:a|an|the)\b{_HEAD}\b(?:{nouns})s?\b",
                rf"\b(?:{nouns})\s+(?:of\s+)?{name}",
            ]
            text = " ".join(self._texts())
            self._described[key] = any(re.search(p, text, re.I) for p in patterns)
        return self._described[key]

    # ------------------------------------------------------------------ entities of a turn
