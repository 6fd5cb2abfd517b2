"""Who does what to whom: the arguments of a predicate word in a parsed sentence, and the roles a question asks.

A sentence supports an answer only when the question's entity and the answer are arguments of
the word that states the relation, in the roles the question gives them: "When was X founded?"
is not answered by "X's owner was founded in 1990" (X only owns the subject) and "Who founded
X?" not by "X founded Y" (the roles are swapped). Roles:

* ``agent`` -- the doer: subject of an active verb, or "by Y" of a passive one;
* ``patient`` -- object of an active verb, or subject of a passive one (a participle modifying a
  noun, "a company founded in 1994", has that noun as its patient);
* ``owner`` -- whose relational noun it is ("X's director", "the director of X", "its director");
* ``value`` -- what a relational noun is ("its director is Y", "Y, its director", "director Y");
* ``subject`` -- the subject of an adjective or preposition ("X is married to", "X is from");
* ``prep:P`` -- the object of preposition P attached to the predicate ("in 1994", "to Y");
* ``mod`` -- a bare modifier of it (a date or a quantity: "born 2 May 1961", "23 kilometres long").

Roles pass through coordination, apposition and compound names. Clause subjects are inherited
by coordinated verbs, relative clauses and participles (as :mod:`kgllm.extract.coref` reads them).

Examples
--------
>>> from kgllm.reason.analysis import parse
>>> doc = parse("Alpenhof Bikes is a firm started in 2003 by Ines Kobal and Rui Sola.")
>>> roles = arguments(doc[5])  # "started"
>>> sorted((doc[i].text, r) for i, r in roles.items())
[('2003', 'prep:in'), ('Alpenhof', 'patient'), ('Bikes', 'patient'), ('Ines', 'agent'), ('Kobal', 'agent'), ('Rui', 'agent'), ('Sola', 'agent'), ('firm', 'patient')]
>>> question_roles(parse("Who started Alpenhof Bikes?"), 1, {2, 3})
('patient', 'agent')
>>> question_roles(parse("When was Alpenhof Bikes started?"), 4, {2, 3})
('patient', '')
"""

from __future__ import annotations

from typing import Any

__all__ = ["arguments", "question_roles", "compatible", "role_of", "distance"]

_VERBAL = frozenset({"VERB", "AUX"})
_SUBJ = frozenset({"nsubj", "nsubjpass", "csubj", "csubjpass"})
_COPULAS = frozenset({"be", "become", "remain"})
_RELATIVE = frozenset({"that", "which", "who", "whom"})
_EXPAND = frozenset({"conj", "appos"})


def _passive(pred: Any) -> bool:
    if any(c.dep_ in ("auxpass", "nsubjpass") for c in pred.children):
        return True
    if pred.tag_ != "VBN" or any(c.dep_ in _SUBJ for c in pred.children):
        return False
    if pred.dep_ in ("acl", "relcl") or any(c.dep_ == "agent" for c in pred.children):
        return True
    # "It was commissioned by A and designed by B": a participle coordinated with a passive verb
    return pred.dep_ == "conj" and pred.head.pos_ in _VERBAL and _passive(pred.head)


def _subjects(pred: Any) -> list[Any]:
    """Subject tokens of a verb: its own, or inherited (coordination, complements, relative clauses)."""
    node = pred
    for _ in range(8):
        own = [c for c in node.children if c.dep_ in _SUBJ]
        if own:
            return own
        if node.dep_ in ("relcl", "acl") and node.head.pos_ in ("NOUN", "PROPN", "PRON", "NUM"):
            head = node.head
            out = [head]
            if head.dep_ in ("attr", "oprd") and head.head.lemma_.lower() in _COPULAS:
                out += [c for c in head.head.children if c.dep_ in _SUBJ]  # "X is a company founded ..."
            return out
        if node.dep_ in ("conj", "xcomp", "advcl") and node.head.i != node.i:
            node = node.head
        else:
            return []
    return []


