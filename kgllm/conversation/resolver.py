"""Resolving a follow-up question against the referents of earlier turns."""

from __future__ import annotations

import re
from typing import Any, Sequence

from kgllm.conversation.words import (
    Referent, Resolution, Turn, _ABOUT, _AUXILIARIES, _DEMONSTRATIVES, _DETERMINERS, _DISCOURSE, _PARTICIPLES,
    _POSSESSIVE, _PRONOUNS, _VALUE_TYPES, _WH_WORDS, _answer_entity, _asked_noun, _extend, _find, _inline,
    _is_kind_noun, _is_named, _is_subject, _linked, _parse, _participle, _possessive, _stranded, _strip_article,
    _token_at, _wh_is_subject, _wh_phrase)
from kgllm.conversation.kinds import Kinds
from kgllm.types import Answer



class Resolver(Kinds):
    """Rewrites a follow-up into a standalone question against the entities of a conversation (see the module
    docstring). ``reasoner`` gives the graph (entity types, documents) and its entity linker."""

    def __init__(self, reasoner: Any) -> None:
        self.reasoner = reasoner
        self.store = reasoner.store
        self._gender: dict[str, dict[str, int]] = {}
        self._described: dict[tuple[str, str], Any] = {}
        self._sentences: list[str] | None = None
        self._revision: Any = None
        self._given: set[str] | None = None

    # ------------------------------------------------------------------ what the graph says of an entity
    def referents(self, resolved: str, answer: Answer | None, turn: int, order: int,
                  hints: dict[str, str] | None = None) -> list[Referent]:
        """The entities a turn puts in focus: those ``resolved`` names (best first: its subject) and the
        answer's, ranked by salience (the subject of what was said first)."""
        doc = _parse(resolved)
        linked = _linked(self.reasoner, resolved, answer)
        found: list[tuple[int, Referent]] = []
        for le in linked:
            entity = self.store.get_entity(le.entity_id)
            if entity is not None and entity.type in _VALUE_TYPES:
                continue
            span = _find(resolved, le.mention)
            if span is None:
                continue
            written = resolved[span[0]:span[1]]
            if not _is_named(written):
                # a common noun names an entity only without an article ("keddite"), never "the siege"
                before = resolved[: span[0]].split()
                if before and before[-1].lower() in ("the", "a", "an", "this", "that", "his", "her", "its"):
                    continue
                if written.lower() in _WH_WORDS:
                    continue
                tok = _token_at(doc, span[0], span[1])
                if tok is None or tok.dep_ not in ("nsubj", "nsubjpass") or any(
                        c.dep_ in ("det", "poss") for c in tok.children):
                    continue
            span = _extend(doc, span)
            written = resolved[span[0]:span[1]]
            if resolved[: span[0]].lower().endswith("the "):
                written = "the " + written
            tok = _token_at(doc, span[0], span[1])
            rank = 0 if tok is not None and _is_subject(tok) else 2
            found.append((span[0], Referent(le.entity_id, written, self.kind(le.entity_id, written), None, turn,
                                            0, rank, "question")))
        found.sort(key=lambda x: (x[1].rank, x[0]))
        refs = [r for _, r in found]
        given = _answer_entity(self, answer)
        if given is not None:
            eid, text, supported = given
            wh = _wh_phrase(doc)
            subject_asked = wh is not None and _wh_is_subject(doc, wh[0][1])
            ref = Referent(eid, text, self.kind(eid, text), None, turn, 0, 1, "answer" if supported else "candidate")
            asked = _asked_noun(doc)
            if asked:
                from kgllm.extract.coref import noun_gender

                ref.gender = noun_gender(asked)
                if ref.gender is not None or asked in ("person", "man", "woman"):
                    ref.kind = "person"
            refs = [r for r in refs if (r.id or r.text) != (ref.id or ref.text)]
            if subject_asked and supported:
                refs.insert(0, ref)
            else:
                refs.append(ref)
        for i, r in enumerate(refs):
            r.rank = i
            r.order = order + (len(refs) if r.role != "question" else i)
            if r.kind == "person" and r.gender is None:
                r.gender = (hints or {}).get(r.id or r.text) or self.gender(r.id, r.text)
        return refs

    # ------------------------------------------------------------------ resolution
    def resolve(self, question: str, history: Sequence[Turn]) -> Resolution:
        """The standalone form of ``question`` after the turns of ``history``."""
        text = " ".join(question.split())
        if not history:  # nothing to refer to: a personal pronoun stays unresolved (a possessive may be bound)
            left = tuple(t.text for t in _parse(text) if t.lower_ in ("he", "she", "him", "they", "them")
                         and t.pos_ == "PRON")
            return Resolution(question, text, left)
        about = _ABOUT.match(text)
        body = text[about.end():] if about else _DISCOURSE.sub("", text, count=1)
        body = body[:1].upper() + body[1:] if body else body
        if not body.strip(" ?"):
            return Resolution(question, text)
        doc = _parse(body)
        clause = any(t.pos_ == "AUX" or (t.pos_ == "VERB" and any(
            c.dep_ in ("nsubj", "nsubjpass", "csubj", "expl") for c in t.children)) for t in doc)
        if not clause or about:
            wh = any(t.lower_ in _WH_WORDS for t in doc)
            if wh and not about:
                return self._new_wh(question, body, history)
            return self._new_entity(question, body, history)
        resolved, unresolved, used = self._references(body, history)
        return Resolution(question, resolved, unresolved, used)

    def _candidates(self, history: Sequence[Turn]) -> list[Referent]:
        """Entities in focus, most salient first: the latest turn first, then by rank within a turn."""
        out: list[Referent] = []
        seen: set[str] = set()
        for turn in reversed(history):
            for r in sorted(turn.referents, key=lambda r: r.rank):
                key = r.id or r.text.lower()
                if key not in seen:
                    seen.add(key)
                    out.append(r)
        return out

    def _pick(self, word: str, history: Sequence[Turn], named: set[str]) -> Referent | list[Referent] | None:
        kind, gender, plural = _PRONOUNS[word]
        cands = self._candidates(history)
        if plural:
            groups = [r for r in cands if r.kind == "org" or (r.kind == "thing" and r.text.endswith("s"))]
            people = [r for r in cands if r.kind == "person"]
            last = {(r.id or r.text.lower()) for r in history[-1].referents} if history else set()
            if groups and ((groups[0].id or groups[0].text.lower()) in last or len(people) < 2):
                return groups[0]
            if len(people) >= 2:
                return sorted(people[:2], key=lambda r: r.order)
            return groups[0] if groups else None
        if kind == "person":
            fits = [r for r in cands if r.kind == "person" and r.gender in (gender, None)]
            if not fits:
                return None
            latest = max(r.turn for r in fits)  # the latest turn with a fitting person; the right gender first
            return min((r for r in fits if r.turn == latest), key=lambda r: (r.gender != gender, r.rank))
        fits = [r for r in cands if r.kind != "person"]
        return fits[0] if fits else None

    def _references(self, body: str, history: Sequence[Turn]) -> tuple[str, tuple[str, ...], list[Referent]]:
        """Pronouns and definite descriptions of ``body`` spelled out (left to right)."""
        doc = _parse(body)
        edits: list[tuple[int, int, str]] = []
        unresolved: list[str] = []
        used: list[Referent] = []
        named: set[str] = set()
        # entities in focus the question names itself (written out: no second linking of the question)
        for ref in self._candidates(history):
            if _is_named(ref.text) and _find(body, _strip_article(ref.text)) is not None:
                named.add(ref.id or ref.text.lower())
        skip: set[int] = set()
        for tok in doc:
            if tok.i in skip:
                continue
            low = tok.lower_
            if low in _PRONOUNS and tok.pos_ == "PRON" or (low in _PRONOUNS and tok.tag_ == "PRP$"):
                possessive = low in _POSSESSIVE or tok.tag_ == "PRP$" or tok.dep_ == "poss"
                pick = self._pick(low, history, named)
                if pick is None:
                    unresolved.append(tok.text)
                    continue
                picks = pick if isinstance(pick, list) else [pick]
                ids = {(p.id or p.text.lower()) for p in picks}
                if possessive and ids <= named:
                    continue  # "Where did he take his degree?": the question names him already
                name = " and ".join(_inline(p.text) for p in picks)
                if tok.i == 0:
                    name = name[:1].upper() + name[1:]
                nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
                if not possessive and nxt is not None and nxt.dep_ == "prt" and nxt.head == tok.head:
                    edits.append((tok.idx, nxt.idx + len(nxt.text), f"{nxt.text} {name}"))  # "set it up"
                    skip.add(nxt.i)
                else:
                    edits.append((tok.idx, tok.idx + len(tok.text), _possessive(name) if possessive else name))
                named |= ids
                used.extend(picks)
                if not isinstance(pick, list) and pick.kind == "person" and _PRONOUNS[low][1]:
                    pick.gender = pick.gender or _PRONOUNS[low][1]
                continue
            if tok.pos_ == "NOUN" and tok.dep_ != "compound":
                dets = [c for c in tok.children if c.dep_ == "det" and c.lower_ in _DETERMINERS]
                if not dets or any(c.dep_ in ("amod", "compound", "nummod", "prep", "relcl", "acl", "poss", "nmod")
                                   for c in tok.children):
                    continue
                ref = self._definite(tok.lemma_.lower(), dets[0].lower_ in _DEMONSTRATIVES, history, named)
                if ref is None:
                    if _is_kind_noun(tok.lemma_.lower()):
                        unresolved.append(f"{dets[0].text} {tok.text}")
                    continue
                start = dets[0].idx
                end = tok.idx + len(tok.text)
                name = _inline(ref.text)
                if start == 0:
                    name = name[:1].upper() + name[1:]
                nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
                if nxt is not None and nxt.tag_ == "POS":
                    end = nxt.idx + len(nxt.text)
                    skip.add(nxt.i)
                    name = _possessive(name)
                edits.append((start, end, name))
                named.add(ref.id or ref.text.lower())
                used.append(ref)
        out = body
        for start, end, new in sorted(edits, reverse=True):
            out = out[:start] + new + out[end:]
        return out, tuple(unresolved), used

    def _definite(self, noun: str, demonstrative: bool, history: Sequence[Turn],
                  named: set[str]) -> Referent | None:
        """The entity in focus a definite description ("the company", "that firm") stands for, or None."""
        from kgllm.extract.descriptions import kind_of_noun

        cands = self._candidates(history)
        if demonstrative:  # "that company": the one introduced most recently
            cands = sorted(cands, key=lambda r: -r.order)
        kind = kind_of_noun(noun)
        scored: list[tuple[int, int, Referent]] = []
        for i, ref in enumerate(cands):
            if (ref.id or ref.text.lower()) in named:
                continue
            if self.described(ref, noun):
                scored.append((0, i, ref))
            elif kind is not None and kind == ref.kind:
                scored.append((1, i, ref))
            elif _is_named(ref.text) and ref.kind != "person" and (kind == "thing" or (kind == "org"
                                                                                        and ref.kind != "place")):
                scored.append((2, i, ref))  # entity types are read by a tagger: an org noun may fit a "thing"
        if not scored:
            return None
        return min(scored, key=lambda x: (x[0], x[1]))[2]

    def _new_wh(self, question: str, fragment: str, history: Sequence[Turn]) -> Resolution:
        """"When?", "In which year?", "By whom?": the previous question asked with this question phrase."""
        prev = history[-1]
        doc = _parse(prev.resolved)
        wh = _wh_phrase(doc)
        new = fragment.strip().rstrip("?").strip()
        new = new[:1].upper() + new[1:]
        if wh is None:
            return Resolution(question, fragment, ("the previous question's question word",))
        (start, end), head = wh
        rest_tokens = [t for t in doc if t.i >= end and not t.is_punct]
        if not rest_tokens:
            return Resolution(question, fragment, ("the previous question",))
        given = _answer_entity(self, prev.answer)
        answer = prev.answer.text if prev.answer.supported and len(prev.answer.text) < 80 else \
            (given[1] if given is not None else None)
        old = doc[start:end].text.lower()
        adverbial = head.dep_ in ("advmod", "npadvmod") or head.lower_ in ("when", "where", "why") \
            or (doc[start].dep_ == "prep" and not _stranded(doc))
        stranded = _stranded(doc)
        text_of = lambda toks: " ".join(t.text for t in toks).replace(" 's", "'s").replace(" '", "'")  # noqa: E731
        if stranded is not None and answer is not None:  # "Where did Ruth emigrate to?" -> "... to Canada?"
            before = doc[end:stranded.i + 1].text
            after = doc[stranded.i + 1:].text.rstrip(" ?")
            return Resolution(question, f"{new} {before} {_inline(answer)}{(' ' + after) if after else ''}?")
        if adverbial or answer is None:
            rest = doc[end:].text.rstrip(" ?")
            return Resolution(question, f"{new} {rest}?",
                              () if adverbial or not old else ("the answer to the previous question",))
        if stranded is not None:  # "Where did Ruth emigrate to?" "In which year?" -> "... emigrate to Canada?"
            before = doc[end:stranded.i + 1].text
            after = doc[stranded.i + 1:].text.rstrip(" ?")
            return Resolution(question, f"{new} {before} {_inline(answer)}{(' ' + after) if after else ''}?")
        if _wh_is_subject(doc, end):  # "Who founded X?" "When?" -> "When was X founded?"
            verb = doc[end]
            objs = [c for c in verb.children if c.dep_ == "dobj"]
            if verb.pos_ == "VERB" and verb.lower_ not in _AUXILIARIES and objs:
                obj = objs[0]
                obj_span = doc[obj.left_edge.i: obj.right_edge.i + 1]
                plural = obj.tag_ in ("NNS", "NNPS") and not obj_span.text[:1].isupper()
                past = verb.tag_ in ("VBD", "VBN")
                aux = ("were" if plural else "was") if past else ("are" if plural else "is")
                participle = _PARTICIPLES.get(verb.lower_, verb.text) if past else _participle(verb)
                tail = [t for t in doc if t.i > verb.i and not (obj.left_edge.i <= t.i <= obj.right_edge.i)
                        and not t.is_punct]
                particle = [t for t in tail if t.dep_ == "prt" and t.head == verb]
                tail = [t for t in tail if t not in particle]
                words = [new, aux, obj_span.text, participle, *(t.text for t in particle)]
                if tail:
                    words.append(text_of(tail))
                return Resolution(question, " ".join(w for w in words if w) + "?")
            rest = doc[end:].text.rstrip(" ?")
            return Resolution(question, f"{new} {rest}?")
        # the object: "Which company did Lumora buy in 2019?" "For how much?" -> "... buy Kestrel in 2019?"
        verb = next((t for t in doc[end + 1:] if t.pos_ == "VERB" and t.lower_ not in _AUXILIARIES), None)
        if verb is None:
            rest = doc[end:].text.rstrip(" ?")
            return Resolution(question, f"{new} {rest}?")
        at = verb
        nxt = doc[verb.i + 1] if verb.i + 1 < len(doc) else None
        if nxt is not None and (nxt.dep_ == "prt" or (nxt.pos_ == "ADP" and nxt.head == verb and not any(
                c.dep_ == "pobj" for c in nxt.children) and nxt.i + 1 < len(doc) and not doc[nxt.i + 1].is_punct)):
            at = nxt  # "hand over"
        before = doc[end:at.i + 1].text
        after = doc[at.i + 1:].text.rstrip(" ?")
        return Resolution(question, f"{new} {before} {_inline(answer)}{(' ' + after) if after else ''}?")

    def _new_entity(self, question: str, fragment: str, history: Sequence[Turn]) -> Resolution:
        """"And Orrin Verlag?", "What about her brother?": the previous question about this instead."""
        prev = history[-1]
        phrase, unresolved, used = self._references(fragment.strip().rstrip("?").strip(), history)
        phrase = _inline(phrase)
        prev_doc = _parse(prev.resolved)
        # "What about her brother?" after "Who is Fiona's father?": the phrase with the same possessor
        pos = re.match(r"^(.*?)(?:'s|')\s+(.+)$", phrase)
        if pos is not None:
            owner = pos.group(1)
            for tok in prev_doc:
                if tok.tag_ == "POS" and prev.resolved[: tok.idx].rstrip().lower().endswith(owner.lower()):
                    head = tok.head.head if tok.head.dep_ == "poss" else tok.head
                    start = tok.idx - len(owner)
                    end = head.idx + len(head.text)
                    if end > tok.idx:
                        return Resolution(question, prev.resolved[:start] + phrase + prev.resolved[end:],
                                          unresolved, used)
            span = _find(prev.resolved, owner)
            if span is not None:  # "Where does Joost live?" "What about his brother?"
                return Resolution(question, prev.resolved[:span[0]] + phrase + prev.resolved[span[1]:],
                                  unresolved, used)
        linked = self.reasoner.retriever.linker.link(phrase, limit=1)
        new_kind = self.kind(linked[0].entity_id, phrase) if linked else None
        targets = [r for r in prev.referents if r.role == "question" and _find(prev.resolved, r.text) is not None]
        same = [r for r in targets if r.kind == new_kind] or targets
        if not same:
            return Resolution(question, fragment, (*unresolved, "what the previous question asked about"), used)
        target = same[0]
        span = _find(prev.resolved, _strip_article(target.text))
        assert span is not None
        start, end = span
        new = _strip_article(phrase) if prev.resolved[:start].lower().endswith("the ") else phrase
        if start == 0:
            new = new[:1].upper() + new[1:]
        return Resolution(question, prev.resolved[:start] + new + prev.resolved[end:], unresolved, used)
