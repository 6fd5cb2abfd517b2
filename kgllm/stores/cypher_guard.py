"""Read-only Cypher, checked by parsing: a tokenizer and the clauses it refuses.

Both stores run user Cypher through :func:`check_read_only` before anything
else. The tokenizer knows string literals (single or double quotes, backslash
escapes), backtick identifiers, ``//`` and ``/* */`` comments and parameters, so
a keyword inside a string, an identifier or a property name (``a.set``) is not a
clause, while a keyword in any case or spacing (``dEtAcH\\n delete``) is. Refused:

* writing clauses: ``CREATE``, ``MERGE``, ``DELETE``, ``DETACH DELETE``, ``SET``,
  ``REMOVE``, ``DROP``, ``INSERT``, ``FOREACH``, ``LOAD CSV``, ``USE``;
* ``CALL`` of any procedure but the read ones of :data:`READ_PROCEDURES`, calls of
  plugin routines (``apoc.*``, ``gds.*``, which can write or run Cypher), and
  ``CALL { ... } IN TRANSACTIONS`` (a read-only ``CALL { ... }`` subquery is fine);
* administration commands (``ALTER``, ``GRANT``, ``START DATABASE``, ...) and more
  than one statement;
* a comment glued inside a word (``CRE/**/ATE``), which no reader of the query would see.

Examples
--------
>>> from kgllm.stores.cypher_guard import check_read_only
>>> check_read_only('MATCH (a) WHERE a.name = "Set Delete" RETURN a.set')
>>> check_read_only("match (a) /* tidy up */ detach\\n  DELETE a")
Traceback (most recent call last):
...
kgllm.errors.InputError: only read-only Cypher is allowed: DETACH DELETE (a write clause) at line 1, column 25 of 'match (a) /* tidy up */ detach\\n  DELETE a'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

from kgllm.errors import InputError

__all__ = ["Token", "tokenize", "check_read_only", "bind_params", "READ_PROCEDURES"]

READ_PROCEDURES = frozenset({"db.labels", "db.relationshiptypes", "db.propertykeys", "db.index.fulltext.querynodes"})
"""Procedures a read-only query may ``CALL`` (compared case-insensitively)."""

_WRITES = {"CREATE", "MERGE", "DELETE", "SET", "REMOVE", "DROP", "INSERT", "FOREACH", "USE"}
_ADMIN = {"ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "START", "STOP", "TERMINATE", "ENABLE", "DEALLOCATE",
          "REALLOCATE"}
_PLUGINS = {"apoc", "gds"}

_LEXER = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<quoted>`(?:[^`]|``)*`)
  | (?P<param>\$(?:[^\W\d]\w*|\d+|`(?:[^`]|``)*`))
  | (?P<word>[^\W\d]\w*)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<symbol>.)
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical unit: ``kind`` is space, comment, string, quoted (backtick identifier), param, word,
    number or symbol; ``start`` its offset in the query."""

    kind: str
    text: str
    start: int


