"""One exception tree for kgllm.

Every error kgllm raises on purpose derives from :class:`KgllmError`, so callers can
catch the whole family with one ``except`` clause.

Examples
--------
>>> from kgllm.errors import InputError, KgllmError
>>> try:
...     raise InputError("docs.jsonl:3: expected a JSON object")
... except KgllmError as exc:
...     print(type(exc).__name__, exc)
InputError docs.jsonl:3: expected a JSON object
"""

from __future__ import annotations

__all__ = [
    "KgllmError",
    "ConfigError",
    "InputError",
    "StoreError",
    "ExtractionError",
    "GenerationError",
    "NotFoundError",
]


class KgllmError(Exception):
    """Base class of every error raised by kgllm."""


class ConfigError(KgllmError):
    """A configuration value is invalid or unknown."""


class InputError(KgllmError):
    """Input data (a file, a line, a text, a query) is not what was expected."""


class NotFoundError(InputError):
    """A named thing (entity, file, graph) does not exist."""


class StoreError(KgllmError):
    """A graph store failed to read or write."""


class ExtractionError(KgllmError):
    """Knowledge extraction from text failed."""


class GenerationError(KgllmError):
    """The language model failed to load or generate."""
