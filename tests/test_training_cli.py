"""``compbench train ...`` end to end on a tiny model saved to disk: bundles written, bad input exits 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from compbench.adapters.calibration import load_calibration
from compbench.adapters.lora_io import load_lora
from compbench.bundle import validate_bundle
from compbench.cli import main
from tests.support.split_fixtures import write_split
from tests.support.tiny_chat import save_tiny_chat_model
from tests.support.tiny_peft import tiny_llama, write_random_adapter

FAST = ["--max-steps", "2", "--batch-size", "2", "--max-length", "256", "--no-progress"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model_dir = save_tiny_chat_model(root / "model", seed=1)
    for subtask in ("sum", "tr-es", "sum+tr-es", "sum+tr-fr", "sum+tr-de", "sum+tone-casual"):
        write_split(root / "release", subtask, "train", n=6)
    shapes_model = tiny_llama(seed=0)  # same layer shapes as the saved chat model
    adapters = [write_random_adapter(root / f"lora{i}", shapes_model, seed=i, r=4, alpha=8) for i in (1, 2)]
    return root, model_dir, adapters


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def base(ws, out):
    root, model_dir, _ = ws
    return ["--base-model", model_dir, "--data", root / "release", "--out", out, *FAST]


def manifest(path):
    return json.loads((path / "bundle.json").read_text())


def test_train_lora_writes_a_main_or_aux_bundle(workspace, tmp_path):
    code, out = run("train", "lora", "--task", "sum", "--rank", "4", "--alpha", "8", *base(workspace, tmp_path / "s"))
    assert code == 0, out
    assert "wrote main-lora bundle" in out
    bundle = validate_bundle(tmp_path / "s")
    assert bundle.manifest.method == "main-lora" and bundle.manifest.subtasks == ["sum"]
    assert bundle.manifest.parameters["r"] == 4 and bundle.manifest.parameters["steps"] == 2
    assert load_lora(bundle.adapter_path("sum")).ranks  # a real PEFT adapter
    assert not (tmp_path / "s.checkpoints").exists()  # checkpoints removed once the bundle is whole
    code, out = run("train", "lora", "--task", "tr-es", "--rank", "4", *base(workspace, tmp_path / "t"))
    assert code == 0, out
    assert manifest(tmp_path / "t")["method"] == "aux-lora"


def test_train_joint_expert(workspace, tmp_path):
    code, out = run("train", "joint-expert", "--family", "sum+tr", "--rank", "4", *base(workspace, tmp_path / "j"))
    assert code == 0, out
    data = manifest(tmp_path / "j")
    assert data["method"] == "joint-expert" and data["subtasks"] == ["sum+tr-es", "sum+tr-fr", "sum+tr-de"]


@pytest.mark.parametrize(("kind", "extra", "method"), [
    ("lc", ["--family", "sum+tr"], "lc"),
    ("lc++", ["--family", "sum+tr", "--family", "sum+tone-casual"], "lc++-shared"),
])
def test_train_calibration_writes_bundle_and_plain_lora(workspace, tmp_path, kind, extra, method):
    _, _, adapters = workspace
    code, out = run("train", "calibration", "--kind", kind, "--adapter", adapters[0], "--adapter", adapters[1],
                    *extra, "--export-lora", tmp_path / "plain", *base(workspace, tmp_path / "c"))
    assert code == 0, out
    bundle = validate_bundle(tmp_path / "c")
    assert bundle.manifest.method == method
    assert [a.name for a in bundle.manifest.adapters] == ["lora1", "lora2"]
    calibration = load_calibration(bundle.calibration_path)
    assert calibration.kind == kind
    plain = load_lora(tmp_path / "plain")
    assert set(plain.ranks.values()) == {4 + (1 if kind == "lc" else 4)}


def test_train_calibration_without_loras(workspace, tmp_path):
    code, out = run("train", "calibration", "--no-loras", "--family", "sum+tr", *base(workspace, tmp_path / "n"))
    assert code == 0, out
    data = manifest(tmp_path / "n")
    assert data["method"] == "lc-no-lora" and data["adapters"] == [] and data["calibration"]


@pytest.mark.parametrize("method", ["dam", "lorahub", "lm-cocktail"])
def test_train_merge_coefficients(workspace, tmp_path, method):
    _, _, adapters = workspace
    code, out = run("train", "merge-coefficients", "--method", method, "--budget", "4", "--family", "sum+tr-es",
                    "--adapter", adapters[0], "--adapter", adapters[1], *base(workspace, tmp_path / "m"))
    assert code == 0, out
    bundle = validate_bundle(tmp_path / "m")
    assert bundle.manifest.method == method
    if method == "dam":
        coefficients = bundle.load_calibration()
        assert all(tuple(m.shape)[0] == 2 for m in coefficients.values())
    else:
        assert len(bundle.manifest.parameters["weights"]) == 2
        assert bundle.manifest.parameters["examples"] == 5  # few-shot default


def test_bad_input_exits_2_with_a_message(workspace, tmp_path):
    root, model_dir, adapters = workspace
    cases = [
        (["train", "lora", "--task", "reply", *base(workspace, tmp_path / "a")], "split file not found"),
        (["train", "joint-expert", "--family", "sum+klingon", *base(workspace, tmp_path / "b")], "unknown"),
        (["train", "calibration", "--family", "sum+tr", *base(workspace, tmp_path / "c")], "--no-loras"),
        (["train", "calibration", "--family", "sum", "--no-loras", *base(workspace, tmp_path / "d")],
         "compositional"),
        (["train", "lora", "--task", "sum", "--lr", "-1", *base(workspace, tmp_path / "e")], "learning rate"),
    ]
    bad_bundle = tmp_path / "bad_bundle"
    bad_bundle.mkdir()
    (bad_bundle / "bundle.json").write_text('{"method": "lc"}')
    cases.append((["train", "calibration", "--family", "sum+tr", "--adapter", bad_bundle, "--adapter", adapters[0],
                   *base(workspace, tmp_path / "f")], "not a valid bundle manifest"))
    not_empty = tmp_path / "taken"
    not_empty.mkdir()
    (not_empty / "x").write_text("x")
    cases.append((["train", "lora", "--task", "sum", *base(workspace, not_empty)], "not an empty directory"))
    cases.append((["train", "lora", "--task", "sum", *base(workspace, tmp_path / "g")[:0], "--base-model",
                   tmp_path / "nowhere", "--data", root / "release", "--out", tmp_path / "g", *FAST],
                  "model directory not found"))
    for args, message in cases:
        code, out = run(*args)
        assert code == 2, (args, out)
        assert out.startswith("error: ") and message in out, (args, out)
        assert "Traceback" not in out


def test_a_killed_cli_run_resumes_to_the_same_calibration(workspace, tmp_path, monkeypatch):
    import torch

    import compbench.training.loop as loop

    _, _, adapters = workspace
    args = ["train", "calibration", "--kind", "lc++", "--family", "sum+tr", "--adapter", adapters[0], "--adapter",
            adapters[1], "--checkpoint-every", "1", "--max-steps", "4", "--batch-size", "2", "--max-length", "256",
            "--no-progress", "--base-model", workspace[1], "--data", workspace[0] / "release"]
    code, out = run(*args, "--out", tmp_path / "straight")
    assert code == 0, out

    real = loop._step_seed

    def killed_at_step_3(seed, step):
        if step == 2:
            raise RuntimeError("killed")
        return real(seed, step)

    monkeypatch.setattr(loop, "_step_seed", killed_at_step_3)
    result = CliRunner().invoke(main, [str(a) for a in (*args, "--out", tmp_path / "resumed")])
    assert isinstance(result.exception, RuntimeError)
    assert not (tmp_path / "resumed").exists()  # no half-written bundle
    assert json.loads((tmp_path / "resumed.checkpoints" / "latest.json").read_text())["step"] == 2
    monkeypatch.setattr(loop, "_step_seed", real)
    code, out = run(*args, "--out", tmp_path / "resumed")
    assert code == 0, out
    first = load_calibration(tmp_path / "straight" / "calibration.safetensors").state_tensors()
    second = load_calibration(tmp_path / "resumed" / "calibration.safetensors").state_tensors()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert manifest(tmp_path / "resumed")["parameters"]["last_loss"] == manifest(tmp_path / "straight")["parameters"]["last_loss"]


def test_load_calibrated_bundle_matches_the_exported_lora(workspace, tmp_path):
    import copy

    from compbench.training.bundles import load_calibrated_bundle
    from compbench.training.models import load_base_model
    from tests.support.tiny_peft import input_ids, load_peft, logits

    _, model_dir, adapters = workspace
    code, out = run("train", "calibration", "--kind", "lc", "--family", "sum+tr-es", "--adapter", adapters[0],
                    "--adapter", adapters[1], "--export-lora", tmp_path / "plain", *base(workspace, tmp_path / "b"))
    assert code == 0, out
    model, _ = load_base_model(str(model_dir))
    ids = input_ids(seed=3, vocab=64)
    folded = logits(load_calibrated_bundle(tmp_path / "b", copy.deepcopy(model)), ids)
    wrapped = logits(load_calibrated_bundle(tmp_path / "b", copy.deepcopy(model), fold=False), ids)
    exported = logits(load_peft(model, tmp_path / "plain"), ids)
    assert (folded - wrapped).abs().max() < 1e-5 and (exported - wrapped).abs().max() < 1e-5
    assert (wrapped - logits(model, ids)).abs().max() > 1e-4
