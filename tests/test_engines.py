"""Engines without Ray: generator specs, the local engine, the worker unit, identity versus execution."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

from compbench.build import build
from compbench.build.generators import model_provider
from compbench.engines import GeneratorSpec, LocalEngine, chunked, make_engine
from compbench.engines.ray_engine import GenerationWorker, WorkerError, raise_worker_error
from compbench.errors import ConfigError
from compbench.generation.base import generator_fingerprint
from tests.support.fake_generators import FIXTURE_SOURCES, tree_bytes
from tests.support.recording_generators import FACTORY, RecordingGenerator, logged_calls, recording_provider


def spec_for(tmp_path, **options) -> GeneratorSpec:
    return GeneratorSpec(FACTORY, {"task": "tr-es", "log": str(tmp_path / "log"), **options}, device="cpu")


# ------------------------------------------------------------------------------------------------ specs
def test_a_spec_builds_its_generator_and_survives_pickling(tmp_path):
    spec = spec_for(tmp_path)
    copy = pickle.loads(pickle.dumps(spec))
    assert copy == spec
    generator = copy.build()
    assert isinstance(generator, RecordingGenerator) and generator.device == "cpu"
    assert spec.build(device="cuda:1").device == "cuda:1"
    assert generator.generate(["a"]) == ["[tr-es] a"]


@pytest.mark.parametrize(("factory", "kwargs", "message"), [
    ("no_colon", {}, "package.module:callable"),
    ("tests.support.nowhere:Thing", {}, "cannot import"),
    ("tests.support.recording_generators:FACTORY", {}, "not callable"),
    ("builtins:dict", {}, "does not implement"),
    (FACTORY, {"device": "cpu"}, "GeneratorSpec\\(device="),
])
def test_bad_specs_are_config_errors(factory, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GeneratorSpec(factory, kwargs).build()


def test_the_cache_key_refuses_execution_options():
    class Leaky(RecordingGenerator):
        @property
        def settings(self):
            return {"style": "prefix", "batch_size": 8}

    with pytest.raises(ValueError, match="execution options \\(batch_size\\)"):
        generator_fingerprint(Leaky("tr-es", log="-"))


# -------------------------------------------------------------------------------------------- local engine
def test_the_local_engine_builds_specs_in_process_and_runs_chunks_in_order(tmp_path):
    engine = make_engine("local")
    generator, spec = engine.prepare(spec_for(tmp_path))
    chunks = chunked(["a", "b", "c"], 2)
    assert chunks == [["a", "b"], ["c"]]
    assert list(engine.run(generator, spec, chunks)) == [(0, ["[tr-es] a", "[tr-es] b"]), (1, ["[tr-es] c"])]
    assert engine.info().model_dump() == {"name": "local", "options": {}}


def test_a_spec_build_and_a_generator_build_give_the_same_release(tmp_path):
    """The provider may return specs or generators; in process both give the same files and manifest."""
    from_specs = build(tmp_path / "a", sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "ca",
                       generators=recording_provider(tmp_path / "a.log"), only=["sum+tr-es"], progress=False)

    def objects(task):
        return RecordingGenerator(task, log=str(tmp_path / "b.log"))

    build(tmp_path / "b", sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cb", generators=objects,
          only=["sum+tr-es"], progress=False)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert from_specs.manifest.engine.name == "local"
    assert [c["pid"] for c in logged_calls(tmp_path / "a.log")]  # generated in this process, through the spec


@pytest.mark.parametrize(("name", "options", "message"), [
    ("spark", {}, "unknown engine 'spark'"),
    ("local", {"actors": 2}, "--actors: only with --engine ray"),
    ("local", {"address": "auto"}, "--ray-address: only with --engine ray"),
])
def test_engine_options_are_checked(name, options, message):
    with pytest.raises(ConfigError, match=message):
        make_engine(name, **options)


# ------------------------------------------------------------------------- the worker unit, without Ray
def batch(*chunks):
    return pa.table({"index": pa.array(range(len(chunks)), pa.int64()),
                     "texts": pa.array([list(c) for c in chunks], pa.list_(pa.string()))})


def test_the_worker_builds_once_and_turns_chunks_into_outputs(tmp_path):
    spec = spec_for(tmp_path, fail_if="bad")
    worker = GenerationWorker(spec, generator_fingerprint(spec.build_identity()))
    out = worker(batch(["a", "bad"], ["c"]))
    assert out.column("outputs").to_pylist() == [["[tr-es] a", None], ["[tr-es] c"]]
    assert out.column("error").to_pylist() == [None, None]
    first = worker.generator
    worker(batch(["d"]))
    assert worker.generator is first  # one model load per actor


def test_worker_errors_travel_as_data_and_are_raised_on_the_driver(tmp_path):
    failing = GenerationWorker(spec_for(tmp_path, fail_after=0))
    out = failing(batch(["a"]))
    assert out.column("outputs").to_pylist() == [None]
    error = out.column("error").to_pylist()[0]
    assert error.startswith("bug:Interrupted: interrupted after 0 calls") and "Traceback" in error
    with pytest.raises(WorkerError, match="Interrupted"):
        raise_worker_error(error, "tr-es generator on a Ray worker")

    foreign = GenerationWorker(spec_for(tmp_path), fingerprint="0" * 64)  # not what the driver planned
    error = foreign(batch(["a"])).column("error").to_pylist()[0]
    assert error.startswith("config:the tr-es generator built on a Ray worker (fake/tr-es@rev-1")
    with pytest.raises(ConfigError, match="is not the one the driver planned"):
        raise_worker_error(error, "tr-es generator on a Ray worker")


def test_a_generator_breaking_its_contract_is_caught_on_the_worker(tmp_path):
    class Short(RecordingGenerator):
        def generate(self, texts):
            return super().generate(texts)[:-1]

    worker = GenerationWorker(spec_for(tmp_path))
    worker._generator = Short("tr-es", log=str(tmp_path / "log"))
    assert "returned 1 outputs for 2 inputs" in worker(batch(["a", "b"])).column("error").to_pylist()[0]


# -------------------------------------------------------------------------- the default provider's specs
def test_the_model_provider_returns_portable_specs_with_the_compute_type_resolved():
    spec = model_provider(backend="ctranslate2", translator="/models/opus-{lang}", device="cuda")("tr-de")
    assert spec.factory == "compbench.generation.registry:make_translator" and spec.device == "cuda"
    assert spec.kwargs == {"backend": "ctranslate2", "model": "/models/opus-{lang}", "lang": "de",
                           "dtype": "float32", "compute_type": "int8_float16"}
    assert pickle.loads(pickle.dumps(spec)) == spec
    tone = model_provider(tone_model="/models/tone", batch_size=4)("tone-witty")
    assert tone.kwargs == {"model": "/models/tone", "tone": "witty", "backend": "transformers",
                           "dtype": "float32", "batch_size": 4}


@pytest.mark.parametrize(("options", "message"), [
    ({"compute_type": "int8"}, "--compute-type is CTranslate2's"),
    ({"backend": "ctranslate2", "compute_type": "auto"}, "unknown CTranslate2 compute type 'auto'"),
    ({"backend": "vllm"}, "vLLM cannot run Marian"),
    ({"backend": "fairseq"}, "unknown translation backend"),
    ({"tone_backend": "tgi"}, "unknown tone backend"),
])
def test_the_model_provider_refuses_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        model_provider(**options)


def test_the_vllm_tone_backend_names_its_extra_and_environment(monkeypatch):
    monkeypatch.setattr("compbench.build.generators.missing_modules", lambda extra: ["vllm"])
    with pytest.raises(ConfigError, match=r"needs the \[vllm\] extra.*separate virtual environment"):
        model_provider(tone_backend="vllm")


def test_the_local_engine_is_the_default_and_needs_no_spec(tmp_path):
    engine = LocalEngine()
    generator = RecordingGenerator("tr-es", log=str(tmp_path / "log"))
    assert engine.prepare(generator) == (generator, None)


def test_without_ray_the_ray_engine_names_its_extra(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from compbench.cli import main

    monkeypatch.setattr("compbench.extras.missing_modules", lambda extra: ["ray"] if extra == "ray" else [])
    with pytest.raises(ConfigError, match=r"--engine ray needs the \[ray\] extra"):
        make_engine("ray", actors=2)
    result = CliRunner().invoke(main, ["build", "--engine", "ray", "--subtask", "sum", "--sources-dir",
                                       str(FIXTURE_SOURCES), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.output.startswith("error: --engine ray needs the [ray] extra")
    assert not (tmp_path / "out").exists()
