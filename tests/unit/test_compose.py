"""docker-compose.yml and the Dockerfile, checked by structure: the kgllm service's steps are parsed by the real CLI."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import typer

from kgllm.cli import app

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "compose-test-pw"


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ``${X:?msg}`` (required), ``${X:-default}``, ``${X}``, ``$$`` -> ``$``."""
    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name} is required: {arg}")
        return arg if op == ":-" else ""

    text = re.sub(r"(?<!\$)\$\{(\w+)(?:(:\?|:-)([^}]*))?\}", one, str(value))
    return text.replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _env(svc: dict, host: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(v, host) for k, v in svc.get("environment", {}).items()}


def test_neo4j_keeps_its_data_in_a_named_volume(compose):
    mounts = {target: source for source, target in (v.split(":", 1) for v in compose["services"]["neo4j"]["volumes"])}
    assert mounts["/data"] in compose["volumes"]          # declared: the graph outlives a new container


def test_neo4j_is_the_major_version_the_tests_run_against(compose):
    pom = (ROOT / "graphs" / "neo4j-server" / "pom.xml").read_text(encoding="utf-8")
    tested = re.search(r"<neo4j.version>(\d+)\.", pom).group(1)      # the embedded server of tests/conformance
    image, _, tag = compose["services"]["neo4j"]["image"].partition(":")
    assert (image, tag.split(".")[0]) == ("neo4j", tested)


def test_neo4j_is_reachable_from_this_host_only(compose):
    ports = compose["services"]["neo4j"]["ports"]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports)   # not published beyond the host
    assert "7687" in {p.rsplit(":", 1)[1] for p in ports}              # Bolt, which the CLI speaks


def test_the_healthcheck_logs_in_as_the_service_user_with_its_password(compose):
    neo = compose["services"]["neo4j"]
    env = _env(neo, {"NEO4J_PASSWORD": PASSWORD})
    user, _, password = env["NEO4J_AUTH"].partition("/")
    kind, script = neo["healthcheck"]["test"]
    argv = shlex.split(interpolate(script, {}).replace("$NEO4J_PASSWORD", env["NEO4J_PASSWORD"]))
    assert kind == "CMD-SHELL" and argv[0] == "cypher-shell"
    assert (argv[argv.index("-u") + 1], argv[argv.index("-p") + 1]) == (user, password)


def test_password_is_required_not_hardcoded(compose):
    for svc in compose["services"].values():
        for name, value in svc.get("environment", {}).items():
            if "PASSWORD" in name or "AUTH" in name:
                with pytest.raises(KeyError, match="NEO4J_PASSWORD is required"):
                    interpolate(value, {})


def test_kgllm_service_waits_for_a_healthy_neo4j(compose):
    svc = compose["services"]["kgllm"]
    assert svc["depends_on"]["neo4j"]["condition"] == "service_healthy"    # not merely started
    assert (ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
    source, target = interpolate(svc["volumes"][0], {}).split(":")[:2]
    assert (ROOT / source).is_dir() and target == "/docs"                    # the default documents exist


def _cli_envvars() -> set[str]:
    names: set[str] = set()

    def walk(cmd) -> None:
        for p in cmd.params:
            if p.envvar:
                names.update([p.envvar] if isinstance(p.envvar, str) else p.envvar)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return names


def test_kgllm_service_sets_the_variables_the_cli_reads(compose):
    env = compose["services"]["kgllm"]["environment"]
    read = _cli_envvars()
    assert {"NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"} <= read
    assert set(env) - {"KGLLM_QUESTION"} <= read and {"NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"} <= set(env)


def test_kgllm_steps_reach_the_neo4j_service(compose, monkeypatch):
    """Each step of the service's command, parsed by the CLI itself with the service's environment."""
    svc = compose["services"]["kgllm"]
    env = _env(svc, {"NEO4J_PASSWORD": PASSWORD})
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "KGLLM_DOCS", "KGLLM_LLM_URL", "KGLLM_LLM_NAME",
                 "KGLLM_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert svc["entrypoint"] == ["/bin/sh", "-c"] and len(svc["command"]) == 1
    script = interpolate(svc["command"][0], {})
    steps = [shlex.split(step) for step in script.split("&&")]
    cli = typer.main.get_command(app)
    seen = []
    for argv in steps:
        assert argv[0] == "kgllm", argv
        argv = [re.sub(r"^\$(\w+)$", lambda m: env[m.group(1)], a) for a in argv[1:]]   # the shell's expansion
        ctx = cli.commands[argv[0]].make_context(argv[0], argv[1:])
        assert ctx.params["store"] == "neo4j"
        assert (ctx.params["uri"], ctx.params["user"], ctx.params["password"]) == ("bolt://neo4j:7687", "neo4j",
                                                                                  PASSWORD)
        seen.append(argv[0])
        if argv[0] == "build":
            assert [str(s) for s in ctx.params["sources"]] == ["/docs"]
        if argv[0] == "ask":
            assert ctx.params["question"] == env["KGLLM_QUESTION"]
    assert seen == ["build", "stats", "ask"]


def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1].strip()) for ln in text.splitlines() if ln.strip()]


def test_the_image_copies_what_the_package_build_reads_and_runs_kgllm_unprivileged():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    steps = _dockerfile()
    install = next(i for i, (op, args) in enumerate(steps) if op == "RUN" and "pip install ." in args)
    copied = {src.rstrip("/").removeprefix("./") for op, args in steps[:install] if op == "COPY"
              for src in args.split()[:-1]}
    assert {"pyproject.toml", project["readme"], "kgllm"} <= copied          # what `pip install .` reads
    user = next(i for i, (op, _) in enumerate(steps) if op == "USER")
    assert user > install and steps[user][1] != "root"
    assert json.loads(dict(steps)["ENTRYPOINT"])[0] in project["scripts"]    # the console script pip installs
