"""Adapter bundles: write / read / validate round trips, paths that never leave the bundle, bad manifests."""

from __future__ import annotations

import json
import os

import pytest
import torch

from compbench.adapters.lora_io import save_lora
from compbench.bundle import read_bundle, validate_bundle, write_bundle
from compbench.errors import ConfigError, InputError
from tests.support.tiny_peft import input_ids, load_peft, logits, random_adapter, tiny_llama, with_deltas


@pytest.fixture(scope="module")
def base():
    return tiny_llama(seed=0)


@pytest.fixture()
def bundle_dir(tmp_path, base):
    calibration = {"q_proj.p": torch.arange(16, dtype=torch.float32), "k_proj.p": torch.ones(8)}
    save_lora(random_adapter(base, seed=2), tmp_path / "peft-tr")
    write_bundle(tmp_path / "bundle", base_model="tiny-llama", method="lc",
                 adapters={"sum": random_adapter(base, seed=1), "tr-es": tmp_path / "peft-tr"},
                 tasks={"sum": "sum", "tr-es": "tr-es"}, parameters={"lr": 5e-4, "examples": 10000},
                 calibration=calibration, subtasks=["sum+tr-es"])
    return tmp_path / "bundle"


def test_round_trip(bundle_dir, base):
    bundle = validate_bundle(bundle_dir)
    manifest = bundle.manifest
    assert manifest.method == "lc" and manifest.base_model == "tiny-llama"
    assert [(a.name, a.task, a.path) for a in manifest.adapters] == [
        ("sum", "sum", "adapters/sum"), ("tr-es", "tr-es", "adapters/tr-es")]
    assert manifest.parameters == {"lr": 5e-4, "examples": 10000} and manifest.subtasks == ["sum+tr-es"]
    assert manifest.calibration == "calibration.safetensors"
    calibration = bundle.load_calibration()
    assert torch.equal(calibration["q_proj.p"], torch.arange(16, dtype=torch.float32))
    adapters = bundle.load_adapters()
    expected = random_adapter(base, seed=1)
    for name, factors in expected.modules.items():
        assert torch.equal(adapters["sum"].modules[name].A, factors.A)
    # the bundle's adapter directories are plain PEFT directories
    loaded = load_peft(base, bundle.adapter_path("sum"))
    ids = input_ids()
    reference = with_deltas(base, {n: expected.delta(n) for n in expected.modules})
    assert (logits(loaded, ids) - logits(reference, ids)).abs().max() < 1e-5
    assert sorted(p.name for p in bundle_dir.iterdir()) == ["adapters", "bundle.json", "calibration.safetensors"]


def test_calibration_file_is_copied_in(tmp_path, base, bundle_dir):
    source = bundle_dir / "calibration.safetensors"
    bundle = write_bundle(tmp_path / "b2", base_model="m", method="lc-no-lora", adapters={}, calibration=source)
    assert torch.equal(bundle.load_calibration()["k_proj.p"], torch.ones(8))
    assert bundle.calibration_path.parent == (tmp_path / "b2").resolve()


def test_refuses_existing_output_and_leaves_nothing_half_written(tmp_path, base, bundle_dir):
    before = sorted(p.name for p in bundle_dir.iterdir())
    with pytest.raises(InputError, match="not an empty directory"):
        write_bundle(bundle_dir, base_model="m", method="x", adapters={"a": random_adapter(base, seed=1)})
    assert sorted(p.name for p in bundle_dir.iterdir()) == before
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no adapter_config.json"):
        write_bundle(tmp_path / "new", base_model="m", method="linear",
                     adapters={"good": random_adapter(base, seed=1), "bad": tmp_path / "empty"})
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".new.")]


