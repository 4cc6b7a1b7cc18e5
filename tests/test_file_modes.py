"""Files and directories compbench writes get the permissions a plain ``open()`` / ``mkdir()`` would give them
under the user's umask (not the 0600 / 0700 of ``tempfile.mkstemp`` / ``mkdtemp``); a file replaced keeps its mode.
"""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.fileio import atomic_path, atomic_write, make_staging_dir, write_json
from tests.support.release_factory import write_jsonl


@pytest.fixture(params=[0o022, 0o027, 0o077], ids=lambda m: f"umask{m:03o}")
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_files_and_directories_follow_the_umask(tmp_path, umask):
    write_json(tmp_path / "a.json", {"x": 1})
    with atomic_write(tmp_path / "b.bin", "wb") as handle:
        handle.write(b"x")
    with atomic_path(tmp_path / "c.parquet") as tmp:
        tmp.write_bytes(b"x")
    with atomic_path(tmp_path / "d.safetensors") as tmp:  # a library that puts its own 0600 file in place
        os.unlink(tmp)
        os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in ("a.json", "b.bin", "c.parquet", "d.safetensors"):
        assert mode(tmp_path / name) == 0o666 & ~umask, name
    staging = make_staging_dir(tmp_path / "release")
    assert mode(staging) == 0o777 & ~umask and staging.parent == tmp_path and not list(staging.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == [staging.name]


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    for kept in (0o600, 0o664):
        path = tmp_path / f"kept-{kept:o}.json"
        path.write_text("{}")
        os.chmod(path, kept)
        write_json(path, {"x": 2})
        assert mode(path) == kept and path.read_text().startswith("{")


def test_score_and_compare_outputs_follow_the_umask(tmp_path, umask):
    refs = write_jsonl(tmp_path / "refs.jsonl", [{"id": f"r{i}", "subtask": "sum+tr-es", "reference": "el gato come"}
                                                 for i in range(3)])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": f"r{i}", "prediction": "el gato"} for i in range(3)])
    runner = CliRunner()
    out = tmp_path / "out" / "results.json"
    assert runner.invoke(main, ["score", str(preds), "--references", str(refs), "--out", str(out)]).exit_code == 0
    comparison = tmp_path / "out" / "comparison.json"
    result = runner.invoke(main, ["compare", str(out), str(out), "--out", str(comparison)])
    assert result.exit_code == 0, result.output
    for path in (out, out.with_name("results.examples.parquet"), comparison):
        assert mode(path) == 0o666 & ~umask, path.name


def test_bundle_and_adapter_directories_follow_the_umask(tmp_path, umask):
    torch = pytest.importorskip("torch")
    from compbench.adapters.lora_io import save_lora
    from compbench.bundle import write_bundle
    from tests.support.tiny_peft import random_adapter, tiny_llama

    bundle = write_bundle(tmp_path / "bundle", base_model="m", method="lc-no-lora", adapters={},
                          calibration={"q_proj.p": torch.ones(4)})
    assert mode(bundle.path) == 0o777 & ~umask
    for name in ("bundle.json", "calibration.safetensors"):
        assert mode(bundle.path / name) == 0o666 & ~umask, name
    save_lora(random_adapter(tiny_llama(seed=0), seed=1), tmp_path / "lora")
    assert mode(tmp_path / "lora") == 0o777 & ~umask
    assert {mode(p) for p in (tmp_path / "lora").iterdir()} == {0o666 & ~umask}
