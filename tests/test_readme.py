"""The README says what is true: CI runs its test commands, its benchmark commands exist, and every compbench
command it shows is one the CLI has (with its sub-command)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from compbench.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _code_lines() -> list[str]:
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", README, re.S)
    lines = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith(("#", "$", "[", "|")):
                lines.append(line)
    return lines


def test_ci_runs_the_readme_install_and_test_commands():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    install = '-c ci/requirements.lock -e ".[all,test]"'
    assert f"pip install {install}" in README
    assert re.search(r"^python -m pip install (-q )?" + re.escape(install), ci, re.M)
    assert "python -m pytest -q" in README
    assert re.search(r"^python -m pytest -q\s", ci, re.M)


def test_every_benchmark_command_names_a_file_of_benchmarks():
    named = set(re.findall(r"python -m benchmarks\.(\w+)", README)) | set(
        re.findall(r"python benchmarks/(\w+)\.py", README))
    assert named and all((REPO / "benchmarks" / f"{name}.py").is_file() for name in named), named
    # every benchmark of the directory is quoted in the README's performance table
    assert {p.stem for p in (REPO / "benchmarks").glob("bench_*.py")} <= named


def test_every_compbench_command_shown_exists_with_its_options():
    shown = [line for line in _code_lines() if line.startswith("compbench ")]
    assert len(shown) > 20
    for line in shown:
        words = [w for w in shlex.split(line.replace("...", "")) if w != "compbench"]
        command, context = main, None
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            context = words[0]
            assert words[0] in command.commands, f"no command {words[0]!r}: {line}"
            command = command.commands[words.pop(0)]
        known = {name for param in command.params for name in getattr(param, "opts", [])}
        for word in words:
            if word.startswith("--"):
                assert word.split("=")[0] in known, f"{context}: no option {word}: {line}"
