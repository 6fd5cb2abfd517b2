"""Render a retrieved subgraph as numbered fact lines for a language-model prompt.

Examples
--------
>>> from kgllm.types import Entity, Fact, Path, Subgraph
>>> f1, f2 = Fact("ada", "parents", "byron"), Fact("byron", "gender", "male")
>>> sub = Subgraph(seeds=["ada"], entities={"ada": Entity("ada", "Ada Lovelace")},
...                facts=[f2, f1], paths=[Path(("ada", "byron"), (f1,), (True,), 1.0)])
>>> text, facts = build_context(sub)
>>> print(text)
[1] Ada Lovelace --parents--> byron
[2] byron --gender--> male
>>> facts == [f1, f2]
True
"""

from __future__ import annotations

import math
from typing import Callable

from kgllm.errors import ConfigError
from kgllm.types import Fact, Subgraph

__all__ = ["build_context", "count_tokens_default"]


def count_tokens_default(text: str) -> int:
    """Rough token count: whitespace words times 1.3, or characters over 3 when that is more
    (identifiers such as ``alexander_iii_of_russia`` are one word but many tokens), rounded up.

    >>> count_tokens_default("[1] a --r--> b")
    6
    >>> count_tokens_default("[1] alexander_iii_of_russia --parents--> maria_feodorovna")
    19
    """
    return math.ceil(max(len(text.split()) * 1.3, len(text) / 3))


def _ordered_facts(subgraph: Subgraph) -> list[Fact]:
    ordered: list[Fact] = []
    seen: set[str] = set()
    for path in sorted(subgraph.paths, key=lambda p: -p.score):  # stable: equal scores keep their order
        for fact in path.facts:
            if fact.id not in seen:
                seen.add(fact.id)
                ordered.append(fact)
    for fact in subgraph.facts:
        if fact.id not in seen:
            seen.add(fact.id)
            ordered.append(fact)
    return ordered


def build_context(subgraph: Subgraph, max_tokens: int = 512,
                  count_tokens: Callable[[str], int] | None = None) -> tuple[str, list[Fact]]:
    """Write the subgraph's facts as numbered lines, best paths first, within a token budget.

    Parameters
    ----------
    subgraph : Subgraph
        Retrieved facts and ranked paths.
    max_tokens : int, default 512
        Budget for the whole text; lines that do not fit are left out (the
        first line that does not fit ends the context).
    count_tokens : callable, optional
        ``str -> int`` token counter (e.g. a model tokenizer's); default
        :func:`count_tokens_default`.

    Returns
    -------
    text : str
        Lines ``[i] subject --relation--> object``, entity names taken from
        ``subgraph.entities`` when known.
    facts : list of Fact
        The facts in the order they are numbered (``facts[i - 1]`` is line ``[i]``).

    Raises
    ------
    ConfigError
        ``max_tokens`` is negative.
    """
    if not isinstance(max_tokens, int) or max_tokens < 0:
        raise ConfigError(f"max_tokens must be a non-negative integer, got {max_tokens!r}")
    count = count_tokens or count_tokens_default

    def name(eid: str) -> str:
        ent = subgraph.entities.get(eid)
        return ent.name if ent is not None and ent.name else eid

    lines: list[str] = []
    used: list[Fact] = []
    total = 0
    for fact in _ordered_facts(subgraph):
        line = f"[{len(lines) + 1}] {name(fact.subject)} --{fact.relation}--> {name(fact.object)}"
        cost = count(line) + (1 if lines else 0)  # the newline joining it
        if total + cost > max_tokens:
            break
        total += cost
        lines.append(line)
        used.append(fact)
    return "\n".join(lines), used
