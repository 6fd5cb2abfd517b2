"""Job specs: YAML files (examples in ``pipelines/``) validated on load.

A spec names the documents to read (``sources``), how to read them (``extractor``), where the graph lives
(``store``), when to run (``schedule``, a cron expression), how many documents go to the extractor at once
(``batch_size``) and where extraction runs (``executor``: ``local`` or ``ray``). Relative paths are read
relative to the spec file's folder, so a spec runs the same from any working directory.

Every error names the file, the key (``sources[1].glob``), its line and what was expected.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "nightly.yaml").write_text(
...     "sources:\\n  - folder: texts\\nstore: graph.sqlite\\nschedule: '0 3 * * *'\\n")
>>> spec = load_spec(folder / "nightly.yaml")
>>> spec.name, spec.batch_size, spec.extractor.mode, spec.executor.kind, spec.store.path.name
('nightly', 64, 'rules', 'local', 'graph.sqlite')
>>> _ = (folder / "bad.yaml").write_text("sources:\\n  - folder: texts\\nstore: g.sqlite\\nbatch_sise: 8\\n")
>>> load_spec(folder / "bad.yaml")
Traceback (most recent call last):
...
kgllm.jobs.spec.SpecError: ...bad.yaml:4: unknown key 'batch_sise' (expected one of: name, sources, extractor, store, schedule, batch_size, executor, fail_fast, lock_timeout, log, allow_duplicates)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kgllm.errors import ConfigError, InputError, NotFoundError

__all__ = ["JobSpec", "SourceSpec", "ExtractorSpec", "StoreSettings", "ExecutorSpec", "SpecError", "load_spec",
           "parse_spec", "check_cron"]


class SpecError(ConfigError, InputError):
    """A job spec is not what was expected: a configuration error, and bad input (the CLI exits with status 2).

    >>> issubclass(SpecError, ConfigError) and issubclass(SpecError, InputError)
    True
    """


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Model):
    """One source of documents: exactly one of ``folder`` (with ``glob``), ``jsonl`` or ``tsv`` (a knowledge base).

    Folder files are text (``.txt``, ``.md``, ``.text``) or JSONL; a file's id is its path inside the folder.
    A JSONL line's id is its ``id_field`` (else ``<file>:<line>``). A TSV knowledge base is one document.
    ``id_prefix`` is put before every id (two sources with the same file names in one store).
    """

    folder: Optional[Path] = None
    jsonl: Optional[Path] = None
    tsv: Optional[Path] = None
    glob: str = "**/*"
    text_field: str = Field("text", min_length=1)
    id_field: str = Field("id", min_length=1)
    id_prefix: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> "SourceSpec":
        kinds = [k for k in ("folder", "jsonl", "tsv") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("expected exactly one of the keys folder, jsonl or tsv"
                             + (f" (got {', '.join(kinds)})" if kinds else ""))
        if self.glob != "**/*" and kinds[0] != "folder":
            raise ValueError("the key glob goes with a folder source")
        return self

    @property
    def kind(self) -> str:
        """``folder``, ``jsonl`` or ``tsv``."""
        return "folder" if self.folder is not None else "jsonl" if self.jsonl is not None else "tsv"

    @property
    def path(self) -> Path:
        """The folder or file this source reads."""
        return self.folder or self.jsonl or self.tsv  # type: ignore[return-value]


class ExtractorSpec(_Model):
    """How documents become facts.

    ``mode``: ``rules`` (spaCy dependency rules, the default), ``lm`` or ``hybrid`` (the language model, where
    this kgllm has them); ``schema``: a relation schema file (facts typed onto it, others dropped);
    ``canonicalize``: join near-identical relation spellings (without a schema); ``resolve``: entity
    resolution against the graph: ``fuzzy`` (names, the default), ``embedding`` (names and embeddings;
    slower) or ``none``; ``model``: a local model folder or .gguf file for the ``lm``/``hybrid`` modes;
    ``model_dir``: for mode ``trained`` (a relation model, typing onto ``schema``), the folder
    ``kgllm train extraction`` wrote.
    """

    mode: Literal["rules", "lm", "hybrid", "trained"] = "rules"
    schema_: Optional[Path] = Field(None, alias="schema")
    canonicalize: bool = False
    resolve: Literal["none", "fuzzy", "embedding"] = "fuzzy"
    model: Optional[Path] = None
    model_dir: Optional[Path] = None

    @model_validator(mode="after")
    def _model_dir(self) -> "ExtractorSpec":
        if (self.mode == "trained") != (self.model_dir is not None):
            raise ValueError("model_dir goes with mode trained, and mode trained needs it (the folder kgllm train "
                             "extraction wrote)")
        return self


class StoreSettings(_Model):
    """Where the graph lives: ``path`` (a SQLite graph file) or ``uri`` (a Neo4j server).

    A plain string is shorthand: ``bolt://host:7687`` (anything with ``://``) is a URI, anything else a path.
    The Neo4j password is read from the environment variable ``password_env`` (never from the spec).
    """

    path: Optional[Path] = None
    uri: Optional[str] = None
    user: str = "neo4j"
    password_env: str = "NEO4J_PASSWORD"
    database: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"uri": value} if "://" in value else {"path": value}
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> "StoreSettings":
        if (self.path is None) == (self.uri is None):
            raise ValueError("expected a graph file path or a Neo4j URI (bolt://HOST:7687), exactly one")
        if self.uri is not None and not self.uri.split("://", 1)[0] in ("bolt", "bolt+s", "bolt+ssc", "neo4j",
                                                                          "neo4j+s", "neo4j+ssc"):
            raise ValueError(f"expected a Neo4j URI (bolt://HOST:PORT or neo4j://HOST:PORT), got {self.uri!r}")
        if self.path is not None and self.path.suffix.lower() not in (".sqlite", ".db", ".sqlite3"):
            raise ValueError(f"expected a SQLite graph file (.sqlite or .db; jobs need the durable store), "
                             f"got {str(self.path)!r}")
        return self

    @property
    def where(self) -> str:
        """The path or the URI, for messages."""
        return str(self.path) if self.path is not None else str(self.uri)

    def password(self) -> Optional[str]:
        """The Neo4j password from the environment (``None``: a server without authentication)."""
        return os.environ.get(self.password_env) or None


class ExecutorSpec(_Model):
    """Where extraction runs: ``local`` (this process) or ``ray`` (a Ray cluster at ``address``; without one,
    a local Ray instance with ``workers`` workers). Writes always go through the driver, in document order.
    A plain string (``local``, ``ray``) is shorthand for ``{kind: ...}``.
    """

    kind: Literal["local", "ray"] = "local"
    address: Optional[str] = None
    workers: int = Field(2, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value


class JobSpec(_Model):
    """A validated job spec (see the module docstring); ``file`` is where it was read from."""

    name: str = Field("", pattern=r"^[A-Za-z0-9_.-]*$")
    sources: list[SourceSpec] = Field(..., min_length=1)
    extractor: ExtractorSpec = ExtractorSpec()
    store: StoreSettings
    schedule: Optional[str] = None
    batch_size: int = Field(64, ge=1, le=100_000)
    executor: ExecutorSpec = ExecutorSpec()
    fail_fast: bool = False
    lock_timeout: float = Field(0.0, ge=0)
    log: Optional[Path] = None
    allow_duplicates: bool = False
    file: Optional[Path] = Field(None, exclude=True)
    base: Optional[Path] = Field(None, exclude=True)  # the folder relative paths are read from (the spec's)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            check_cron(value)
        return value


def check_cron(expr: str) -> None:
    """Raise ``ValueError`` unless ``expr`` is a 5-field cron expression APScheduler accepts.

    >>> check_cron("*/15 * * * *")
    >>> check_cron("every day")
    Traceback (most recent call last):
    ...
    ValueError: expected a cron expression of 5 fields (minute hour day month weekday, e.g. '0 3 * * *'), got 'every day'
    """
    from apscheduler.triggers.cron import CronTrigger

    try:
        if len(expr.split()) != 5:
            raise ValueError("wrong number of fields")
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        detail = "" if "wrong number" in str(exc) else f": {exc}"
        raise ValueError("expected a cron expression of 5 fields (minute hour day month weekday, "
                         f"e.g. '0 3 * * *'), got {expr!r}{detail}") from None


_TOP_KEYS = [n for n in JobSpec.model_fields if n != "file"]


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("schema" if part == "schema_" else str(part))
    return out


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = JobSpec
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else (args[0] if args else None)
        if model is None:
            return []
    return [f.alias or n for n, f in model.model_fields.items() if n not in ("file", "base")]


def _line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> Optional[int]:
    loc = tuple("schema" if p == "schema_" else p for p in loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def _message(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    key = _key_path(loc)
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"unknown key {key!r}" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    if err["type"] == "missing":
        return f"missing key {key!r}"
    msg = str(err["msg"]).removeprefix("Value error, ").replace("Input should be", "expected")
    msg = msg.replace("String should match pattern '^[A-Za-z0-9_.-]*$'", "expected letters, digits, _ . -")
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or "got" in msg else f", got {got!r}"
    return (f"{key}: " if key else "") + msg + shown


def _yaml_lines(text: str) -> dict[tuple[Any, ...], int]:
    """1-based line of every key path in the YAML text (for messages)."""
    import yaml

    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines[path + (k.value,)] = k.start_mark.line + 1
                walk(v, path + (k.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[path + (i,)] = v.start_mark.line + 1
                walk(v, path + (i,))

    try:
        walk(yaml.compose(text), ())
    except yaml.YAMLError:
        pass
    return lines


def parse_spec(data: Any, where: str = "<spec>", base: Optional[Path] = None,
               lines: Optional[dict[tuple[Any, ...], int]] = None, default_name: str = "job") -> JobSpec:
    """Validate a spec given as a dict; relative paths are made relative to ``base``.

    >>> parse_spec({"sources": [{"jsonl": "feed.jsonl"}], "store": "bolt://db:7687"}, base=Path("/srv")).sources[0].path
    PosixPath('/srv/feed.jsonl')
    >>> parse_spec({"sources": [], "store": "g.sqlite"})
    Traceback (most recent call last):
    ...
    kgllm.jobs.spec.SpecError: <spec>: sources: List should have at least 1 item after validation, not 0
    """
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping of keys (name, sources, store, ...), "
                          f"got {type(data).__name__}")
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line(lines or {}, tuple(first["loc"]))
        raise SpecError(f"{where}{f':{line}' if line else ''}: {_message(first)}") from None
    base = base or Path(".")

    def rel(p: Optional[Path]) -> Optional[Path]:
        return None if p is None else Path(os.path.normpath(p if p.is_absolute() else base / p))

    sources = [s.model_copy(update={k: rel(getattr(s, k)) for k in ("folder", "jsonl", "tsv")})
               for s in spec.sources]
    extractor = spec.extractor.model_copy(update={"schema_": rel(spec.extractor.schema_),
                                                   "model": rel(spec.extractor.model),
                                                   "model_dir": rel(spec.extractor.model_dir)})
    store = spec.store.model_copy(update={"path": rel(spec.store.path)})
    return spec.model_copy(update={"name": spec.name or default_name, "sources": sources, "extractor": extractor,
                                   "store": store, "log": rel(spec.log), "base": Path(os.path.abspath(base))})


def load_spec(path: str | os.PathLike[str]) -> JobSpec:
    """Read and validate a YAML job spec (see the module docstring).

    Raises
    ------
    NotFoundError
        The file does not exist.
    SpecError
        Malformed YAML, an unknown key or a bad value: the message names the file, the line, the key and
        what was expected.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"job spec not found: {p}")
    text = p.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        raise SpecError(f"{where}: malformed YAML ({getattr(exc, 'problem', None) or exc})") from None
    spec = parse_spec(data, str(p), p.resolve().parent, _yaml_lines(text), default_name=p.stem)
    return spec.model_copy(update={"file": p})
