"""RDF export and import (kgllm.rdf): exact round trips in every format, foreign RDF, malformed input, batching."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, strategies as st

from kgllm.errors import InputError, NotFoundError
from kgllm.loaders import read_kb_tsv
from kgllm.rdf import export_rdf, import_rdf
from kgllm.rdf.export import FORMATS
from kgllm.rdf.terms import Lit, format_quad, parse_line
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Merge, Provenance

ALL = sorted(FORMATS)


def canonical(store) -> tuple:
    """The graph as comparable data: entities (aliases as a set), facts with confidence and provenance sets."""
    entities = sorted((e.id, e.name, e.type, tuple(sorted(e.aliases))) for e in store.entities())
    facts = sorted((f.subject, f.relation, f.object, f.confidence,
                    tuple(sorted(tuple(sorted(p.to_dict().items())) for p in f.provenance)))
                   for f in store.facts())
    return entities, facts


def small_graph() -> MemoryStore:
    """Every kind of thing a graph holds: types, aliases, dates, numbers, confidences, sources, merges."""
    p1 = Provenance("notes/harbour log.txt", 0, 0, 41, "rules", 'Captain Ines Varga sailed the "Morning Gull".')
    p2 = Provenance("notes/harbour log.txt", 3, 120, 160, "rules", "The Morning Gull was launched in 1998.")
    p3 = Provenance("crew_list", 1, -1, -1, "tsv", "ines varga\tage\t42")
    store = MemoryStore()
    store.upsert(GraphDelta(
        entities=[Entity("ines varga", "Ines Varga", "PERSON", ("Captain Varga", "I. Varga")),
                  Entity("morning gull", "Morning Gull", "PRODUCT"),
                  Entity("1998", "1998", "DATE"), Entity("42", "42", "CARDINAL"),
                  Entity("2001-05-17", "2001-05-17", "DATE"),
                  Entity("kestrel bay", "Kestrel Bay", "GPE", ("http://example.org/geo/Kestrel_Bay",)),
                  Entity("kestrel pier", "Kestrel Pier", "FAC", ("http://example.org/geo/Kestrel_Bay",)),  # same IRI
                  Entity("lonely buoy", "Lonely Buoy", "", ()),  # no facts at all
                  Entity("v. 2_b", "V. 2_b", "", ()),            # an id with characters IRIs escape
                  Entity("3 harbours", "3 harbours", "CARDINAL")],  # a number-like name that is not a number
        facts=[Fact("ines varga", "sailed", "morning gull", 0.7, (p1,)),
               Fact("morning gull", "launched_in", "1998", 0.65, (p2,)),
               Fact("ines varga", "age", "42", 1.0, (p3,)),
               Fact("ines varga", "born_on", "2001-05-17"),
               Fact("morning gull", "home port", "kestrel bay", 0.9, (p1, p2)),
               Fact("v. 2_b", "moored_at", "kestrel bay", 0.5, (p3,)),
               Fact("ines varga", "visited", "3 harbours")]))
    store.upsert(GraphDelta(facts=[Fact("varga", "captain_of", "morning gull", 0.8, (p1,))]))
    store.upsert(GraphDelta(merges=[Merge("varga", "ines varga", "alias", 0.9, "notes/harbour log.txt")]))
    return store


@pytest.mark.parametrize("fmt", ALL)
def test_round_trip_is_exact_in_every_format(tmp_path, fmt):
    store = small_graph()
    path = tmp_path / f"g.{fmt}"
    export_rdf(store, path)
    copy = MemoryStore()
    report = import_rdf(copy, path)
    assert canonical(copy) == canonical(store)
    assert report.merges_not_applied == 1 and report.ignored == {}
    kestrel = copy.get_entity("kestrel bay")
    assert kestrel is not None and "http://example.org/geo/Kestrel_Bay" in kestrel.aliases


def test_export_writes_the_documented_shapes(tmp_path):
    path = tmp_path / "g.nq"
    export_rdf(small_graph(), path, base="http://example.org/kg/")
    text = path.read_text(encoding="utf-8")
    assert '<http://example.org/kg/entity/ines_varga> <http://www.w3.org/2000/01/rdf-schema#label> "Ines Varga" .' \
        in text
    assert '<http://www.w3.org/2004/02/skos/core#altLabel> "Captain Varga" .' in text
    assert "<http://example.org/kg/entity/ines_varga> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
           "<http://example.org/kg/type/PERSON> ." in text
    # dates and numbers that are only objects are typed literals; a fact with sources sits in their graphs
    assert ('<http://example.org/kg/entity/morning_gull> <http://example.org/kg/relation/launched_in> '
            '"1998"^^<http://www.w3.org/2001/XMLSchema#gYear> <http://example.org/kg/doc/notes%2Fharbour%20log.txt> .'
            ) in text
    assert '"42"^^<http://www.w3.org/2001/XMLSchema#integer>' in text
    assert '"2001-05-17"^^<http://www.w3.org/2001/XMLSchema#date> .' in text  # no source: default graph
    assert "<http://example.org/kg/entity/3_harbours>" in text  # not a canonical number: stays a node
    assert "<http://example.org/geo/Kestrel_Bay> <https://kgllm.example/vocab#key> \"kestrel bay\" ." in text
    assert "<https://kgllm.example/vocab#sentence> \"The Morning Gull was launched in 1998.\"" in text


def test_import_reads_the_base_from_the_file_or_takes_it_given(tmp_path):
    store = small_graph()
    path = tmp_path / "g.nt"
    export_rdf(store, path, base="http://example.org/kg#")
    same = MemoryStore()
    import_rdf(same, path)
    assert canonical(same) == canonical(store)
    other = MemoryStore()
    import_rdf(other, path, base="http://elsewhere.example/")  # kgllm's IRIs read as foreign ones
    ines = other.get_entity("ines varga")
    assert ines is not None and "http://example.org/kg#entity/ines_varga" in ines.aliases


def test_round_trip_of_a_kgqa_knowledge_base(tmp_path, shared_data):
    """The whole PQ-3H knowledge base (read from the shared data) through N-Quads, a part of it through the rest."""
    store = MemoryStore()
    store.upsert(read_kb_tsv(shared_data / "kgqa" / "PQ-3H-kb.tsv"))
    assert store.stats()["facts"] > 2000
    path = tmp_path / "kb.nq"
    export_rdf(store, path)
    copy = MemoryStore()
    import_rdf(copy, path)
    assert canonical(copy) == canonical(store)
    part = MemoryStore()
    part.upsert(GraphDelta(facts=list(itertools.islice(store.facts(), 150))))
    for fmt in ("ttl", "trig", "jsonld", "nt.gz"):
        path = tmp_path / f"kb.{fmt}"
        export_rdf(part, path)
        copy = MemoryStore()
        import_rdf(copy, path)
        assert canonical(copy) == canonical(part), fmt


FOREIGN = """\
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://example.org/res/> .
@prefix exo: <http://example.org/onto#> .
@prefix other: <http://other.example/id/> .
ex:Q7 rdfs:label "Tarn Vale"@de, "Tarn Vale Town"@en ; skos:altLabel "the Vale" ;
    a exo:Town, exo:Settlement ; exo:population "1250"^^xsd:integer ; exo:founded "1871"^^xsd:gYear ;
    exo:motto "Slow and steady"@en .
