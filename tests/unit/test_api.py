"""The curated public API: ``kgllm.__all__`` is pinned, every name is documented, errors share one root,
and every kgllm type that a public signature uses is itself public."""

import inspect
import typing

import kgllm

PUBLIC = [
    "Answer", "Chunk", "ConfigError", "Conversation", "Document", "Entity", "EntityResolver", "ExtractionError",
    "ExtractionResult", "Extractor", "Fact", "GenerationError", "Generator", "GraphDelta", "GraphStore",
    "IngestReport", "InputError",
    "KgllmError", "KnowledgeGraph", "LocalLM", "MemoryStore", "Merge", "NotFoundError", "Path", "Provenance",
    "Reasoner", "ReasonerConfig", "RelationPlan", "RelationSpec", "ResolverConfig", "Retriever", "RuleExtractor",
    "Schema", "SkippedDocument", "StoreError", "DocumentRecord", "RunRecord", "Job", "RuleSet", "ImportReport",
    "export_rdf", "import_rdf",
    "StreamingGenerator", "Subgraph", "UpsertResult", "__version__", "resolve_llm",
]


def test_all_is_pinned():
    """Adding or removing a public name is a decision: change this list with it."""
    assert sorted(kgllm.__all__) == sorted(PUBLIC)
    assert len(kgllm.__all__) == len(set(kgllm.__all__))


def test_all_names_exist_and_are_documented():
    for name in kgllm.__all__:
        obj = getattr(kgllm, name)
        if name != "__version__":
            assert obj.__doc__ and obj.__doc__.strip(), f"kgllm.{name} has no docstring"
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    assert kgllm.__version__ == pyproject["project"]["version"]      # one version, where packaging reads it


def test_errors_share_one_root():
    for name in ("ConfigError", "InputError", "StoreError", "ExtractionError", "GenerationError", "NotFoundError"):
        assert issubclass(getattr(kgllm, name), kgllm.KgllmError)
    assert issubclass(kgllm.NotFoundError, kgllm.InputError)


def _kgllm_types(hint) -> set[type]:
    """kgllm classes named anywhere inside a type hint (``list[Fact] | None`` gives ``{Fact}``)."""
    found: set[type] = set()
    if isinstance(hint, type) and hint.__module__.startswith("kgllm"):
        found.add(hint)
    for arg in typing.get_args(hint):
        found |= _kgllm_types(arg)
    return found


def _signatures(obj):
    if inspect.isfunction(obj):
        yield obj.__qualname__, obj
        return
    for name, member in inspect.getmembers(obj):
        if (name == "__init__" or not name.startswith("_")) and inspect.isfunction(member) \
                and member.__module__.startswith("kgllm"):
            yield f"{obj.__name__}.{name}", member


def test_public_signatures_use_only_public_types():
    public = {getattr(kgllm, n) for n in kgllm.__all__ if n != "__version__"}
    missing: set[str] = set()
    for name in ("KnowledgeGraph", "Reasoner", "LocalLM", "RuleExtractor", "EntityResolver", "MemoryStore",
                 "resolve_llm"):
        for where, fn in _signatures(getattr(kgllm, name)):
            hints = typing.get_type_hints(fn)
            for hint in hints.values():
                missing |= {f"{where} uses {t.__module__}.{t.__name__}" for t in _kgllm_types(hint) - public}
    assert sorted(missing) == []
