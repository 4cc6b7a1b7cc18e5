"""What a user gets from `pip install`: the built wheel alone, outside this checkout, runs the CLI."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("compbench-*.whl"))
    target = tmp / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)  # a wheel is a zip of the installed tree
    env = {**os.environ, "PYTHONPATH": str(target)}
    return wheel, target, env, tmp


def run(env, cwd, *args):
    return subprocess.run([sys.executable, "-m", "compbench", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, check=False)


def test_wheel_contains_the_packages_and_no_tests(installed):
    wheel, _, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("compbench/", "compbench/evaluation/", "compbench/methods/", "builders/", "leaderboard/",
                    "data_cards/"):
        assert any(n.startswith(package) for n in names), package
    assert not any(n.startswith("tests/") for n in names)


def test_wheel_runs_tasks_and_score_outside_the_checkout(installed):
    _, target, env, tmp = installed
    where = subprocess.run([sys.executable, "-c", "import compbench; print(compbench.__file__)"], env=env, cwd=tmp,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(target)), where
    result = run(env, tmp, "tasks", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) > 20
    result = run(env, tmp, "-h")
    assert "score" in result.stdout and "evaluate" in result.stdout
    result = run(env, tmp, "methods", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 22
    out = tmp / "results.json"
    result = run(env, tmp, "score", str(ROOT / "examples/predictions.jsonl"), "--references",
                 str(ROOT / "examples/references.jsonl"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["subtasks"]["sum+tr-es"]["n"] == 3