def _where(cypher: str, offset: int) -> str:
    line = cypher.count("\n", 0, offset) + 1
    column = offset - (cypher.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def tokenize(cypher: str) -> Iterator[Token]:
    """Split ``cypher`` into tokens that cover it exactly (their texts join to the query).

    Raises
    ------
    InputError
        A string literal, backtick identifier or ``/*`` comment is not closed.

    Examples
    --------
    >>> [(t.kind, t.text) for t in tokenize("RETURN 'a//b' // note") if t.kind != "space"]
    [('word', 'RETURN'), ('string', "'a//b'"), ('comment', '// note')]
    """
    pos = 0
    while pos < len(cypher):
        match = _LEXER.match(cypher, pos)
        assert match is not None and match.lastgroup is not None  # the symbol branch matches any character
        kind, text = match.lastgroup, match.group()
        if kind == "symbol" and text in "'\"`" or cypher.startswith("/*", pos) and kind != "comment":
            what = {"'": "string literal", '"': "string literal", "`": "backtick identifier"}.get(text, "/* comment")
            raise InputError(f"Cypher: unclosed {what} at {_where(cypher, pos)} of {cypher!r}")
        yield Token(kind, text, pos)
        pos = match.end()


def _refuse(cypher: str, token: Token, clause: str, why: str) -> InputError:
    return InputError(f"only read-only Cypher is allowed: {clause} ({why}) at {_where(cypher, token.start)} "
                      f"of {cypher!r}")


def _dotted(sig: list[Token], i: int) -> tuple[str, int]:
    """The dotted name starting at ``sig[i]`` (``db.index.fulltext.queryNodes``) and the index after it."""
    parts = [sig[i].text.strip("`")]
    j = i + 1
    while j + 1 < len(sig) and sig[j].text == "." and sig[j + 1].kind in ("word", "quoted"):
        parts.append(sig[j + 1].text.strip("`"))
        j += 2
    return ".".join(parts), j


def check_read_only(cypher: str) -> None:
    """Raise :class:`~kgllm.errors.InputError` naming the refused clause if ``cypher`` may write.

    See the module documentation for what is refused. A query that passes may
    still be invalid Cypher: the store reports that when it runs it.

    Parameters
    ----------
    cypher : str
        One Cypher statement.

    Raises
    ------
    InputError
        The query writes, calls a procedure outside :data:`READ_PROCEDURES`, holds
        several statements, or cannot be tokenized.
    """
    tokens = list(tokenize(cypher))
    for k, tok in enumerate(tokens):
        if tok.kind == "comment" and 0 < k < len(tokens) - 1 \
                and tokens[k - 1].kind in ("word", "number") and tokens[k + 1].kind in ("word", "number"):
            raise _refuse(cypher, tok, f"the comment in {tokens[k - 1].text}{tok.text}{tokens[k + 1].text}",
                          "a comment inside a word")
    sig = [t for t in tokens if t.kind not in ("space", "comment")]
    for i, tok in enumerate(sig):
        prev = sig[i - 1] if i else None
        nxt = sig[i + 1] if i + 1 < len(sig) else None
        if tok.text == ";" and any(t.text != ";" for t in sig[i + 1:]):
            raise _refuse(cypher, tok, "a second statement", "one statement per query")
        if tok.kind != "word":
            continue
        if prev is not None and (prev.text in (".", ":") or prev.kind == "word" and prev.text.upper() == "AS"):
            continue  # property key, label, relationship type or alias
        if nxt is not None and nxt.text == ":" and prev is not None and prev.text in ("{", ","):
            continue  # key of a map literal
        word = tok.text.upper()
        if word == "DETACH":
            raise _refuse(cypher, tok, "DETACH DELETE", "a write clause")
        if word == "LOAD":
            raise _refuse(cypher, tok, "LOAD CSV", "reads files or URLs into the query")
        if word in _WRITES:
            raise _refuse(cypher, tok, word, "a write clause")
        if word in _ADMIN and (prev is None or prev.text == ";"):
            raise _refuse(cypher, tok, word, "an administration command")
        if word == "TRANSACTIONS" and prev is not None and prev.text.upper() == "IN":
            raise _refuse(cypher, tok, "CALL { ... } IN TRANSACTIONS", "commits batches of writes")
        if word == "CALL" and nxt is not None and nxt.kind in ("word", "quoted"):
            name, _ = _dotted(sig, i + 1)
            if name.lower() not in READ_PROCEDURES:
                raise _refuse(cypher, tok, f"CALL {name}", "only the read procedures "
                              + ", ".join(sorted(READ_PROCEDURES)) + " may be called")
        if tok.text.lower() in _PLUGINS and nxt is not None and nxt.text == ".":
            name, j = _dotted(sig, i)
            if j < len(sig) and sig[j].text == "(":
                raise _refuse(cypher, tok, name, "plugin routines can write or run other Cypher")


def _literal(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # ASCII escapes would split astral characters
    raise InputError(f"Cypher parameter ${name} must be a string, number or bool, got {type(value).__name__}")


def bind_params(cypher: str, params: dict[str, Any]) -> str:
    """Substitute ``$name`` parameters as literals, for engines without parameters (grand-cypher).

    ``$name`` inside a string literal is text; single-quoted literals are rewritten
    double-quoted and comments become a space.

    Raises
    ------
    InputError
        A parameter is missing or not a string, number or bool.

    Examples
    --------
    >>> bind_params("MATCH (a) WHERE a.name = $n OR a.id = 'cost $n' RETURN a // note", {"n": "Ada"})
    'MATCH (a) WHERE a.name = "Ada" OR a.id = "cost $n" RETURN a  '
    """
    out = []
    for tok in tokenize(cypher):
        if tok.kind == "param":
            name = tok.text[1:].strip("`")
            if name not in params:
                raise InputError(f"Cypher parameter ${name} was not given")
            out.append(_literal(name, params[name]))
        elif tok.kind == "comment":
            out.append(" ")
        elif tok.kind == "string" and tok.text[0] == "'":
            # 'It\'s "x"' -> "It\'s \"x\"": escape bare double quotes, keep other escapes.
            body = re.sub(r'\\.|"', lambda m: '\\"' if m.group() == '"' else m.group(), tok.text[1:-1])
            out.append(f'"{body}"')
        else:
            out.append(tok.text)
    return "".join(out)
