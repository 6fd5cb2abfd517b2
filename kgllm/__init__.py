"""kgllm: build knowledge graphs from text and answer questions with a local LM, citing sources.

Examples
--------
>>> import kgllm
>>> sorted(kgllm.__all__)[:4]
['Answer', 'Chunk', 'ConfigError', 'Conversation']
"""

from kgllm.conversation import Conversation
from kgllm.errors import (
    ConfigError,
    ExtractionError,
    GenerationError,
    InputError,
    KgllmError,
    NotFoundError,
    StoreError,
)
from kgllm.extract.base import ExtractionResult, Extractor, SkippedDocument
from kgllm.extract.resolve import EntityResolver, ResolverConfig
from kgllm.extract.rules import RuleExtractor
from kgllm.graph import IngestReport, KnowledgeGraph
from kgllm.jobs import Job
from kgllm.lm import Generator, LocalLM, StreamingGenerator, resolve_llm
from kgllm.rdf import ImportReport, export_rdf, import_rdf
from kgllm.reason.reasoner import Reasoner, ReasonerConfig
from kgllm.reason.relations import RelationPlan
from kgllm.reason.rules import RuleSet
from kgllm.retrieve.subgraph import Retriever
from kgllm.schema import RelationSpec, Schema
from kgllm.stores.base import GraphStore, UpsertResult
from kgllm.stores.ledger import DocumentRecord, RunRecord
from kgllm.stores.memory import MemoryStore
from kgllm.types import Answer, Chunk, Document, Entity, Fact, GraphDelta, Merge, Path, Provenance, Subgraph

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "Chunk",
    "ConfigError",
    "Conversation",
    "Document",
    "DocumentRecord",
    "Entity",
    "EntityResolver",
    "ExtractionError",
    "ExtractionResult",
    "Extractor",
    "Fact",
    "GenerationError",
    "Generator",
    "GraphDelta",
    "GraphStore",
    "ImportReport",
    "IngestReport",
    "InputError",
    "Job",
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
    "RelationPlan",
    "RelationSpec",
    "ResolverConfig",
    "Retriever",
    "RuleExtractor",
    "RuleSet",
    "RunRecord",
    "Schema",
    "SkippedDocument",
    "StoreError",
    "StreamingGenerator",
    "Subgraph",
    "UpsertResult",
    "export_rdf",
    "import_rdf",
    "resolve_llm",
    "__version__",
]
