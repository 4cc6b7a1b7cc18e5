"""``compbench adapters inspect|convert|merge`` end to end, including the errors users see."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from compbench.adapters.lora_io import load_lora, save_lora
from compbench.adapters.merges import merge_adapters, save_coefficients
from compbench.cli import main
from tests.support.tiny_peft import random_adapter, tiny_llama


@pytest.fixture(scope="module")
def base():
    return tiny_llama(seed=0)


@pytest.fixture()
def dirs(tmp_path, base):
    save_lora(random_adapter(base, seed=1), tmp_path / "sum")
    save_lora(random_adapter(base, seed=2), tmp_path / "tr")
    return tmp_path / "sum", tmp_path / "tr"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_inspect(dirs):
    result = run("adapters", "inspect", dirs[0], "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["modules"] == 14 and summary["ranks"] == [4] and summary["scalings"] == [2.0]
    assert summary["module_types"]["k_proj"]["out_in"] == [8, 16]
    assert summary["parameters"] == sum(4 * (o + i) for o, i in
                                        [m["out_in"] for m in summary["module_types"].values()]) * 2
    text = run("adapters", "inspect", dirs[0])
    assert text.exit_code == 0 and "gate_proj" in text.output and "ranks [4]" in text.output


def test_merge_matches_library_and_writes_peft_dir(tmp_path, dirs):
    result = run("adapters", "merge", "ties", *dirs, "--out", tmp_path / "m", "--density", "0.3", "--rank", "6",
                 "--weights", "0.6,0.4")
    assert result.exit_code == 0, result.output
    written = load_lora(tmp_path / "m")
    expected = merge_adapters("ties", [load_lora(d) for d in dirs], density=0.3, rank=6, weights=[0.6, 0.4])
    for name, factors in expected.modules.items():
        assert torch.allclose(written.delta(name), factors.delta(), atol=1e-6)
        assert written.modules[name].rank == 6


def test_merge_on_a_named_device(tmp_path, dirs):
    result = run("adapters", "merge", "slerp", *dirs, "--out", tmp_path / "m", "--device", "cpu")
    assert result.exit_code == 0, result.output
    expected = merge_adapters("slerp", [load_lora(d) for d in dirs])
    name = "model.layers.0.self_attn.q_proj"
    assert torch.allclose(load_lora(tmp_path / "m").delta(name), expected.delta(name))


def test_merge_as_bundle_and_inspect_it(tmp_path, dirs):
    result = run("adapters", "merge", "dare", *dirs, "--out", tmp_path / "b", "--seed", "3", "--bundle")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert manifest["method"] == "dare" and manifest["base_model"] == "tiny-llama"
    # the bundle holds the inputs (merged when it is evaluated), in the given order, and the parameters
    assert manifest["parameters"]["seed"] == 3
    assert [(a["name"], a["path"]) for a in manifest["adapters"]] == [("sum", "adapters/sum"), ("tr", "adapters/tr")]
    assert torch.equal(load_lora(tmp_path / "b" / "adapters" / "sum").modules["model.layers.0.mlp.up_proj"].A,
                       load_lora(dirs[0]).modules["model.layers.0.mlp.up_proj"].A)
    shown = run("adapters", "inspect", tmp_path / "b")
    assert shown.exit_code == 0 and "method dare" in shown.output


def test_merge_takes_the_bundles_train_lora_writes(tmp_path, dirs):
    from compbench.bundle import write_bundle

    for task, path in zip(("sum", "tr-es"), dirs, strict=True):
        write_bundle(tmp_path / f"bundle-{task}", base_model="tiny-llama",
                     method="main-lora" if task == "sum" else "aux-lora", adapters={task: path}, tasks={task: task})
    result = run("adapters", "merge", "linear", tmp_path / "bundle-sum", tmp_path / "bundle-tr-es", "--out",
                 tmp_path / "m")
    assert result.exit_code == 0, result.output
    expected = merge_adapters("linear", [load_lora(d) for d in dirs])
    name = "model.layers.1.self_attn.v_proj"
    assert torch.allclose(load_lora(tmp_path / "m").delta(name), expected.delta(name))
    result = run("adapters", "merge", "ties", tmp_path / "bundle-sum", tmp_path / "bundle-tr-es", "--out",
                 tmp_path / "b", "--bundle")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert [(a["name"], a["task"]) for a in manifest["adapters"]] == [("sum", "sum"), ("tr-es", "tr-es")]


def test_a_bundle_with_bad_merge_parameters_is_refused_before_writing(tmp_path, dirs):
    result = run("adapters", "merge", "slerp", *dirs, "--out", tmp_path / "b", "--t", "3", "--bundle")
    assert result.exit_code == 2 and "t must be in [0, 1]" in result.output
    result = run("adapters", "merge", "linear-delta", *dirs, "--out", tmp_path / "b", "--bundle")
    assert result.exit_code == 2 and "unknown method 'linear-delta'" in result.output
    assert not (tmp_path / "b").exists()


def test_dam_with_coefficients_file(tmp_path, dirs, base):
    adapters = [load_lora(d) for d in dirs]
    coefficients = {n: torch.rand(2, f.out_features) for n, f in adapters[0].modules.items()}
    save_coefficients(coefficients, tmp_path / "c.safetensors")
    result = run("adapters", "merge", "dam", *dirs, "--out", tmp_path / "m", "--coefficients",
                 tmp_path / "c.safetensors")
    assert result.exit_code == 0, result.output
    name = "model.layers.1.mlp.up_proj"
    direct = sum(torch.diag(m) @ a.delta(name) for m, a in zip(coefficients[name], adapters, strict=True))
    assert torch.allclose(load_lora(tmp_path / "m").delta(name), direct, atol=1e-5)


def test_convert_then_load(tmp_path, dirs):
    weights = dirs[0] / "adapter_model.safetensors"
    original = load_lora(dirs[0])
    torch.save(load_file(weights), dirs[0] / "adapter_model.bin")
    weights.unlink()
    refused = run("adapters", "inspect", dirs[0])
    assert refused.exit_code == 2 and "compbench adapters convert" in refused.output
    converted = run("adapters", "convert", dirs[0])
    assert converted.exit_code == 0 and "adapter_model.safetensors" in converted.output
    assert run("adapters", "inspect", dirs[0]).exit_code == 0
    again = load_lora(dirs[0])
    for name, factors in original.modules.items():
        assert torch.equal(again.modules[name].A, factors.A) and torch.equal(again.modules[name].B, factors.B)
    missing = run("adapters", "convert", dirs[1])
    assert missing.exit_code == 2 and "no pickled weights to convert" in missing.output


@pytest.mark.parametrize("args, message", [
    (["avg"], "unknown merge 'avg'"),
    (["linear", "--weights", "a,b"], "--weights must be comma-separated numbers"),
    (["linear", "--density", "0.5"], "does not take density"),
    (["slerp", "--t", "2"], "t must be in [0, 1]"),
    (["ties", "--device", "nonsense"], "cannot use device 'nonsense'"),
])
def test_merge_errors_exit_2_and_write_nothing(tmp_path, dirs, args, message):
    method, *options = args
    result = run("adapters", "merge", method, *dirs, "--out", tmp_path / "m", *options)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_merge_shape_mismatch_and_bad_dirs(tmp_path, dirs):
    save_lora(random_adapter(tiny_llama(seed=0, hidden_size=12, head_dim=3), seed=3), tmp_path / "other")
    result = run("adapters", "merge", "linear", dirs[0], tmp_path / "other", "--out", tmp_path / "m")
    assert result.exit_code == 2 and "shape mismatch at module" in result.output
    (dirs[1] / "adapter_config.json").write_text("{broken")
    result = run("adapters", "merge", "linear", *dirs, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "adapter_config.json:1: invalid JSON" in result.output
    assert not (tmp_path / "m").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    result = run("adapters", "merge", "concat", dirs[0], dirs[0], "--out", tmp_path / "full")
    assert result.exit_code == 2 and "not an empty directory" in result.output
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["x"]
