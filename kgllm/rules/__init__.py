"""The rule files kgllm ships (``kinship.rules``), read through :mod:`importlib.resources`.

They are package data, so an installed kgllm (a wheel) has them as a checkout does; in a checkout
``graphs/rules/`` points here. :func:`path` gives a rule file as a file on disk, :func:`names` lists them.

Examples
--------
>>> names()
['kinship']
>>> path("kinship").name
'kinship.rules'
>>> path("kinship.rules").read_text(encoding="utf-8").startswith("# Kinship")
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from kgllm.errors import NotFoundError

__all__ = ["path", "names"]


def names() -> list[str]:
    """The names of the shipped rule files (without ``.rules``), sorted."""
    return sorted(f.name[:-len(".rules")] for f in resources.files(__name__).iterdir() if f.name.endswith(".rules"))


def path(name: str) -> Path:
    """The shipped rule file ``name`` (``"kinship"`` or ``"kinship.rules"``) as a path on disk.

    Raises
    ------
    NotFoundError
        No rule file of that name is shipped (the message lists those that are).
    """
    file = resources.files(__name__) / (name if name.endswith(".rules") else f"{name}.rules")
    if not file.is_file():
        raise NotFoundError(f"no built-in rule file {name!r} (known: {', '.join(names()) or 'none'})")
    return Path(str(file))   # package data of an unpacked install (a wheel, a checkout) is a file on disk
