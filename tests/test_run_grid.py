"""``compbench run-grid``: bundles x base models x sub-tasks, finished runs skipped, the Table 2 layout."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.evaluation.engine import TransformersEngine
from compbench.evaluation.grid import read_grid, run_grid
from compbench.schemas import Results
from tests.support.engines import one_torch_thread  # noqa: F401 (autouse fixture)
from tests.support.method_bundles import method_bundle, write_eval_release
from tests.support.tiny_chat import save_tiny_chat_model, tiny_chat_model

GRID = """\
data: release
out: runs
subtasks: [sum+tr-es, reply+tone-casual]
limit: 2
batch_size: 2
max_new_tokens: 3
bootstrap: 10
models:
  - name: llama
    base_model: models/llama
    bundles:
      - zero-shot
      - bundles/llama/main-lora
      - {bundle: bundles/llama/lc, label: lc-es}
      - bundles/llama/reply-lora
  - name: qwen2
    base_model: models/qwen2
    bundles: [zero-shot, bundles/qwen2/main-lora]
"""


@pytest.fixture()
def grid(tmp_path):
    shapes, _ = tiny_chat_model(seed=1)
    save_tiny_chat_model(tmp_path / "models" / "llama", seed=1)
    save_tiny_chat_model(tmp_path / "models" / "qwen2", seed=2, architecture="qwen2")
    write_eval_release(tmp_path / "release", ["sum+tr-es", "reply+tone-casual"], test=2, train=2)
    for base in ("llama", "qwen2"):
        method_bundle(tmp_path / "bundles" / base / "main-lora", "main-lora", shapes, "hub/model-id")
    method_bundle(tmp_path / "bundles" / "llama" / "lc", "lc", shapes, "hub/model-id")
    method_bundle(tmp_path / "bundles" / "llama" / "reply-lora", "main-lora", shapes, "hub/model-id",
                  subtask="reply+tr-es")
    (tmp_path / "grid.yaml").write_text(GRID)
    return tmp_path


def test_grid_runs_every_cell_then_skips_them_and_lays_out_table2(grid):
    result = CliRunner().invoke(main, ["run-grid", str(grid / "grid.yaml"), "--cache-dir", str(grid / "cache"),
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    runs = {(model, label): Results.model_validate_json((grid / "runs" / model / label / "results.json").read_text())
            for model, label in [("llama", "zero-shot"), ("llama", "main-lora"), ("llama", "lc-es"),
                                 ("llama", "reply-lora"), ("qwen2", "zero-shot"), ("qwen2", "main-lora")]}
    # each bundle ran on the grid's sub-tasks it serves, with the grid's base model
    assert list(runs["llama", "zero-shot"].subtasks) == ["sum+tr-es", "reply+tone-casual"]
    assert list(runs["llama", "main-lora"].subtasks) == ["sum+tr-es"]
    assert list(runs["llama", "reply-lora"].subtasks) == ["reply+tone-casual"]
    assert runs["qwen2", "main-lora"].base_model == str(grid / "models" / "qwen2")
    table = result.output
    lines = {line.split("  ")[0]: line for line in table.splitlines()}
    # methods in registry order, blocks as in the paper; sum+tr has 3 sub-tasks x 2 models, 2 of them here
    assert table.index("Zero-shot") < table.index("Main-task LoRA") < table.index("Learnable Calibration")
    zero_shot = sum(runs[m, "zero-shot"].subtasks["sum+tr-es"].main for m in ("llama", "qwen2")) / 2
    assert f"{zero_shot:.2f} (2/6)" in lines["Zero-shot"]
    main_lora = [runs["llama", "main-lora"].subtasks["sum+tr-es"].main,
                 runs["qwen2", "main-lora"].subtasks["sum+tr-es"].main,
                 runs["llama", "reply-lora"].subtasks["reply+tone-casual"].main]
    assert f"{sum(main_lora[:2]) / 2:.2f} (2/6)" in lines["Main-task LoRA"]
    assert f"{main_lora[2]:.2f} (1/8)" in lines["Main-task LoRA"]
    assert "(k/n): partial average" in table

    engine = TransformersEngine(batch_size=2)
    again = run_grid(grid / "grid.yaml", engine=engine, cache_dir=grid / "cache", progress=False)
    assert {run.status for run in again.runs} == {"finished before"} and engine.loads == 0
    assert again.to_dict()["table"]["rows"][0]["families"]["sum+tr"]["main"] == round(zero_shot, 4)


def test_a_bundle_that_serves_none_of_the_grid_is_reported(grid):
    (grid / "grid.yaml").write_text(GRID.replace("[sum+tr-es, reply+tone-casual]", "[reply+tone-casual]")
                                    .replace("      - zero-shot\n", "", 1))
    report = run_grid(grid / "grid.yaml", engine=None, cache_dir=grid / "cache", progress=False)
    statuses = {(r.cell.model, r.cell.label): r.status for r in report.runs}
    assert statuses["llama", "main-lora"] == "serves none of the grid's sub-tasks"
    assert statuses["llama", "reply-lora"] == "ran"
    assert not (grid / "runs" / "llama" / "main-lora").exists()


@pytest.mark.parametrize(("change", "message"), [
    (("limit: 2", "limit: 2\ntemperature: 0.7"), "invalid grid at temperature: Extra inputs are not permitted"),
    (("- zero-shot\n      - bundles/llama/main-lora", "- lc\n      - bundles/llama/main-lora"),
     "method 'lc' needs a bundle directory"),
    (("{bundle: bundles/llama/lc, label: lc-es}", "{bundle: bundles/llama/lc, label: zero-shot}"),
     "two bundles are labelled 'zero-shot'"),
    (("models:", "models: [\n"), "invalid YAML"),
    (("[sum+tr-es, reply+tone-casual]", "[sum+tr-es, reply+tr-fr]"), "the release has no split of sub-task reply+tr-fr"),
])
def test_bad_grid_files_exit_2(grid, change, message):
    (grid / "grid.yaml").write_text(GRID.replace(*change))
    result = CliRunner().invoke(main, ["run-grid", str(grid / "grid.yaml"), "--no-progress"])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (grid / "runs").exists()


def test_relative_paths_are_relative_to_the_grid_file(grid):
    grid_file, cells = read_grid(grid / "grid.yaml")
    assert grid_file.data == str(grid / "release") and grid_file.out == str(grid / "runs")
    assert [c.label for c in cells] == ["zero-shot", "main-lora", "lc-es", "reply-lora", "zero-shot", "main-lora"]
    assert cells[2].out == grid / "runs" / "llama" / "lc-es" and cells[0].method == "zero-shot"
    assert json.loads(json.dumps([c.base_model for c in cells]))[0] == str(grid / "models" / "llama")
