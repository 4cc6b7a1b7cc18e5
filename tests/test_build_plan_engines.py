"""`compbench build` with engines: options, the plan's wall-time estimates, CTranslate2 on CUDA and compute types.

The plan only needs each generator's identity, never its weights, so placeholder model directories (a config, a
``model.safetensors`` that is never read) are enough here.
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from click.testing import CliRunner

from compbench.build import throughput
from compbench.build.throughput import (
    Configuration,
    Measurement,
    estimate,
    format_duration,
    record_measurement,
)
from compbench.cli import main
from compbench.errors import ConfigError
from tests.support.fake_generators import FIXTURE_SOURCES


def invoke(*args):
    return CliRunner().invoke(main, ["build", *map(str, args)])


@pytest.fixture
def placeholders(tmp_path):
    """A translator and a tone model (base + adapter) directory whose identity can be read but that never load."""
    translator, base, adapter = tmp_path / "opus", tmp_path / "tone" / "base", tmp_path / "tone" / "adapter"
    for directory in (translator, base, adapter):
        directory.mkdir(parents=True)
    (translator / "config.json").write_text('{"model_type": "marian"}')
    (translator / "model.safetensors").write_bytes(b"never read")
    (base / "config.json").write_text('{"model_type": "gpt_neox"}')
    (base / "model.safetensors").write_bytes(b"never read")
    (adapter / "adapter_config.json").write_text('{"r": 8, "lora_alpha": 16}')
    (adapter / "adapter_model.safetensors").write_bytes(b"never read")
    return translator, tmp_path / "tone"


def plan(tmp_path, placeholders, *options):
    translator, tone = placeholders
    return invoke("--plan", "--sources-dir", FIXTURE_SOURCES, "--cache-dir", tmp_path / "cache", "--translator",
                  translator, "--tone-model", tone, *options)


def test_the_plan_estimates_each_stage_from_a_measurement_and_says_where_it_comes_from(tmp_path, placeholders):
    result = plan(tmp_path, placeholders, "--subtask", "sum+tr-es", "--subtask", "sum+tone-casual",
                  "--backend", "ctranslate2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "est. time" in lines[0]
    tr_es = next(line for line in lines if line.startswith("tr-es"))
    assert re.search(r"\d+ s \[1\]$", tr_es)
    assert re.search(r"tone-casual .*\[2\] no measurement$", next(line for line in lines if line.startswith("tone")))
    (ct2,) = [m for m in throughput.load_measurements() if m.configuration == Configuration(
        "translation", "ctranslate2", "int8", "cpu", "local", 1)]
    assert (f"[1] translation via ctranslate2 int8 on cpu, in process: {ct2.per_second:g}/s, `{ct2.command}` on "
            f"{ct2.machine}, {ct2.date}") in result.output
    assert ("[2] tone via transformers float32 on cpu, in process: no measurement, so no estimate"
            in result.output)
    assert "plus 1 stage(s) without a measurement" in result.output


def test_without_a_measurement_for_the_hardware_there_is_no_estimate(tmp_path, placeholders, monkeypatch):
    """No GPU figure was measured: a CUDA plan says so instead of inventing one (the device check is the
    generator's, at build time; the plan reads identities only)."""
    monkeypatch.setattr("compbench.generation.batching.check_options", lambda **_: None)
    monkeypatch.setattr("compbench.generation.translation.check_options", lambda **_: None)
    result = plan(tmp_path, placeholders, "--subtask", "sum+tr-es", "--device", "cuda", "--dtype", "float16")
    assert result.exit_code == 0, result.output
    assert "translation via transformers float16 on cuda, in process: no measurement, so no estimate" in result.output
    assert "estimated wall time: unknown (no measurement for any stage left to generate)" in result.output


def test_estimates_use_the_exact_configuration_or_scale_a_ray_pool_from_one_actor():
    one = Configuration("translation", "ctranslate2", "int8", "cpu", "ray", 1)
    measured = [Measurement(one, 5.0, "w", "python benchmarks/bench_build.py --engine ray", "m", "2026-01-01")]
    assert estimate(one, 100, measured).seconds == 20.0
    four = estimate(Configuration(**{**one.__dict__, "workers": 4}), 100, measured)
    assert (four.seconds, four.scaled_by, four.measurement) == (5.0, 4, measured[0])
    for other in ({"engine": "local"}, {"device": "cuda"}, {"precision": "int8_float16"}, {"backend": "transformers"}):
        assert estimate(Configuration(**{**one.__dict__, **other}), 100, measured).seconds is None
    assert [format_duration(s) for s in (40, 720, 68_580, 277_200)] == ["40 s", "12 min", "19 h 3 min", "3 d 5 h"]


def test_recording_a_measurement_replaces_the_one_of_the_same_configuration(tmp_path):
    table = tmp_path / "throughput.json"
    table.write_text(json.dumps({"about": "kept", "measurements": []}))
    config = Configuration("translation", "ctranslate2", "int8", "cpu", "ray", 2)
    record_measurement(Measurement(config, 3.0, "w", "c", "m", "d"), table)
    record_measurement(Measurement(config, 4.0, "w", "c", "m", "d2"), table)
    (only,) = throughput.load_measurements(table)
    assert (only.per_second, only.date) == (4.0, "d2") and json.loads(table.read_text())["about"] == "kept"


# --------------------------------------------------------------------------------------- engine options
@pytest.mark.parametrize(("options", "message"), [
    (["--actors", "2"], "--actors: only with --engine ray"),
    (["--gpus-per-actor", "1", "--ray-address", "auto"], "--ray-address, --gpus-per-actor: only with --engine ray"),
    (["--compute-type", "float16"], "--compute-type is CTranslate2's: use it with --backend ctranslate2"),
])
def test_engine_and_backend_options_are_checked(tmp_path, placeholders, options, message):
    result = plan(tmp_path, placeholders, "--subtask", "sum+tr-es", *options)
    assert result.exit_code == 2 and result.output == f"error: {message}\n"


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the [ray] extra")
def test_a_ray_plan_scales_the_one_actor_figure_and_starts_no_ray(tmp_path, placeholders, monkeypatch):
    import ray

    table = tmp_path / "throughput.json"
    table.write_text(json.dumps({"measurements": []}))
    monkeypatch.setattr(throughput, "MEASUREMENTS_FILE", table)
    args = ("--subtask", "sum+tr-es", "--backend", "ctranslate2", "--engine", "ray", "--actors", "3")
    assert "ctranslate2 int8 on cpu, ray, 3 actor(s): no measurement" in plan(tmp_path, placeholders, *args).output
    one = Configuration("translation", "ctranslate2", "int8", "cpu", "ray", 1)
    record_measurement(Measurement(one, 0.5, "w", "python benchmarks/bench_build.py --engine ray", "m", "d"), table)
    result = plan(tmp_path, placeholders, *args)
    assert result.exit_code == 0, result.output
    assert re.search(r"tr-es .* 11 +7 s \[1\]$", result.output.splitlines()[1])  # 11 texts at 3 x 0.5/s
    assert ("[1] translation via ctranslate2 int8 on cpu, ray, 1 actor(s): 0.5/s, `python benchmarks/bench_build.py "
            "--engine ray` on m, d (w); 3 actors estimated as 3 x the 1-actor figure (linear scaling assumed)"
            in result.output)
    assert not ray.is_initialized()


# ------------------------------------------------------------------------------------ CTranslate2 on CUDA
def test_ctranslate2_on_cuda_without_a_gpu_is_one_clear_error(tmp_path, placeholders):
    translator, _ = placeholders
    result = invoke("--subtask", "sum+tr-es", "--sources-dir", FIXTURE_SOURCES, "--cache-dir", tmp_path / "cache",
                    "--translator", translator, "--backend", "ctranslate2", "--device", "cuda",
                    "--compute-type", "float16", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.strip() == "error: device 'cuda' asked for, but CTranslate2 sees no CUDA GPU"
    assert not (tmp_path / "out").exists()


def test_a_compute_type_the_device_cannot_run_is_refused_before_anything_loads(placeholders):
    from compbench.generation.ctranslate2_backend import CT2Translator

    translator, _ = placeholders
    generator = CT2Translator(translator, "es", compute_type="float16")  # CTranslate2 has no float16 on CPU
    assert generator.settings["compute_type"] == "float16"
    with pytest.raises(ConfigError, match="cannot run compute type 'float16' on cpu"):
        generator.translator  # noqa: B018 - loading is what fails


def test_ctranslate2_threads_follow_omp_num_threads(placeholders, monkeypatch):
    from compbench.generation.ctranslate2_backend import CT2Translator

    translator, _ = placeholders
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # what Ray sets in an actor with 3 CPUs
    assert CT2Translator(translator, "es")._threads == 3
    assert CT2Translator(translator, "es", threads=1)._threads == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert CT2Translator(translator, "es")._threads == 0  # CTranslate2's own default
