"""kgllm: build knowledge graphs from text and answer questions with a local LM, citing sources.

Examples
--------
>>> import kgllm
>>> sorted(kgllm.__all__)[:4]
['Answer', 'Chunk', 'ConfigError', 'Document']
"""

from kgllm.errors import (
    ConfigError,
    ExtractionError,
    GenerationError,
    InputError,
    KgllmError,
    NotFoundError,
    StoreError,
)
from kgllm.graph import IngestReport, KnowledgeGraph
from kgllm.reason.llm import LocalLM
from kgllm.reason.reasoner import Reasoner, ReasonerConfig
from kgllm.stores.base import GraphStore
from kgllm.stores.memory import MemoryStore
from kgllm.types import Answer, Chunk, Document, Entity, Fact, GraphDelta, Merge, Path, Provenance, Subgraph

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Chunk",
    "ConfigError",
    "Document",
    "Entity",
    "ExtractionError",
    "Fact",
    "GenerationError",
    "GraphDelta",
    "GraphStore",
    "IngestReport",
    "InputError",
    "KgllmError",
    "KnowledgeGraph",
    "LocalLM",
    "MemoryStore",
    "Merge",
    "NotFoundError",
    "Path",
    "Provenance",
    "Reasoner",
    "ReasonerConfig",
    "StoreError",
    "Subgraph",
    "__version__",
]
