"""``executor: ray`` spreads extraction over Ray workers (a local Ray instance with 2 workers here) and writes
through the same ledger in the driver: the graph is identical to the local executor's."""

from __future__ import annotations

import random

import pytest

from kgllm.jobs import Job
from kgllm.stores.ledger import canonical_dump
from kgllm.stores.memory import MemoryStore

pytestmark = pytest.mark.slow

FIRST = ["Tarn", "Mira", "Pell", "Ardis", "Hesk", "Olna", "Brivo", "Senna"]
LAST = ["Vellen", "Toskar", "Arnow", "Quillby", "Dravik"]
PLACES = ["Orsk", "Ilvaria", "Quenmar", "Talbury", "Nesh"]
ORGS = ["Helcor", "Brannix Labs", "Ostry Mills"]


def test_ray_executor_builds_the_same_graph_as_the_local_one(tmp_path):
    rng = random.Random(3)
    (tmp_path / "texts").mkdir()
    for i in range(24):
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        org = rng.choice(ORGS)
        (tmp_path / "texts" / f"d{i:02d}.txt").write_text(
            f"{person} was born in {rng.choice(PLACES)}. {person.split()[1]} works for {org}. "
            f"{org} is based in {rng.choice(PLACES)}.\n", encoding="utf-8")
    (tmp_path / "texts" / "broken.txt").write_bytes(b"\xff\xfe not text")
    dumps = {}
    for kind in ("local", "{kind: ray, workers: 2}"):
        spec = tmp_path / "job.yaml"
        spec.write_text(f"name: ray\nsources:\n  - folder: texts\nstore: g.sqlite\nbatch_size: 4\n"
                        f"executor: {kind}\n", encoding="utf-8")
        store = MemoryStore()
        run = Job.from_file(spec, store=store).run()
        assert run.status == "ok" and run.counts["new"] == 24 and run.counts["facts"] > 24
        assert [e["doc_id"] for e in run.errors] == ["broken.txt"]
        dumps[kind] = canonical_dump(store)
    assert dumps["local"] == dumps["{kind: ray, workers: 2}"]
