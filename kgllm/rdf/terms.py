"""RDF terms as plain Python values, and the N-Triples / N-Quads line syntax (read and written line by line).

An IRI is a ``str``, a blank node a :class:`Blank` (a ``str`` subclass holding its label) and a literal a
:class:`Lit` (lexical form, datatype IRI or ``None``, language tag or ``None``). These are much lighter than
rdflib's terms, which matters when a file has millions of lines; :func:`to_rdflib` / :func:`from_rdflib` convert.

Examples
--------
>>> parse_line('<http://x.org/a> <http://x.org/r> "caf\\\\u00E9"@fr .', "f.nt", 1)
('http://x.org/a', 'http://x.org/r', Lit(lex='café', datatype=None, lang='fr'), None)
>>> parse_line("# a comment", "f.nt", 2) is None
True
>>> format_quad("http://x.org/a", "http://x.org/r", Lit('say "hi"\\n'), "http://x.org/g")
'<http://x.org/a> <http://x.org/r> "say \\\\"hi\\\\"\\\\n" <http://x.org/g> .'
>>> parse_line("<a> <http://x.org/r> <http://x.org/b> .", "f.nt", 3)
Traceback (most recent call last):
...
kgllm.errors.InputError: f.nt:3: malformed N-Triples/N-Quads line: relative IRI <a> (expected an absolute IRI such as <http://example.org/a>)
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Union

from kgllm.errors import InputError

__all__ = ["Blank", "Lit", "Term", "Quad", "XSD", "RDF", "RDFS", "SKOS", "parse_line", "format_term", "format_quad",
           "to_rdflib", "from_rdflib", "is_iri"]

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"


class Blank(str):
    """A blank node, by its label (``Blank("b0")`` is ``_:b0``)."""

    __slots__ = ()


class Lit(NamedTuple):
    """A literal: lexical form, datatype IRI (``None`` for a plain string) and language tag (``None`` if none)."""

    lex: str
    datatype: str | None = None
    lang: str | None = None


Term = Union[str, Blank, Lit]
Quad = tuple[Term, str, Term, Union[str, Blank, None]]

_IRI = r'<([^\x00-\x20<>"{}|^`\\]*(?:\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})[^\x00-\x20<>"{}|^`\\]*)*)>'
_BNODE = r"_:([\w](?:[\w.\-]*[\w\-])?)"
_LIT = r'"([^"\\\n\r]*(?:\\.[^"\\\n\r]*)*)"(?:\^\^' + _IRI + r"|@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*))?"
_LINE = re.compile(
    r"[ \t]*(?:" + _IRI + "|" + _BNODE + r")[ \t]*" + _IRI + r"[ \t]*(?:" + _IRI + "|" + _BNODE + "|" + _LIT
    + r")[ \t]*(?:(?:" + _IRI + "|" + _BNODE + r")[ \t]*)?\.[ \t]*(?:#.*)?")
_ESCAPE = re.compile(r'\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([tbnrf"\'\\]))')
_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IRI_OK = re.compile(r'[^\x00-\x20<>"{}|^`\\]+')


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        if m.group(3):
            return _SIMPLE[m.group(3)]
        return chr(int(m.group(1) or m.group(2), 16))

    return _ESCAPE.sub(sub, text)


def is_iri(text: str) -> bool:
    """Whether ``text`` can be written as an absolute IRI (a scheme, no spaces or forbidden characters).

    >>> is_iri("https://example.org/a_b"), is_iri("a b"), is_iri("born in")
    (True, False, False)
    """
    return bool(_SCHEME.match(text)) and _IRI_OK.fullmatch(text) is not None


def _iri(raw: str, where: str, lineno: int) -> str:
    iri = _unescape(raw) if "\\" in raw else raw
    if not _SCHEME.match(iri):
        raise InputError(f"{where}:{lineno}: malformed N-Triples/N-Quads line: relative IRI <{iri}> "
                         "(expected an absolute IRI such as <http://example.org/a>)")
    return iri


def parse_line(line: str, where: str, lineno: int) -> Quad | None:
    """Parse one N-Triples or N-Quads line into ``(subject, predicate, object, graph or None)``.

    Blank lines and comments give ``None``. Anything else that is not one statement raises
    :class:`~kgllm.errors.InputError` naming ``where`` and ``lineno``.
    """
    m = _LINE.fullmatch(line.rstrip("\r\n"))
    if m is None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return None
        raise InputError(f"{where}:{lineno}: malformed N-Triples/N-Quads line (expected <subject> <predicate> "
                         f"object [graph] . ): {stripped[:120]!r}")
    g = m.groups()
    s: Term = _iri(g[0], where, lineno) if g[0] is not None else Blank(g[1])
    p = _iri(g[2], where, lineno)
    o: Term
    if g[3] is not None:
        o = _iri(g[3], where, lineno)
    elif g[4] is not None:
        o = Blank(g[4])
    else:
        if "\\" in g[5] and _ESCAPE.sub("", g[5]).count("\\"):
            raise InputError(f"{where}:{lineno}: malformed N-Triples/N-Quads line: bad escape in literal "
                             f"\"{g[5][:60]}\"")
        o = Lit(_unescape(g[5]), _iri(g[6], where, lineno) if g[6] is not None else None, g[7])
    graph: str | Blank | None = None
    if g[8] is not None:
        graph = _iri(g[8], where, lineno)
    elif g[9] is not None:
        graph = Blank(g[9])
    return s, p, o, graph


def _escape_lex(text: str) -> str:
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r"))


def format_term(term: Term) -> str:
    """A term as N-Triples writes it.

    >>> format_term(Lit("1984", XSD + "gYear")), format_term(Blank("b1"))
    ('"1984"^^<http://www.w3.org/2001/XMLSchema#gYear>', '_:b1')
    """
    if isinstance(term, Lit):
        text = f'"{_escape_lex(term.lex)}"'
        if term.lang:
            return f"{text}@{term.lang}"
        return f"{text}^^<{term.datatype}>" if term.datatype and term.datatype != XSD + "string" else text
    if isinstance(term, Blank):
        return f"_:{term}"
    return f"<{term}>"


def format_quad(s: Term, p: str, o: Term, g: str | Blank | None = None) -> str:
    """One N-Quads line (an N-Triples line when ``g`` is ``None``), without the newline."""
    if g is None:
        return f"{format_term(s)} <{p}> {format_term(o)} ."
    return f"{format_term(s)} <{p}> {format_term(o)} {format_term(g)} ."


def to_rdflib(term: Term | None) -> Any:
    """The rdflib term for ``term`` (``None`` stays ``None``)."""
    from rdflib import BNode, Literal, URIRef

    if term is None:
        return None
    if isinstance(term, Lit):
        return Literal(term.lex, lang=term.lang, datatype=URIRef(term.datatype) if term.datatype else None,
                       normalize=False)
    if isinstance(term, Blank):
        return BNode(str(term))
    return URIRef(term)


def from_rdflib(term: Any) -> Term | None:
    """The plain term for an rdflib term (a graph identifier that is the default graph gives ``None``)."""
    from rdflib import BNode, Literal

    if term is None:
        return None
    if isinstance(term, Literal):
        datatype = str(term.datatype) if term.datatype is not None else None
        return Lit(str(term), None if datatype == XSD + "string" else datatype, term.language or None)
    if isinstance(term, BNode):
        return Blank(str(term))
    text = str(term)
    return None if text == "urn:x-rdflib:default" else text
