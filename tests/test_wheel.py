"""What a user gets from `pip install compbench`: the wheel, built from a copy of this checkout (nothing is
written into it), installed WITHOUT extras into a fresh virtual environment: no torch, yet tasks, score,
compare and efficiency work, and commands that need an extra say which one to install."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "ci" / "requirements.lock"
_IGNORED_ANYWHERE = shutil.ignore_patterns(".git", ".venv*", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache")


def _ignored(directory: str, names: list[str]) -> set[str]:
    """What a fresh clone would not have: virtual environments, caches, and the top level's build outputs."""
    ignored = set(_IGNORED_ANYWHERE(directory, names))
    if Path(directory) == ROOT:
        ignored |= {n for n in names if n in ("build", "dist", "results.json", "results.examples.parquet")}
    return ignored

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_ignored)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp / "dist"), str(source)], check=True, capture_output=True)
    return next((tmp / "dist").glob("compbench-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and its core dependencies (pinned by the CI lock)."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    constraints = ["-c", str(LOCK)] if LOCK.is_file() else []
    install = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", *constraints,
                              str(wheel)], capture_output=True, text=True, check=False, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    return env_dir


def run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "compbench"), *args], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=300)


def test_wheel_contains_the_packages_and_no_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("compbench/", "compbench/evaluation/", "compbench/methods/", "builders/", "data_cards/"):
        assert any(n.startswith(package) for n in names), package
    for data in ("compbench/leaderboard/paper_reference.json", "compbench/leaderboard/assets/page.html",
                 "compbench/leaderboard/assets/leaderboard.js", "compbench/leaderboard/assets/leaderboard.css"):
        assert data in names, data
    assert not any(n.startswith(("tests/", "benchmarks/", "leaderboard/")) for n in names)  # the entry store is data, not code


def test_the_core_install_has_no_torch_and_scores(venv, tmp_path):
    python = str(venv / "bin" / "python")
    probe = subprocess.run([python, "-c", "import importlib.util as u, compbench; print(compbench.__file__); "
                            "print([m for m in ('torch', 'transformers', 'peft') if u.find_spec(m)])"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.splitlines()
    assert probe[0].startswith(str(venv)) and probe[1] == "[]"
    result = run(venv, tmp_path, "tasks", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) > 20
    result = run(venv, tmp_path, "-h")
    assert "score" in result.stdout and "evaluate" in result.stdout
    result = run(venv, tmp_path, "methods", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 22
    out = tmp_path / "results.json"
    result = run(venv, tmp_path, "score", str(ROOT / "examples/predictions.jsonl"), "--references",
                 str(ROOT / "examples/references.jsonl"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["subtasks"]["sum+tr-es"]["n"] == 3
    result = run(venv, tmp_path, "compare", str(out), str(out))
    assert result.returncode == 0, result.stderr
    result = run(venv, tmp_path, "efficiency", "--base-model", "llama-3.2-1b", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["methods"]["lc"]["additional_params"] == 23_552


@pytest.mark.parametrize(("args", "extra"), [
    (["train", "lora", "--task", "sum", "--base-model", "m", "--data", ".", "--out", "x"], "train"),
    (["adapters", "inspect", "x"], "evaluate"),
])
def test_commands_that_need_an_extra_say_which(venv, tmp_path, args, extra):
    result = run(venv, tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert f"pip install 'compbench[{extra}]'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_the_core_install_builds_the_leaderboard(venv, tmp_path):
    result = run(venv, tmp_path, "leaderboard", "build", "--store", str(tmp_path / "store"), "--out",
                 str(tmp_path / "board"))
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "board" / "tables" / "paper" / "paper-table2.md").read_text()
    assert "| Learnable Calibration++ | 28.64 | 65.15 |" in table
    assert "leaderboard-data" in (tmp_path / "board" / "index.html").read_text()
