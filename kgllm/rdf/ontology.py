"""RDFS/OWL ontologies (Turtle, RDF/XML, N-Triples) read as a schema: classes and properties.

:func:`read_ontology` returns plain data in the shape :meth:`kgllm.schema.Schema.from_json` reads, so
``Schema.from_file("ontology.ttl")`` (and ``kgllm build --schema ontology.ttl``) load ontologies:

* every ``owl:Class`` / ``rdfs:Class`` (and every class named as a domain, range or superclass) is an entity
  type, by its local name (``dbo:SpaceMission`` -> ``SpaceMission``);
* every ``rdf:Property``, ``owl:ObjectProperty``, ``owl:DatatypeProperty`` (and any property with a
  ``rdfs:domain``, ``rdfs:range`` or ``rdfs:subPropertyOf``) is a relation named by its local name, with its
  domain and range (a class's local name, or ``xsd:date`` style for datatypes; inherited from
  ``rdfs:subPropertyOf`` when missing) and a description from its ``rdfs:label`` (when it says more than the
  name) and ``rdfs:comment`` (English or untagged preferred).

Examples
--------
>>> ttl = '''@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
... @prefix owl: <http://www.w3.org/2002/07/owl#> .
... @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
... @prefix : <http://example.org/onto#> .
... :Person a owl:Class . :Place a owl:Class ; rdfs:comment "A location." .
... :birthPlace a owl:ObjectProperty ; rdfs:domain :Person ; rdfs:range :Place ;
...     rdfs:label "place of birth"@en ; rdfs:comment "Where the person was born."@en .
... :birthDate a owl:DatatypeProperty ; rdfs:domain :Person ; rdfs:range xsd:date .
... '''
>>> data = read_ontology(ttl, "onto.ttl")
>>> data["entity_types"]
['Person', 'Place']
>>> data["relations"][1]
{'name': 'birthPlace', 'description': 'place of birth; Where the person was born.', 'domain': 'Person', 'range': 'Place'}
>>> data["relations"][0]["range"]
'xsd:date'
"""

from __future__ import annotations

from typing import Any

from kgllm.errors import InputError
from kgllm.rdf.naming import local_name
from kgllm.rdf.terms import RDF, RDFS, XSD

__all__ = ["read_ontology", "looks_like_rdf"]

OWL = "http://www.w3.org/2002/07/owl#"
_CLASSES = (OWL + "Class", RDFS + "Class")
_PROPERTIES = (RDF + "Property", OWL + "ObjectProperty", OWL + "DatatypeProperty")
_NOT_TYPES = {OWL + "Thing", RDFS + "Resource", RDFS + "Literal", OWL + "Nothing"}


def looks_like_rdf(text: str) -> bool:
    """Whether a schema file's text is RDF (Turtle or RDF/XML), reading past leading ``#`` comments.

    >>> looks_like_rdf("# my ontology\\n@prefix owl: <http://www.w3.org/2002/07/owl#> ."), looks_like_rdf("[1]")
    (True, False)
    """
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip() and not line.lstrip().startswith("#")]
    head = "\n".join(lines[:5]).lstrip()[:400].lower()
    return head.startswith(("@prefix", "@base", "prefix ", "base ", "<?xml", "<rdf:", "<http")) or "<owl:" in head


def _format(text: str) -> str:
    head = text.lstrip("\ufeff").lstrip()
    return "xml" if head.startswith(("<?xml", "<rdf:", "<owl:")) else "turtle"


def _name(term: Any) -> str:
    text = str(term)
    return f"xsd:{text[len(XSD):]}" if text.startswith(XSD) else local_name(text)


def _text(graph: Any, node: Any, predicate: Any) -> str:
    """The English or untagged literal of ``predicate`` on ``node`` (else any), or ``""``."""
    values = sorted(graph.objects(node, predicate), key=lambda v: (getattr(v, "language", None) not in (None, "en"),
                                                                     str(v)))
    return " ".join(str(values[0]).split()) if values else ""


def _squash(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def read_ontology(text: str, where: str = "ontology") -> dict[str, Any]:
    """Classes and properties of an RDFS/OWL ontology as ``{"relations": [...], "entity_types": [...]}``.

    Relations are objects with ``name``, ``description``, ``domain`` and ``range``, sorted by name, as are
    the entity types.

    Raises
    ------
    InputError
        Malformed RDF, or no property to make a relation of, naming ``where``.
    """
    from rdflib import BNode, Graph, URIRef

    graph = Graph()
    try:
        graph.parse(data=text, format=_format(text))
    except Exception as exc:  # rdflib's parsers raise many types
        raise InputError(f"{where}: malformed RDF ontology ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]})") from None
    rdf_type, domain, range_ = URIRef(RDF + "type"), URIRef(RDFS + "domain"), URIRef(RDFS + "range")
    classes: set[Any] = set()
    for cls in _CLASSES:
        classes.update(graph.subjects(rdf_type, URIRef(cls)))
    classes.update(o for o in graph.objects(None, URIRef(RDFS + "subClassOf")))
    classes.update(s for s in graph.subjects(URIRef(RDFS + "subClassOf"), None))
    properties: set[Any] = set()
    for prop in _PROPERTIES:
        properties.update(graph.subjects(rdf_type, URIRef(prop)))
    properties.update(graph.subjects(domain, None))
    properties.update(graph.subjects(range_, None))
    properties.update(graph.subjects(URIRef(RDFS + "subPropertyOf"), None))
    for prop in properties:
        classes.update(o for o in graph.objects(prop, domain) if not str(o).startswith(XSD))
        classes.update(o for o in graph.objects(prop, range_) if not str(o).startswith(XSD))
    properties = {p for p in properties if isinstance(p, URIRef)}
    if not properties:
        raise InputError(f"{where}: no properties found (expected rdf:Property, owl:ObjectProperty or "
                         "owl:DatatypeProperty declarations to use as relations)")
    parent = URIRef(RDFS + "subPropertyOf")

    def first(prop: Any, predicate: Any, seen: frozenset = frozenset()) -> str | None:
        values = sorted(str(v) for v in graph.objects(prop, predicate) if not isinstance(v, BNode))
        if values:
            return _name(values[0])
        for up in graph.objects(prop, parent):
            if up not in seen:
                found = first(up, predicate, seen | {prop})
                if found:
                    return found
        return None

    relations = []
    for prop in properties:
        name = _name(prop)
        label = _text(graph, prop, URIRef(RDFS + "label"))
        comment = _text(graph, prop, URIRef(RDFS + "comment"))
        parts = [label] if label and _squash(label) != _squash(name) else []
        parts += [comment] if comment else []
        relations.append({"name": name, "description": "; ".join(parts), "domain": first(prop, domain),
                          "range": first(prop, range_)})
    relations.sort(key=lambda r: r["name"])
    types = sorted({_name(c) for c in classes if isinstance(c, URIRef) and str(c) not in _NOT_TYPES})
    return {"relations": relations, "entity_types": types}
