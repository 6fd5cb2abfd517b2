"""Help a person reads: usage names arguments in capitals, flags take no value, prose is not hard-wrapped."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from kgllm.cli import app

runner = CliRunner()


def _commands() -> list[tuple[list[str], object]]:
    """Every command and group of the CLI as (argv prefix, click command), the top level first."""
    found = []

    def walk(prefix: list[str], cmd) -> None:
        found.append((prefix, cmd))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk([*prefix, name], sub)

    walk([], typer.main.get_command(app))
    return found


COMMANDS = _commands()
IDS = [" ".join(p) or "kgllm" for p, _ in COMMANDS]


def _help(argv: list[str], width: int = 100) -> str:
    result = runner.invoke(app, [*argv, "--help"], env={"COLUMNS": str(width)}, prog_name="kgllm")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_command_is_walked():
    assert {" ".join(p) for p, _ in COMMANDS} == {
        "", "build", "ask", "query", "import-kb", "stats", "export", "import", "serve-llm",
        "neo4j", "neo4j start", "neo4j stop", "neo4j status",
        "eval", "eval extraction", "eval kgqa", "eval textgraph", "eval textqa", "eval dialogue", "chat", "sparql", "serve",
        "jobs", "jobs run", "jobs schedule", "jobs status", "jobs history", "jobs check",
        "docs", "docs list", "docs retract", "convert", "merges", "merges list", "merges undo",
        "train", "train extraction"}


@pytest.mark.parametrize("argv,cmd", COMMANDS, ids=IDS)
def test_help_has_no_braces_types_of_flags_or_checkout_paths(argv, cmd):
    text = _help(argv)
    for bad in ("{", "<bool>", "../shared", "shared/data", "…"):
        assert bad not in text, f"kgllm {' '.join(argv)} --help shows {bad!r}:\n{text}"


@pytest.mark.parametrize("argv,cmd", COMMANDS, ids=IDS)
def test_first_help_line_is_a_full_sentence(argv, cmd):
    first = cmd.help.split("\n\n")[0]
    assert re.fullmatch(r"[A-Z][^\n]*[A-Za-z0-9)]\.", first), first
    assert len(first.split()) >= 5, first


@pytest.mark.parametrize("argv,cmd", COMMANDS, ids=IDS)
def test_paragraphs_are_not_hard_wrapped(argv, cmd):
    """Each paragraph of the help is one line, so the terminal, not the docstring, decides where lines break."""
    for paragraph in cmd.help.split("\n\n"):
        assert "\n" not in paragraph, paragraph
    text = " ".join(_help(argv, width=400).split())
    for paragraph in cmd.help.split("\n\n"):
        assert " ".join(paragraph.split()) in text


@pytest.mark.parametrize("argv,cmd", COMMANDS, ids=IDS)
def test_help_mentions_only_options_the_command_has(argv, cmd):
    """E.g. export/import take --uri but no --store: their help must not send people to --store.

    An option named with another command (``kgllm ask --llm-url``) is that command's, and is skipped.
    """
    own = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
    text = re.sub(r"kgllm [a-z-]+ --[a-z-]+", "", _help(argv, width=400))
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))
    if argv and argv[0] in ("neo4j", "eval") and len(argv) == 1:
        return  # a group lists its commands' one-line help, not options
    assert mentioned <= own, f"kgllm {' '.join(argv)} --help mentions {sorted(mentioned - own)}"


def test_usage_lines_read_as_people_write_them():
    assert "Usage: kgllm build [OPTIONS] SOURCES..." in _help(["build"])
    assert "Usage: kgllm ask [OPTIONS] [QUESTION]" in _help(["ask"])
    assert "Usage: kgllm eval kgqa [OPTIONS] QUESTIONS" in _help(["eval", "kgqa"])
    assert "Usage: kgllm import [OPTIONS] FILE" in _help(["import"])
    text = _help(["build"])
    assert re.search(r"--no-resolve\s+Skip entity resolution", text), text        # a flag: no value column
    assert re.search(r"--graph\s+-g\s+FILE\s+Graph file", text), text               # an option: its value


def test_top_level_help_lists_every_command():
    text = _help([])
    for name in ("build", "ask", "query", "import-kb", "stats", "export", "import", "serve-llm", "neo4j", "eval"):
        assert re.search(rf"│ {re.escape(name)}\s", text), name
    assert "Usage: kgllm [OPTIONS] COMMAND [ARGS]..." in text


def test_serve_llm_takes_an_api_key_from_the_environment():
    cmd = dict((" ".join(p), c) for p, c in COMMANDS)["serve-llm"]
    key = next(p for p in cmd.params if p.name == "api_key")
    assert key.opts == ["--api-key"] and key.envvar == "KGLLM_API_KEY" and key.default is None