def arguments(pred: Any) -> dict[int, str]:
    """Token index -> role, for the arguments of the predicate word ``pred`` (see the module docstring)."""
    roles: dict[int, str] = {}

    def put(tok: Any, role: str) -> None:
        if tok.lower_ in _RELATIVE and tok.head.dep_ in ("relcl", "acl"):
            tok = tok.head.head  # "the book that X wrote": the book
        if tok.i in roles or tok.i == pred.i:
            return
        roles[tok.i] = role
        for c in tok.children:
            if c.dep_ in _EXPAND or (c.dep_ == "compound" and c.pos_ == "PROPN"):
                put(c, role)
        if tok.dep_ == "compound" and tok.head.pos_ == "PROPN":
            put(tok.head, role)
        if role.startswith("prep:") and tok.pos_ == "NOUN":  # "on the outskirts of X", "in the north of X"
            for c in tok.children:
                if c.dep_ == "prep" and c.lower_ == "of":
                    for o in c.children:
                        if o.dep_ == "pobj":
                            put(o, role)

    def preps(node: Any) -> None:
        for c in node.children:
            if c.dep_ == "agent":
                for o in c.children:
                    if o.dep_ == "pobj":
                        put(o, "agent")
            elif c.dep_ == "prep":
                for o in c.children:
                    if o.dep_ == "pobj":
                        put(o, f"prep:{c.lower_}")
                        if o.pos_ == "NOUN":  # "trained as a nurse in Plymouth": where the nurse trained
                            for p in o.children:
                                if p.dep_ == "prep" and p.lower_ != "of":
                                    for q in p.children:
                                        if q.dep_ == "pobj":
                                            put(q, f"prep:{p.lower_}")
            elif c.dep_ in ("npadvmod", "nummod", "tmod", "advmod") and c.pos_ in ("NUM", "NOUN", "PROPN"):
                put(c, "mod")

    if pred.pos_ == "ADP":
        for o in pred.children:
            if o.dep_ == "pobj":
                put(o, f"prep:{pred.lower_}")
        owner = pred.head
        if owner.pos_ in _VERBAL:
            for s in _subjects(owner):
                put(s, "subject")
        elif owner.pos_ in ("NOUN", "PROPN"):
            put(owner, "subject")
            if owner.dep_ in ("attr", "oprd"):
                for s in _subjects(owner.head):
                    put(s, "subject")
            if owner.dep_ == "appos":  # "X, a chemist from Cork,"
                put(owner.head, "subject")
        return roles
    if pred.pos_ in _VERBAL or pred.tag_ == "VBN":
        passive = _passive(pred)
        for s in _subjects(pred):
            put(s, "patient" if passive else "agent")
        for c in pred.children:
            if c.dep_ in ("dobj", "dative"):
                put(c, "patient")
                if c.dep_ == "dobj" and c.pos_ == "NOUN":
                    preps(c)  # "runs a bakery in X", "opened a factory in Y": where the object is, the act is
            elif c.dep_ in ("attr", "oprd", "acomp"):
                put(c, "value")
        preps(pred)
        if pred.dep_ == "conj":  # "Eight years later he gave up X and became Y": the date is both verbs'
            for c in pred.head.children:
                if c.dep_ in ("npadvmod", "prep") and any(t.ent_type_ == "DATE" for t in c.subtree):
                    for t in ([c] if c.dep_ == "npadvmod" else [o for o in c.children if o.dep_ == "pobj"]):
                        put(t, "mod" if c.dep_ == "npadvmod" else f"prep:{c.lower_}")
        return roles
    if pred.pos_ == "ADJ":  # "X is married to Y", "X is 23 kilometres long"
        head = pred.head
        if head.pos_ in _VERBAL:
            for s in _subjects(head):
                put(s, "subject")
        preps(pred)
        return roles
    # a relational noun: "X's director", "the director of X", "its director is Y"
    for c in pred.children:
        if c.dep_ == "poss":
            put(c, "owner")
        elif c.dep_ == "prep" and c.lower_ == "of":
            for o in c.children:
                if o.dep_ == "pobj":
                    put(o, "owner")
        elif c.dep_ == "appos":
            put(c, "value")
        elif c.dep_ == "compound" and c.pos_ == "PROPN":
            put(c, "owner")  # "the Brackwater United manager"
    if pred.dep_ == "appos":
        put(pred.head, "value")
    if pred.dep_ == "compound" and pred.head.pos_ == "PROPN":
        put(pred.head, "value")
    head = pred.head
    if head.lemma_.lower() in _COPULAS or (pred.dep_ == "oprd" and head.pos_ in _VERBAL):
        if pred.dep_ in _SUBJ:
            for c in head.children:
                if c.dep_ in ("attr", "oprd", "acomp") and c.i != pred.i:
                    put(c, "value")
            preps(head)  # "its headquarters are in X"
        elif pred.dep_ in ("attr", "oprd"):
            for s in _subjects(head):
                put(s, "value")
    else:
        verb = head if pred.dep_ == "dobj" else head.head if pred.dep_ == "pobj" and head.dep_ == "prep" else None
        if verb is not None and verb.pos_ in _VERBAL:
            for s in _subjects(verb):
                put(s, "agent")  # "X directed the restoration of Y", "X went on sale in 2023": X does it
            preps(verb)  # "completed her doctorate at Y", "went on sale in 2023"
    preps(pred)
    roles.pop(pred.i, None)
    return roles


def role_of(tokens: Any, roles: dict[int, str]) -> str:
    """The role of the first of ``tokens`` (indices) that has one, else ``""``."""
    return next((roles[i] for i in tokens if i in roles), "")


_AUX_DO = frozenset({"do", "does", "did"})
_AUX_BE = frozenset({"is", "are", "was", "were", "been", "be"})
_AUX_HAVE = frozenset({"has", "have", "had"})
_WH = frozenset({"who", "whom", "what", "which", "when", "where", "how", "whose"})


