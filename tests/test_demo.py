"""``compbench demo``: the whole benchmark end to end (``--fast``), resumed with identical tables, and its errors."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.methods import METHODS


def _table2(output: str) -> str:
    """The Table 2 block of the demo's output (everything from its title to the line before the first blank
    line after the table's notes)."""
    start = output.index("### Table 2")
    end = output.index("\nSynthetic world:", start)
    return output[start:end]


@pytest.mark.slow
def test_demo_fast_end_to_end_and_rerun(tmp_path):
    out = tmp_path / "demo"
    first = CliRunner().invoke(main, ["demo", "--fast", "--out", str(out), "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "not Spanish, French or German" in first.output
    table = _table2(first.output)
    assert "Paper's ordering: multi-step, joint-expert, LC and LC++ above" in table
    assert re.search(r"^Table 4: calibration on top of the LoRAs above .* in \d+ of 16 cells", table, re.M)
    for spec in METHODS.values():  # every method of Table 2 has its row (Table 4's ablation has its own table)
        if spec.block != "ablation":
            assert f"| {spec.label} |" in table, spec.label
    single = re.findall(r"^(\S+)\s+(ROUGE-L|W-ROUGE)\s+([\d.]+)\s+([\d.]+)$", first.output, re.M)
    assert {task for task, *_ in single} == {"sum", "reply", "tr-es", "tone-professional"}
    page = out / "leaderboard" / "site" / "index.html"
    assert page.is_file() and str(page) in first.output
    tables = next((out / "leaderboard" / "site" / "tables").glob("*/table4.md"))
    assert "LC w/o LoRAs" in tables.read_text()  # Table 4's ablation rows
    entries = json.loads((out / "leaderboard" / "site" / "leaderboard.json").read_text())
    assert entries  # the page's data

    again = CliRunner().invoke(main, ["demo", "--fast", "--out", str(out), "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "0 steps run" in again.output and "reused" in again.output
    assert _table2(again.output) == table  # byte-identical tables


def test_demo_needs_the_train_extra(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nevergrad" else real(name, *a))
    result = CliRunner().invoke(main, ["demo", "--fast", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 2
    assert "pip install 'compbench[train]'" in result.output
    assert not (tmp_path / "demo").exists()


def test_demo_refuses_a_file_as_out(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = CliRunner().invoke(main, ["demo", "--fast", "--out", str(target)])
    assert result.exit_code == 2 and "is a file" in result.output and "Traceback" not in result.output
    assert target.read_text() == "x"


def test_steps_are_reused_only_with_the_same_fingerprint(tmp_path):
    from compbench.demo.steps import Job, Workers

    calls = []

    def make(directory: Path) -> dict:
        calls.append(directory.name)
        (directory / "out.txt").write_text("made")
        return {"n": len(calls)}

    workers = Workers(1)
    first = workers.run(tmp_path, [Job("a/b", {"x": 1}, make)], lambda job, done: None)[0]
    assert not first.reused and (tmp_path / "a" / "b" / "out.txt").read_text() == "made"
    again = workers.run(tmp_path, [Job("a/b", {"x": 1}, make)], lambda job, done: None)[0]
    assert again.reused and again.info == {"n": 1} and len(calls) == 1
    changed = workers.run(tmp_path, [Job("a/b", {"x": 2}, make)], lambda job, done: None)[0]
    assert not changed.reused and len(calls) == 2

    def broken(directory: Path) -> dict:
        (directory / "half.txt").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        workers.run(tmp_path, [Job("a/b", {"x": 3}, broken)], lambda job, done: None)
    # the finished directory of the earlier fingerprint is untouched, and is not taken for the new one
    assert (tmp_path / "a" / "b" / "out.txt").read_text() == "made"
    assert not (tmp_path / "a" / "b" / "half.txt").exists()
    rerun = workers.run(tmp_path, [Job("a/b", {"x": 3}, make)], lambda job, done: None)[0]
    assert not rerun.reused and len(calls) == 3


def test_the_ordering_check_compares_each_candidate_with_the_best_single_adapter_or_plain_merge(tmp_path):
    from compbench.demo.orderings import format_orderings, orderings
    from compbench.methods import METHODS

    label = {m: s.label for m, s in METHODS.items()}
    rows = {"main-lora": (10.0, 50.0), "aux-lora": (20.0, 5.0), "ties": (30.0, 40.0),
            "lorahub": (90.0, 90.0),  # a learned merge: not a comparator
            "multi-step": (31.0, 45.0), "joint-expert": (80.0, 80.0), "lc": (29.0, 51.0), "lc++": (40.0, "")}
    lines = ["block,Method,A R-L,A R-L CI low,A R-L CI high,A R-L mark,B W-R,B W-R CI low,B W-R CI high,B W-R mark"]
    lines += [f"x,{label[m]},{a},0,0,,{b},0,0," for m, (a, b) in rows.items()]
    (tmp_path / "table2.csv").write_text("\n".join(lines) + "\n")
    found = {(o.method, o.column): o for o in orderings(tmp_path / "table2.csv")}
    candidates = {(label[m], c) for m in ("multi-step", "joint-expert", "lc", "lc++") for c in ("A R-L", "B W-R")}
    assert set(found) == candidates - {(label["lc++"], "B W-R")}  # an empty cell is no score
    assert {key for key, o in found.items() if o.holds} == {
        (label["multi-step"], "A R-L"), (label["joint-expert"], "A R-L"), (label["joint-expert"], "B W-R"),
        (label["lc"], "B W-R"), (label["lc++"], "A R-L")}
    assert found[(label["lc"], "A R-L")].best_label == label["ties"]
    assert found[(label["lc"], "B W-R")].best_score == 50.0
    assert "Holds in 5 of 7 cells." in format_orderings(list(found.values()))


def test_the_ablation_check_pairs_each_calibration_with_the_same_without_loras(tmp_path):
    from compbench.demo.orderings import ablation_orderings, format_ablation
    from compbench.methods import METHODS

    short = {m: s.short for m, s in METHODS.items()}
    scores = {"lc": 30.0, "lc-no-lora": 20.0, "lc++": 10.0, "lc++-no-lora": 12.0,
              "lc-shared": 5.0, "lc-shared-no-lora": 4.0, "lc++-shared": 9.0, "lc++-shared-no-lora": 1.0}
    lines = ["block,Method,A R-L,A R-L CI low,A R-L CI high,A R-L mark"]
    lines += [f"x,{short[m]},{v},0,0," for m, v in scores.items()]
    (tmp_path / "table4.csv").write_text("\n".join(lines) + "\n")
    found = {o.method: o for o in ablation_orderings(tmp_path / "table4.csv")}
    assert {m: (o.best_label, o.holds) for m, o in found.items()} == {
        short["lc"]: (short["lc-no-lora"], True), short["lc++"]: (short["lc++-no-lora"], False),
        short["lc-shared"]: (short["lc-shared-no-lora"], True), short["lc++-shared"]: (short["lc++-shared-no-lora"], True)}
    assert format_ablation(list(found.values())).startswith(
        "Table 4: calibration on top of the LoRAs above the same calibration without them in 3 of 4 cells; not: ")
