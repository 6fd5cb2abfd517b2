"""``kgllm build`` reports counts that agree with ``kgllm stats`` afterwards, merges included."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.graph import KnowledgeGraph
from kgllm.types import Entity, Fact, GraphDelta, Provenance

runner = CliRunner()


class ShortNameExtractor:
    """Names one person twice ("Ines Varga", then "Varga"), so resolution merges the short name into the full one."""

    def extract(self, docs, progress: bool = False) -> GraphDelta:
        prov = Provenance(doc_id=docs[0].id, chunk=0, extractor="test", sentence=docs[0].text)
        return GraphDelta(
            entities=[Entity("ines_varga", "Ines Varga", type="PERSON"), Entity("varga", "Varga", type="PERSON"),
                      Entity("pecs", "Pecs", type="GPE"), Entity("lumora", "Lumora", type="ORG")],
            facts=[Fact("ines_varga", "born_in", "pecs", 1.0, (prov,)),
                   Fact("varga", "founded", "lumora", 1.0, (prov,))],
        )


def test_ingest_report_counts_entities_as_the_store_holds_them():
    kg = KnowledgeGraph(extractor=ShortNameExtractor())
    report = kg.ingest("Ines Varga was born in Pecs. Varga founded Lumora.")
    assert report.merges_applied == 1                    # "Varga" was added, then merged away
    assert (report.entities_added, report.facts_added) == (3, 2)
    stats = kg.stats()
    assert (stats["entities"], stats["facts"], stats["merges"]) == (3, 2, 1)
    again = kg.ingest("Ines Varga was born in Pecs. Varga founded Lumora.")
    assert (again.entities_added, again.facts_added) == (0, 0)
    assert kg.stats()["entities"] == 3


def test_build_reports_what_stats_shows_afterwards(tmp_path):
    """Real extraction and resolution over texts written for this test: the resolver merges a short name."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "people.txt").write_text("Maria Keller was born in Pecs in 1979.\n", encoding="utf-8")
    (docs / "places.txt").write_text("Pecs is located in Hungary. M. Keller founded Lumora in 2011.\n",
                                     encoding="utf-8")
    graph = tmp_path / "g.json"
    built = runner.invoke(app, ["build", str(docs), "--graph", str(graph)])
    assert built.exit_code == 0, built.output
    match = re.search(r"(\d+) documents?, (\d+) facts? extracted, (\d+) new facts?, (\d+) new entit(?:y|ies), "
                      r"(\d+) merges?", built.stderr)
    assert match, built.stderr
    documents, _, new_facts, new_entities, merges = map(int, match.groups())
    stats = json.loads(runner.invoke(app, ["stats", "--graph", str(graph), "--json"]).stdout)
    assert merges >= 1 and stats["merges"] == merges     # resolution merged something ...
    assert (documents, new_facts, new_entities) == (2, stats["facts"], stats["entities"])  # ... and the counts agree
    rebuilt = runner.invoke(app, ["build", str(docs), "--graph", str(graph)])
    assert "0 new facts, 0 new entities" in rebuilt.stderr, rebuilt.stderr