def test_bad_names_and_parameters(tmp_path, base):
    with pytest.raises(ConfigError, match="adapter name '../x'"):
        write_bundle(tmp_path / "b", base_model="m", method="main-lora", adapters={"../x": random_adapter(base, seed=1)})
    with pytest.raises(ConfigError, match="invalid bundle manifest"):
        write_bundle(tmp_path / "b", base_model="m", method="main-lora", adapters={"a": random_adapter(base, seed=1)},
                     parameters={"lr": torch.ones(2)})
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(("method", "contents", "message"), [
    ("x", {}, "unknown method 'x'"),
    ("linear", {}, "needs its LoRA adapters"),
    ("zero-shot", {"adapters": True}, "uses no LoRA adapters"),
    ("lc", {"adapters": True}, "needs its calibration parameters"),
    ("dam", {"adapters": True}, "needs its column-wise coefficients"),
    ("ties", {"adapters": True, "calibration": True}, "uses no calibration.safetensors"),
    ("lorahub", {"adapters": True}, "needs its merge weights"),
    ("main-lora", {"adapters": True, "tasks": {"a": "summarise"}}, "unknown sub-task id 'summarise'"),
])
def test_the_method_decides_what_a_bundle_holds(tmp_path, base, method, contents, message):
    adapters = {"a": random_adapter(base, seed=1)} if contents.get("adapters") else {}
    calibration = {"q_proj.p": torch.ones(16)} if contents.get("calibration") else None
    with pytest.raises(ConfigError, match=message):
        write_bundle(tmp_path / "b", base_model="m", method=method, adapters=adapters, calibration=calibration,
                     tasks=contents.get("tasks"))
    assert not (tmp_path / "b").exists()


def test_adapter_free_methods_make_a_bundle_of_only_its_manifest(tmp_path):
    bundle = write_bundle(tmp_path / "zs", base_model="m", method="zero-shot", adapters={})
    assert [p.name for p in (tmp_path / "zs").iterdir()] == ["bundle.json"]
    assert validate_bundle(bundle.path).manifest.method == "zero-shot"


def _rewrite(bundle_dir, **changes):
    path = bundle_dir / "bundle.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("bad_path", ["../outside", "/etc", "adapters/../../x", "C:/x", "adapters\\sum", ""])
def test_paths_never_leave_the_bundle(bundle_dir, bad_path):
    _rewrite(bundle_dir, adapters=[{"name": "sum", "path": bad_path}])
    with pytest.raises(InputError, match="bundle"):
        read_bundle(bundle_dir)


def test_symlink_out_of_the_bundle_is_refused(tmp_path, bundle_dir):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", bundle_dir / "adapters" / "link")
    _rewrite(bundle_dir, adapters=[{"name": "sum", "path": "adapters/link"}])
    with pytest.raises(InputError, match="leads outside the bundle"):
        read_bundle(bundle_dir)
    _rewrite(bundle_dir, adapters=[], calibration="adapters/link/c.safetensors")
    with pytest.raises(InputError, match="leads outside the bundle"):
        read_bundle(bundle_dir)


def test_bad_manifests(tmp_path, bundle_dir):
    with pytest.raises(InputError, match="no bundle.json"):
        read_bundle(tmp_path)
    with pytest.raises(InputError, match="bundle directory not found"):
        read_bundle(tmp_path / "missing")
    (bundle_dir / "bundle.json").write_text('{\n  "method": "lc",\n  oops\n}')
    with pytest.raises(InputError, match="invalid JSON") as info:
        read_bundle(bundle_dir)
    assert info.value.line == 3
    (bundle_dir / "bundle.json").write_text(json.dumps({"method": "lc", "compbench_version": "0.1.0"}))
    with pytest.raises(InputError, match=r"not a valid bundle manifest: Field required \(at base_model\)"):
        read_bundle(bundle_dir)


def test_duplicate_names_and_missing_files(bundle_dir):
    _rewrite(bundle_dir, adapters=[{"name": "a", "path": "adapters/sum"}, {"name": "a", "path": "adapters/tr-es"}])
    with pytest.raises(InputError, match="unique"):
        read_bundle(bundle_dir)
    _rewrite(bundle_dir, adapters=[{"name": "a", "path": "adapters/none"}])
    read_bundle(bundle_dir)  # paths are fine; the files are what is missing
    with pytest.raises(InputError, match="adapter directory not found"):
        validate_bundle(bundle_dir)
    _rewrite(bundle_dir, adapters=[], calibration="nothing.safetensors")
    with pytest.raises(InputError, match="file not found"):
        validate_bundle(bundle_dir)
