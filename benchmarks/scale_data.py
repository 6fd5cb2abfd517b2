"""The synthetic knowledge bases of ``benchmarks/scale.py``: N facts over about N/5 invented entities.

People (``Greta Ulvang``-like names built from syllables), cities, countries and organisations with
facts of eight relations (born_in, lives_in, works_for, knows, married_to, located_in, based_in,
founded), written as a ``subject<TAB>relation<TAB>object`` file for ``kgllm import-kb``. Every size
holds the same two-hop chain the benchmark asks about: ``Greta Ulvang born_in Tromsvik``,
``Tromsvik located_in Norhavn``, and a few more like it (:data:`QUESTIONS`).

    python benchmarks/scale_data.py 10000 kb.tsv
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

__all__ = ["write_kb", "QUESTIONS", "SEARCHES"]

SYLLABLES = ["ka", "lo", "mi", "ren", "sa", "tor", "vi", "na", "el", "dra", "bo", "fen", "ga", "hil", "jo", "kus",
             "lia", "mor", "nel", "pa", "quin", "ros", "sta", "tu", "ulf", "ves", "wyn", "xa", "yor", "zel"]
CITY_END = ["by", "holm", "stad", "vik", "dal", "berg", "ford", "mouth", "haven", "field"]
ORG_END = ["Instruments", "Labs", "Shipping", "Bank", "Foods", "Energy", "Press", "Systems", "Works", "Trust"]

CHAINS = [("Greta Ulvang", "Tromsvik", "Norhavn", "Ulvang Shipping"),
          ("Oskar Brenmo", "Lindeby", "Kestmark", "Brenmo Labs"),
          ("Ilse Varnholt", "Perdavik", "Solvaria", "Varnholt Press")]
QUESTIONS = [f"In which country was {p} born?" for p, _, _, _ in CHAINS] + \
    [f"Where does {p} work?" for p, _, _, _ in CHAINS] + [f"Which company did {p} found?" for p, _, _, _ in CHAINS]
"""Questions whose answers need one or two facts of the chains every size holds."""

SEARCHES = ["greta ulv", "Tromsvik", "oskar", "brenmo labs", "lindeby", "varnholt", "kestm", "ilse v"]
"""Search-box queries of the explorer benchmark (names and name starts of the chains)."""


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def write_kb(n_facts: int, path: str | Path, seed: int = 7) -> int:
    """Write a knowledge base of ``n_facts`` facts (the chains included) to ``path``; returns the entity count."""
    rng = random.Random(seed)
    n_people = max(n_facts // 6, 50)
    countries = sorted({f"{_word(rng, 2)}land" for _ in range(60)})
    cities = sorted({f"{_word(rng, 2)}{rng.choice(CITY_END)}" for _ in range(max(n_facts // 400, 20))})
    orgs = sorted({f"{_word(rng, 2)} {rng.choice(ORG_END)}" for _ in range(max(n_facts // 60, 20))})
    people = sorted({f"{_word(rng, 2)} {_word(rng, 3)}" for _ in range(n_people)})
    lines: dict[tuple[str, str, str], None] = {}

    def add(s: str, r: str, o: str) -> None:
        if s != o:
            lines[(s, r, o)] = None

    for person, city, country, org in CHAINS:
        add(person, "born_in", city)
        add(city, "located_in", country)
        add(person, "founded", org)
        add(person, "works_for", org)
        add(org, "based_in", city)
    for c in cities:
        add(c, "located_in", rng.choice(countries))
    for o in orgs:
        add(o, "based_in", rng.choice(cities))
        add(rng.choice(people), "founded", o)
    for p in people:
        add(p, "born_in", rng.choice(cities))
        add(p, "lives_in", rng.choice(cities))
        add(p, "works_for", rng.choice(orgs))
    while len(lines) < n_facts:
        a = rng.choice(people)
        add(a, rng.choice(["knows", "knows", "knows", "married_to"]), rng.choice(people))
    body = "".join(f"{s}\t{r}\t{o}\n" for s, r, o in list(lines)[:n_facts])
    Path(path).write_text(body, encoding="utf-8")
    return len({x for s, _, o in list(lines)[:n_facts] for x in (s, o)})


if __name__ == "__main__":
    print(write_kb(int(sys.argv[1]), sys.argv[2]), "entities")