ex:Mira_Holt exo:livesIn ex:Q7 ; exo:friendOf _:someone .
other:Mira_Holt exo:sameNameAs ex:Mira_Holt .
"""


def test_foreign_rdf_becomes_readable_entities(tmp_path):
    path = tmp_path / "foreign.ttl"
    path.write_text(FOREIGN, encoding="utf-8")
    store = MemoryStore()
    report = import_rdf(store, path)
    town = store.get_entity("tarn vale town")
    assert town is not None
    assert town.name == "Tarn Vale Town" and town.type == "Town"  # English label preferred, first type
    assert set(town.aliases) == {"Tarn Vale", "the Vale", "http://example.org/res/Q7"}
    lines = sorted(f.as_line() for f in store.facts())
    assert "tarn vale town --is_a--> settlement" in lines  # a second type
    assert "tarn vale town --population--> 1250" in lines and "tarn vale town --founded--> 1871" in lines
    assert store.get_entity("1250").type == "CARDINAL" and store.get_entity("1871").type == "DATE"
    assert store.get_entity("slow and steady").name == "Slow and steady"
    assert "mira holt --livesIn--> tarn vale town" in lines
    # two IRIs with one local name stay two entities; the later one's id names its IRI
    assert "mira holt (http://other.example/id/Mira_Holt) --sameNameAs--> mira holt" in lines
    assert any(line.startswith("mira holt --friendOf--> blank node") for line in lines)
    assert report.statements == 11


def test_named_graphs_of_other_tools_are_source_documents(tmp_path):
    path = tmp_path / "q.nq"
    path.write_text("<http://x.org/a> <http://x.org/knows> <http://x.org/b> <http://x.org/graphs/letters> .\n"
                    "<http://x.org/a> <http://x.org/knows> <http://x.org/b> <http://x.org/graphs/diary> .\n"
                    "<http://x.org/b> <http://x.org/knows> <http://x.org/c> .\n", encoding="utf-8")
    store = MemoryStore()
    import_rdf(store, path)
    facts = {f.as_line(): sorted(p.doc_id for p in f.provenance) for f in store.facts()}
    assert facts == {"a --knows--> b": ["http://x.org/graphs/diary", "http://x.org/graphs/letters"],
                     "b --knows--> c": []}


BAD = [
    ("bad.nt", '<http://x.org/a> <http://x.org/r> "open string .\n', ":2: malformed N-Triples"),
    ("bad.nt", "<a> <http://x.org/r> <http://x.org/b> .\n", ":2: malformed N-Triples/N-Quads line: relative IRI"),
    ("bad.nt", "<http://x.org/a> <http://x.org/r> <http://x.org/b> <http://x.org/g> .\n", ":2: a graph name in an"),
    ("bad.nt", '<http://x.org/a> <http://x.org/r> "bad \\q escape" .\n', ":2: malformed N-Triples/N-Quads line: bad"),
    ("bad.nq", '<http://x.org/s1> <https://kgllm.example/vocab#document> <http://x.org/d> .\n',
     ":2: statement node http://x.org/s1 has no rdf:subject, rdf:predicate, rdf:object"),
    ("bad.nq", '<http://x.org/s1> <https://kgllm.example/vocab#confidence> "1.5"^^'
     '<http://www.w3.org/2001/XMLSchema#double> .\n<http://x.org/s1> '
     '<http://www.w3.org/1999/02/22-rdf-syntax-ns#subject> <http://x.org/a> .\n<http://x.org/s1> '
     '<http://www.w3.org/1999/02/22-rdf-syntax-ns#predicate> <http://x.org/r> .\n<http://x.org/s1> '
     '<http://www.w3.org/1999/02/22-rdf-syntax-ns#object> <http://x.org/b> .\n', "kg:confidence must be a number"),
    ("bad.nq", "<http://x.org/a> <https://kgllm.example/vocab#colour> \"red\" .\n", ":2: unknown kgllm vocabulary"),
    ("bad.ttl", "@prefix ex: <http://x.org/> .\nex:a ex:r ex:b ;\nex:c .\n", "malformed ttl"),
    ("bad.jsonld", '{"@id": "http://x.org/a", ', "malformed jsonld"),
]


@pytest.mark.parametrize("name, text, message", BAD, ids=[b[2][:30] for b in BAD])
def test_malformed_rdf_names_file_and_line_and_changes_nothing(tmp_path, name, text, message):
    store = small_graph()
    before = (canonical(store), store.revision())
    path = tmp_path / name
    good = "<http://x.org/first> <http://x.org/r> <http://x.org/fine> .\n" if name.endswith((".nt", ".nq")) else ""
    path.write_text(good + text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        import_rdf(store, path)
    assert str(path) in str(info.value)
    assert (canonical(store), store.revision()) == before


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(NotFoundError):
        import_rdf(MemoryStore(), tmp_path / "none.nt")
    (tmp_path / "g.xyz").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="pass --format"):
        import_rdf(MemoryStore(), tmp_path / "g.xyz")
    (tmp_path / "g.nt.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="g.nt.gz: cannot be read"):
        import_rdf(MemoryStore(), tmp_path / "g.nt.gz")
    with pytest.raises(InputError, match="only N-Triples and N-Quads are written compressed"):
        export_rdf(MemoryStore(), tmp_path / "g.ttl.gz")


class CountingStore(MemoryStore):
    """A memory store that records the size of every upsert."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []

    def upsert(self, delta):
        self.calls.append((len(delta.entities), len(delta.facts)))
        return super().upsert(delta)


def test_import_writes_in_batches_after_reading_the_file_twice(tmp_path):
    path = tmp_path / "chain.nt"
    path.write_text("".join(f"<http://x.org/n{i}> <http://x.org/next> <http://x.org/n{i + 1}> .\n" for i in range(25)),
                    encoding="utf-8")
    store = CountingStore()
    report = import_rdf(store, path, batch_size=10)
    assert store.calls == [(10, 0), (10, 0), (6, 0), (0, 10), (0, 10), (0, 5)]
    assert (report.entities_added, report.facts_added, report.statements) == (26, 25, 25)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(lex=_TEXT, lang=st.sampled_from([None, "en", "de-CH"]))
def test_literals_survive_the_line_syntax(lex, lang):
    line = format_quad("http://x.org/a", "http://x.org/r", Lit(lex, None, lang))
    assert parse_line(line, "t.nt", 1) == ("http://x.org/a", "http://x.org/r", Lit(lex, None, lang), None)