def question_roles(doc: Any, pred: int, entity: set[int]) -> tuple[str, str]:
    """The roles a question gives its entity and its question word around predicate token ``pred``.

    Read from word order and tags, which hold up better than a parse of a question: "Who
    founded X?" (the question word does, X is done to), "When was X founded?" (X is done to),
    "What did X found?" (X does), "Who was X founded by?", "Who is X's brother?" (X owns the
    relation), "Who is X married to?" (X is the subject of an adjective), "When was X's stand
    built?" (X owns what was done to: ``poss``). The question word has a role only as *who*,
    *whom*, *what* or *which* not after a preposition. ``""`` where the order says nothing.
    """
    if pred < 0 or not entity:
        return "", ""
    tok = doc[pred]
    toks = [t.lower_ for t in doc]
    ent_first, ent_last = min(entity), max(entity)
    wh = next((t.i for t in doc if t.lower_ in _WH), -1)
    asks_thing = wh >= 0 and toks[wh] in ("who", "whom", "what", "which") and not (wh > 0 and doc[wh - 1].pos_ == "ADP")
    stranded_by = len(toks) > 1 and toks[-1] == "by" or (len(toks) > 2 and toks[-2] == "by" and toks[-1] == "?")
    stranded = pred + 1 < len(doc) and doc[pred + 1].pos_ == "ADP" and all(
        t.is_punct for t in doc[pred + 2:])  # "married to?", "based in?"
    aux_do = any(t in _AUX_DO for t in toks[:ent_first])
    # the entity owns a noun between it and the predicate: "X's east stand", "the facade of X"
    owned = any(i + 1 < len(doc) and doc[i + 1].tag_ == "POS" and i + 2 < pred for i in entity) or any(
        doc[i].head.lower_ == "of" and doc[i].head.head.i != pred and doc[i].head.head.pos_ == "NOUN" for i in entity)
    if tok.pos_ in ("NOUN",) and tok.tag_ not in ("VBN",) and not (aux_do and pred > ent_last):
        owns = any(doc[i].dep_ == "poss" or (doc[i].head.lower_ == "of" and doc[i].head.head.i == pred)
                   or (i + 1 < len(doc) and doc[i + 1].tag_ == "POS") for i in entity)
        return ("owner" if owns else ""), ("value" if asks_thing and wh < pred else "")
    if tok.pos_ == "ADP" or tok.pos_ == "ADJ" and tok.tag_ != "VBN":
        return "subject", ""
    if owned:
        role = "poss"
    elif ent_first > pred:  # "Who founded X?", "Which company bought X?"
        between = toks[wh + 1:pred] if wh >= 0 else []
        passive = bool(set(between) & _AUX_BE) and tok.tag_ == "VBN"
        return ("agent" if passive else "patient"), (("patient" if passive else "agent") if asks_thing else "")
    else:
        role = ""
    aux = [t for t in toks[:ent_first] if t in _AUX_DO | _AUX_BE | _AUX_HAVE]
    if ent_last < pred and aux:
        if aux[-1] in _AUX_DO or aux[-1] in _AUX_HAVE:
            return role or "agent", ("patient" if asks_thing else "")
        if aux[-1] in _AUX_BE:
            if stranded:
                return role or "subject", ""
            if tok.tag_ in ("VBN", "VBD") and tok.lemma_.lower() not in _COPULAS:
                return role or "patient", ("agent" if stranded_by else "")
            return role or "subject", ""
    return role, ""


def compatible(asked: str, found: str) -> bool:
    """Whether a role found in a sentence is the one a question asks (``""`` on either side: no constraint).

    >>> compatible("agent", "agent"), compatible("agent", "patient"), compatible("subject", "patient")
    (True, False, True)
    >>> compatible("patient", "owner")  # "where is X headquartered" / "X's headquarters are in ..."
    True
    """
    if not asked or not found or asked == found:
        return True
    if asked == "value":  # "Who is X's wife?": whatever role the sentence gives the answer ("married to Y")
        return True
    if {asked, found} == {"agent", "value"}:  # "Who maintains X?" / "Y is the maintainer of X"
        return True
    if "owner" in (asked, found):  # "X's headquarters" for "where is X headquartered": a verb read as a noun
        return {asked, found} <= {"owner", "agent", "patient", "subject", "value"}
    if asked == "subject":
        return found in ("agent", "patient", "value", "owner")
    if found == "subject":
        return asked in ("agent", "patient")
    return False


def _ancestors(tok: Any) -> list[Any]:
    chain = [tok]
    while chain[-1].head.i != chain[-1].i and len(chain) < 60:
        chain.append(chain[-1].head)
    return chain


def distance(a: Any, b: Any) -> int:
    """Edges between two tokens in the dependency tree."""
    if a.i == b.i:
        return 0
    up_a = _ancestors(a)
    pos_a = {t.i: n for n, t in enumerate(up_a)}
    for n, t in enumerate(_ancestors(b)):
        if t.i in pos_a:
            return pos_a[t.i] + n
    return 99
