"""RDF interoperability (rdflib): export, import, SPARQL and RDFS/OWL ontologies.

* :mod:`kgllm.rdf.export`: any store to Turtle, N-Triples, JSON-LD, TriG, N-Quads (provenance as named graphs);
* :mod:`kgllm.rdf.importer`: RDF files into any store, N-Triples/N-Quads streamed, validated before writing;
* :mod:`kgllm.rdf.sparql`: read-only SPARQL (SELECT, ASK, CONSTRUCT, DESCRIBE) over a store or an RDF file;
* :mod:`kgllm.rdf.ontology`: RDFS/OWL classes and properties as a schema's entity types and relations;
* :mod:`kgllm.rdf.naming` / :mod:`kgllm.rdf.terms`: IRIs, the kgllm vocabulary, the N-Triples line syntax.

Examples
--------
>>> import tempfile, pathlib
>>> from kgllm.rdf import export_rdf, import_rdf
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta, Provenance
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso", 0.8, (Provenance("d1", 0, 0, 9),))]))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "g.trig"
>>> export_rdf(store, path) > 0
True
>>> copy = MemoryStore()
>>> _ = import_rdf(copy, path)
>>> list(copy.facts()) == list(store.facts())
True
"""

from kgllm.rdf.export import export_rdf
from kgllm.rdf.importer import ImportReport, import_rdf
from kgllm.rdf.naming import DEFAULT_BASE, KG, Namespace

__all__ = ["export_rdf", "import_rdf", "ImportReport", "Namespace", "DEFAULT_BASE", "KG"]
