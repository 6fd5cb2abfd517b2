"""The built wheel carries its data: the rule files (read through importlib.resources) and the explorer's page; the
build prints no setuptools warnings (issue 22, items 11 and 21). Builds a real wheel, installs it into an empty
folder and runs a shipped rule from there, away from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                            "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (path,) = out.glob("kgllm-*.whl")
    return path, built.stdout + built.stderr


def test_the_build_prints_no_setuptools_warnings(wheel):
    _, log = wheel
    lines = [line for line in log.splitlines() if "Warning" in line or "deprecat" in line.lower()
             or "absent from" in line]
    assert lines == [], "\n".join(lines)


def test_the_wheel_holds_the_rule_files_and_the_explorer_page(wheel):
    names = set(zipfile.ZipFile(wheel[0]).namelist())
    assert {"kgllm/rules/kinship.rules", "kgllm/explorer/static/index.html", "kgllm/explorer/static/app.js",
            "kgllm/explorer/static/vendor/cytoscape.min.js"} <= names


def test_a_shipped_rule_runs_from_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                                str(site), str(wheel[0])], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    script = (
        "import kgllm, kgllm.rules\n"
        "from kgllm.reason.rules import RuleSet\n"
        "from kgllm.types import Fact\n"
        "print(kgllm.__file__)\n"
        "rules = RuleSet.load(str(kgllm.rules.path('kinship')))\n"
        "out = rules.infer([Fact('ann', 'son', 'bo'), Fact('bo', 'daughter', 'cy'), Fact('cy', 'gender', 'female')])\n"
        "print(out.get('ann', 'granddaughter', 'cy').as_line())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env=dict(env, PYTHONPATH=str(site)))
    assert ran.returncode == 0, ran.stderr[-3000:]
    where, line = ran.stdout.strip().splitlines()
    assert where.startswith(str(site))               # the wheel's kgllm, not the checkout's
    assert line == "ann --granddaughter--> cy"
