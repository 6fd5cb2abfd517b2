"""Schema loaders: JSON relation lists, objects, extraction records and files, with clear errors."""

from __future__ import annotations

import json

import pytest

from kgllm.errors import InputError, NotFoundError
from kgllm.schema import RelationSpec, Schema, relation_words


def test_relation_words_split_camel_and_snake_case():
    assert relation_words("birthPlace") == "birth place"
    assert relation_words("founded_by") == "founded by"
    assert relation_words("1stRunwaySurfaceType") == "1st runway surface type"
    assert RelationSpec("birthPlace", "town of birth").text == "birth place: town of birth"


def test_from_json_names_and_objects():
    schema = Schema.from_json(["birthPlace", {"name": "employer", "description": "who pays them",
                                              "domain": "Person", "range": "Organisation"}])
    assert schema.relations == (RelationSpec("birthPlace"),
                                RelationSpec("employer", "who pays them", "Person", "Organisation"))
    assert schema.names == ("birthPlace", "employer")
    assert "employer" in schema and "mayor" not in schema


def test_duplicate_names_keep_the_first():
    schema = Schema.from_json(["employer", {"name": "employer", "range": "Organisation"}, "birthPlace"])
    assert schema.relations == (RelationSpec("employer"), RelationSpec("birthPlace"))


def test_from_record_reads_the_extraction_format():
    record = {"text": "Ines Varga was born in Kestrel Bay.", "triples": [], "relations": ["birthPlace", "employer"]}
    assert Schema.from_record(record).names == ("birthPlace", "employer")
    with pytest.raises(InputError, match="items.jsonl:4: expected a 'relations' field"):
        Schema.from_record({"text": "x"}, "items.jsonl:4")


def test_unknown_relation_is_not_found():
    with pytest.raises(NotFoundError, match="schema has no relation 'mayor'"):
        Schema.from_names(["employer"]).relation("mayor")


@pytest.mark.parametrize("data, message", [
    ({"name": "x"}, "expected a 'relations' field"),
    ("birthPlace", "expected a JSON list of relations"),
    ([3], "relation 0: expected a name or an object with 'name', got int"),
    ([{"name": " "}], "relation 0: expected a non-empty string 'name'"),
    ([{"name": "employer", "range": 5}], r"relation 0 \(employer\): 'range' must be a string, got int"),
    ([{"name": "employer", "kind": "x"}], "relation 0: unknown field\\(s\\) kind"),
    ({"relations": "employer"}, "'relations' must be a list, got str"),
    ({"relations": [], "entity_types": [1]}, "'entity_types' must be a list of non-empty strings"),
])
def test_bad_json_raises_input_error_naming_the_source(data, message):
    with pytest.raises(InputError, match=f"^schema.json: .*{message}"):
        Schema.from_json(data, "schema.json")


def test_from_file_list_object_and_jsonl(tmp_path):
    names = tmp_path / "names.json"
    names.write_text(json.dumps(["birthPlace", "employer"]), encoding="utf-8")
    assert Schema.from_file(names).names == ("birthPlace", "employer")
    obj = tmp_path / "schema.json"
    obj.write_text(json.dumps({"relations": [{"name": "employer", "range": "Organisation"}],
                               "entity_types": ["Person", "Organisation"]}), encoding="utf-8")
    loaded = Schema.from_file(obj)
    assert loaded.relation("employer").range == "Organisation"
    assert loaded.entity_types == ("Person", "Organisation")
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps({"text": t, "triples": [], "relations": r}) for t, r in [
        ("Ines Varga was born in Kestrel Bay.", ["birthPlace"]),
        ("Omar Tell works for Lumora.", ["employer", "birthPlace"])]) + "\n", encoding="utf-8")
    assert Schema.from_file(items).names == ("birthPlace", "employer")


@pytest.mark.parametrize("content, message", [
    ("[\"a\", ", "malformed JSON"),
    ("relations: a, b", "expected a JSON relation list, a JSON object with 'relations'"),
    ("@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .", "no properties found"),
    ("@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\nrdfs:x rdfs:y", "malformed RDF ontology"),
    ('{"text": "a", "triples": []}\n{"text": "b", "triples": []}\n', "no line has a 'relations' field"),
    ('{"relations": ["a"]}\n[1]\n', r":2: expected a JSON object, got list"),
])
def test_from_file_bad_content_names_the_file(tmp_path, content, message):
    path = tmp_path / "schema.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        Schema.from_file(path)
    assert str(path) in str(info.value)


def test_from_file_missing_or_not_utf8(tmp_path):
    with pytest.raises(NotFoundError, match="schema file not found"):
        Schema.from_file(tmp_path / "none.json")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe[")
    with pytest.raises(InputError, match="not UTF-8 text"):
        Schema.from_file(binary)


def test_schema_refuses_non_spec_relations():
    with pytest.raises(InputError, match="must be RelationSpec objects, got str"):
        Schema(("employer",))  # type: ignore[arg-type]


ONTOLOGY = """# A small ontology written for this test.
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix : <http://example.org/harbour#> .
:Vessel a owl:Class ; rdfs:label "vessel" . :Harbour a owl:Class . :Captain rdfs:subClassOf :Person .
:homePort a owl:ObjectProperty ; rdfs:domain :Vessel ; rdfs:range :Harbour ;
    rdfs:label "home port"@en ; rdfs:comment "The harbour a vessel is registered in."@en ;
    rdfs:comment "Le port d'attache."@fr .
:launchDate a owl:DatatypeProperty ; rdfs:domain :Vessel ; rdfs:range xsd:date .
:firstLaunch rdfs:subPropertyOf :launchDate .
:skipper a rdf:Property ; rdfs:label "skipper" ; rdfs:range :Captain .
"""


def test_from_file_reads_an_rdfs_owl_ontology(tmp_path):
    path = tmp_path / "harbour.ttl"
    path.write_text(ONTOLOGY, encoding="utf-8")
    schema = Schema.from_file(path)
    assert schema.names == ("firstLaunch", "homePort", "launchDate", "skipper")
    home = schema.relation("homePort")
    assert (home.domain, home.range) == ("Vessel", "Harbour")
    assert home.description == "The harbour a vessel is registered in."  # the label only repeats the name
    assert schema.relation("launchDate").range == "xsd:date"
    assert schema.relation("firstLaunch").domain == "Vessel"  # inherited from the super-property
    assert schema.relation("skipper").description == "" and schema.relation("skipper").domain is None
    assert schema.entity_types == ("Captain", "Harbour", "Person", "Vessel")


def test_from_file_reads_rdf_xml(tmp_path):
    path = tmp_path / "tiny.owl"
    path.write_text("""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:owl="http://www.w3.org/2002/07/owl#">
  <owl:ObjectProperty rdf:about="http://example.org/t#moors">
    <rdfs:comment>Where a boat is tied up.</rdfs:comment>
  </owl:ObjectProperty>
</rdf:RDF>
""", encoding="utf-8")
    schema = Schema.from_file(path)
    assert schema.names == ("moors",) and schema.relation("moors").description == "Where a boat is tied up."
