"""``kgllm build``: extract facts from files into a graph, and say what happened, file by file.

What a build could not read (an empty or binary file, each malformed JSONL line), what it left out on purpose (a
document whose content another document holds) and every merge entity resolution made are listed on stderr, with
how to undo a merge (``kgllm merges undo``).

Examples
--------
>>> plural(1, "document"), plural(3, "entity", "entities"), change(-2, "fact", "facts"), change(1, "fact", "facts")
('1 document', '3 entities', '2 fewer facts', '1 new fact')
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from kgllm.cli.common import (GraphOpt, PasswordOpt, StoreOpt, StoreSpec, UriOpt, UserOpt, err, open_store, run,
                              save_if_file)

__all__ = ["build", "plural", "change", "RESOLVE_MODES"]

RESOLVE_MODES = ("fuzzy", "embedding", "none")
"""Entity resolution a build (and a job spec's ``extractor.resolve``) may ask for; ``fuzzy`` is both defaults."""

MERGES_SHOWN = 20
"""How many merges a build lists by name (the rest: ``kgllm merges list``)."""


def plural(n: int, word: str, many: Optional[str] = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def change(n: int, word: str, many: str) -> str:
    """A change of a count in words that are never negative: ``3 new facts``, ``2 fewer facts``."""
    return f"{n} new {word if n == 1 else many}" if n >= 0 else f"{-n} fewer {word if n == -1 else many}"


def build(
    sources: List[Path] = typer.Argument(..., help="Text files, folders (read recursively) or JSONL files."),
    graph: Optional[Path] = GraphOpt,
    text_field: str = typer.Option("text", metavar="FIELD", help="Field holding the text in JSONL files."),
    resolve: str = typer.Option("fuzzy", "--resolve", metavar="MODE",
                                help="Entity resolution: 'fuzzy' (names; what a job does by default), 'embedding' "
                                     "(names and MiniLM embeddings; slower) or 'none'."),
    no_resolve: bool = typer.Option(False, "--no-resolve", help="Skip entity resolution (same as --resolve none)."),
    schema: Optional[Path] = typer.Option(None, "--schema", metavar="FILE",
                                          help="Relations the graph may hold (JSON list of names or of objects with "
                                               "name, description, domain, range); each extracted fact is typed "
                                               "onto the closest one, or dropped when none fits."),
    canonicalize: bool = typer.Option(False, "--canonicalize", help="Without --schema: join near-identical "
                                      "spellings of one relation (e.g. locate_in and located_in)."),
    extractor: str = typer.Option("rules", "--extractor", metavar="MODE", help="'rules' (spaCy patterns), 'lm' "
                                  "(the local model under constrained decoding), 'hybrid' (both) or 'trained' (a "
                                  "relation model from kgllm train extraction, typing onto --schema; without a "
                                  "schema it reads as the rules do)."),
    model: Optional[Path] = typer.Option(None, "--model", metavar="PATH", help="With --extractor lm or hybrid: a "
                                         "local Hugging Face model folder or .gguf file (default: the bundled "
                                         "SmolLM2)."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", metavar="DIR",
                                             help="With --extractor trained: the model directory kgllm train "
                                                  "extraction wrote."),
    on_violation: str = typer.Option("penalize", "--on-violation", metavar="MODE", help="With --schema, a fact "
                                     "whose subject/object type clashes with its relation's domain/range: "
                                     "'penalize' (only scored lower), 'report' (kept and listed) or 'drop' "
                                     "(removed and listed)."),
    strict: bool = typer.Option(False, "--strict", help="A file or JSONL line that cannot be read is an error "
                                "(exit status 2, nothing written) instead of being skipped and listed."),
    allow_duplicates: bool = typer.Option(False, "--allow-duplicates", help="Also ingest a new document whose "
                                          "content another document already holds (default: skip it, naming both)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, metavar="N",
                                   help="Documents extracted, resolved and written together (one transaction), "
                                        "grouped by their place in the sources as a job with this batch_size does."),
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Extract facts from SOURCES and add them to the graph; facts of other documents are kept.

    Every document is recorded in the graph's ledger with its content hash: a document already there unchanged is
    not extracted again, and a changed one has its previous facts replaced (see kgllm docs list). Files that cannot
    be read are skipped and listed (exit status 0; --strict makes them an error). Merges made by entity resolution
    are listed; kgllm merges undo ALIAS takes one back. With the same settings, kgllm build and kgllm jobs run give
    the same graph.
    """
    from kgllm.extract.violations import ON_VIOLATION

    if on_violation not in ON_VIOLATION:    # a usage error (exit 2) before anything opens
        raise typer.BadParameter(f"expected one of {', '.join(ON_VIOLATION)}, got {on_violation!r}",
                                 param_hint="--on-violation")
    if extractor not in ("rules", "lm", "hybrid", "trained"):
        raise typer.BadParameter(f"expected one of rules, lm, hybrid, trained, got {extractor!r}",
                                 param_hint="--extractor")
    if (extractor == "trained") != (model_dir is not None):
        raise typer.BadParameter("--model-dir goes with --extractor trained, and --extractor trained needs it",
                                 param_hint="--model-dir")
    if model is not None and extractor not in ("lm", "hybrid"):
        raise typer.BadParameter("--model goes with --extractor lm or hybrid", param_hint="--model")
    if resolve not in RESOLVE_MODES:
        raise typer.BadParameter(f"expected one of {', '.join(RESOLVE_MODES)}, got {resolve!r}", param_hint="--resolve")
    spec = StoreSpec(graph, store, uri, user, password)

    def go() -> None:
        from kgllm.extract.lm import make_extractor
        from kgllm.extract.resolve import EntityResolver, ResolverConfig
        from kgllm.graph import KnowledgeGraph
        from kgllm.schema import Schema

        allowed = Schema.from_file(schema) if schema is not None else None   # a bad file fails before the store opens
        llm = None
        if model is not None:
            from kgllm.lm import LocalLM

            llm = LocalLM(model)  # a folder that is no model fails here, before the store opens
        reader = make_extractor(extractor, llm=llm, schema=allowed, model_dir=model_dir)  # so does a bad --extractor
        mode = "none" if no_resolve else resolve
        resolver = None if mode == "none" else EntityResolver(ResolverConfig(use_embeddings=mode == "embedding"))
        # The same writer lock as `kgllm jobs run`: a build and a job never write one store at once (wait up to
        # a minute, then refuse naming the holder).
        with open_store(spec, create=True) as target, target.lock("writer", 60.0):
            kg = KnowledgeGraph(target, extractor=reader, schema=allowed, on_violation=on_violation,
                                canonicalize=canonicalize, resolver=resolver)
            start = time.perf_counter()
            report = kg.ingest_files(sources, text_field=text_field, progress=err.is_terminal, strict=strict,
                                     allow_duplicates=allow_duplicates, batch_size=batch_size)
            save_if_file(target, spec)
            merged = [(m, *_merge_names(target, m)) for m in report.merges[:MERGES_SHOWN]]
        seconds = time.perf_counter() - start
        say(f"built {spec.where}: {plural(report.documents, 'document')}, "
            f"{plural(report.extracted, 'fact')} extracted, {change(report.facts_added, 'fact', 'facts')}, "
            f"{change(report.entities_added, 'entity', 'entities')}, {plural(report.merges_applied, 'merge')} "
            f"in {seconds:.1f}s; {plural(report.unchanged, 'document')} unchanged (not extracted again), "
            f"{report.replaced} changed (their previous facts replaced)")
        for item in report.unreadable:
            say(f"skipped: {item}")
        for doc_id, twin in report.duplicates:
            say(f"skipped: {doc_id}: same content as document {twin} (--allow-duplicates ingests it too)")
        for skipped in report.skipped:
            say(f"skipped: {skipped}")
        if report.ignored:
            shown = ", ".join(report.ignored[:5]) + (f" and {len(report.ignored) - 5} more" if len(report.ignored) > 5
                                                     else "")
            say(f"not read: {plural(len(report.ignored), 'file')} of other kinds (build reads .txt, .md, .text and "
                f".jsonl): {shown}")
        for m, alias, canonical in merged:
            where = f", {m.doc_id}" if m.doc_id else ""
            say(f'merged: "{alias}" into "{canonical}" ({m.method}{where})')
        if len(report.merges) > len(merged):
            say(f"... and {len(report.merges) - len(merged)} more merges: kgllm merges list {_where_flags(spec)}")
        if merged:
            say(f"undo a merge: kgllm merges undo ALIAS {_where_flags(spec)} (ALIAS as kgllm merges list shows it)")
        if report.violations:
            say(f"{report.violations} facts violate the schema's domain/range ("
                + ("dropped" if on_violation == "drop" else "kept") + "):")
            for v in report.violation_examples[:5]:
                say(f"  {v.fact.as_line()}: {v.reason}" + (f' in "{v.sentence}"' if v.sentence else ""))

    run(go)


def say(line: str) -> None:
    """One line on stderr, as written (no markup, no highlighting)."""
    err.print(line, highlight=False, markup=False)


def _where_flags(spec: StoreSpec) -> str:
    return f"--graph {spec.graph}" if spec.kind == "memory" else f"--store neo4j --uri {spec.uri}"


def _merge_names(store: Any, merge: Any) -> tuple[str, str]:
    """The alias's and the canonical entity's names as written (ids where the store does not know them)."""
    from kgllm.types import entity_id

    entity = store.get_entity(merge.canonical)
    if entity is None:
        return merge.alias, merge.canonical
    alias = next((a for a in entity.aliases if entity_id(a) == merge.alias), merge.alias)
    return alias, entity.name
