"""The Ray engine on a local Ray instance (2 CPUs): same release as in process, and a killed job resumes.

Ray starts once for the module (``num_cpus=2``, no dashboard, its files in the test sandbox) and is shut down
after. The generators are :mod:`tests.support.recording_generators`: built in each actor from a spec, logging
every call to a file, so that what was generated where, and how often, is known exactly.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from compbench.build import build
from compbench.build.cache import CACHE_FILE, GenerationCache
from compbench.engines import GeneratorSpec, LocalEngine
from compbench.errors import ConfigError
from compbench.generation.base import cache_key
from compbench.references import release_hash
from tests.conftest import SANDBOX
from tests.support.fake_generators import FIXTURE_SOURCES, FakeProvider, tree_bytes
from tests.support.recording_generators import RecordingGenerator, logged_calls, recording_provider

ray = pytest.importorskip("ray", reason="the Ray engine tests need the [ray] extra: pip install 'compbench[ray]'")
from compbench.engines.ray_engine import RayEngine, WorkerError  # noqa: E402

pytestmark = pytest.mark.slow

# Three stages (tr-es; tone-professional; tr-de after it), a few chunks each with chunk_size 2.
ONLY = ["sum+tr-es", "sum+tone-professional+tr-de"]
CHUNK = 2


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", _temp_dir=str(SANDBOX / "ray"))
    yield
    ray.shutdown()


def run_build(tmp_path, name, engine=None, **options):
    return build(tmp_path / name, sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / f"{name}-cache",
                 generators=recording_provider(tmp_path / f"{name}.log", **options), only=ONLY, progress=False,
                 chunk_size=CHUNK, engine=engine)


@pytest.fixture(scope="module")
def local_release(tmp_path_factory):
    """The single-process build everything is compared with."""
    tmp = tmp_path_factory.mktemp("local")
    result = run_build(tmp, "local", LocalEngine())
    return tmp, result


def generated(log) -> list[tuple[str, str]]:
    return [(call["task"], text) for call in logged_calls(log) for text in call["texts"]]


def cached(cache_dir, pairs) -> set[tuple[str, str]]:
    """The (task, text) among ``pairs`` whose output is in the cache."""
    with GenerationCache(cache_dir) as cache:
        keys = {cache_key(RecordingGenerator(task, log="-"), text): (task, text) for task, text in pairs}
        return {keys[key] for key in cache.lookup(list(keys))}


def cache_rows(cache_dir) -> set[tuple[str, str]]:
    with sqlite3.connect(cache_dir / CACHE_FILE) as db:
        return set(db.execute("SELECT key, output FROM generations"))


def test_a_ray_build_equals_the_single_process_build_byte_for_byte(tmp_path, local_release):
    local_tmp, local = local_release
    with RayEngine(actors=2) as engine:
        result = run_build(tmp_path, "ray", engine)
    ours, theirs = tree_bytes(tmp_path / "ray"), tree_bytes(local_tmp / "local")
    assert ours.keys() == theirs.keys()
    assert {path for path in ours if ours[path] != theirs[path]} == {"manifest.json"}
    manifest, reference = (json.loads(files["manifest.json"]) for files in (ours, theirs))
    assert manifest.pop("engine") == {"name": "ray", "options": {"actors": 2, "gpus_per_actor": 0.0,
                                                                 "cpus_per_actor": 1.0}}
    assert reference.pop("engine") == {"name": "local", "options": {}}
    assert manifest == reference  # the engine is the one difference: same files, hashes, generators, failures
    assert release_hash(tmp_path / "ray") == release_hash(local_tmp / "local")  # so results share tables
    # same cache keys and outputs, every generation made once, and all of them on Ray workers
    assert cache_rows(tmp_path / "ray-cache") == cache_rows(local_tmp / "local-cache")
    assert sorted(generated(tmp_path / "ray.log")) == sorted(generated(local_tmp / "local.log"))
    assert os.getpid() not in {call["pid"] for call in logged_calls(tmp_path / "ray.log")}
    assert result.model_calls == local.model_calls and result.generated == local.generated


def test_a_killed_ray_job_resumes_without_losing_or_redoing_a_stored_generation(tmp_path, local_release):
    """Every generate call after the 4th fails (on whichever worker): the job stops with the worker's error;
    the restart generates exactly what was not stored, and the release is the uninterrupted one."""
    local_tmp, _ = local_release
    everything = set(generated(local_tmp / "local.log"))
    with RayEngine(actors=2) as engine:
        with pytest.raises(WorkerError, match="Interrupted: interrupted after 4 calls"):
            run_build(tmp_path, "ray", engine, fail_after=4)
        first = generated(tmp_path / "ray.log")
        stored = cached(tmp_path / "ray-cache", everything)
        assert len(first) == 4 * CHUNK and len(set(first)) == len(first)
        # what reached the driver was stored at once; lost are at most the chunks the 2 actors were finishing
        # when the failure arrived (in practice none or one of the 4)
        assert stored <= set(first) and len(stored) >= (4 - 2) * CHUNK
        (tmp_path / "ray.log").rename(tmp_path / "first.log")
        run_build(tmp_path, "ray", engine)
    second = generated(tmp_path / "ray.log")
    assert not stored & set(second), "a generation stored before the kill was made again"
    assert len(second) == len(set(second)) and set(second) == everything - stored
    assert tree_bytes(tmp_path / "ray").keys() == tree_bytes(local_tmp / "local").keys()
    for path, content in tree_bytes(local_tmp / "local").items():
        if path != "manifest.json":
            assert (tmp_path / "ray" / path).read_bytes() == content, path


def test_a_driver_killed_after_k_stored_chunks_keeps_exactly_those(tmp_path, local_release, monkeypatch):
    """The driver dies right after committing its 3rd chunk: those 3 chunks survive, the restart makes the rest."""
    local_tmp, _ = local_release
    everything = set(generated(local_tmp / "local.log"))

    class DriverKilled(RuntimeError):
        pass

    class DyingCache(GenerationCache):
        stores = 0

        def store(self, items):
            super().store(items)
            DyingCache.stores += 1
            if DyingCache.stores == 3:
                raise DriverKilled

    monkeypatch.setattr("compbench.build.pipeline.GenerationCache", DyingCache)
    with RayEngine(actors=2) as engine:
        with pytest.raises(DriverKilled):
            run_build(tmp_path, "ray", engine)
        monkeypatch.undo()
        stored = cached(tmp_path / "ray-cache", everything)
        assert len(stored) == 3 * CHUNK
        (tmp_path / "ray.log").rename(tmp_path / "first.log")
        run_build(tmp_path, "ray", engine)  # the same Ray instance runs the next job after the interrupted one
    second = generated(tmp_path / "ray.log")
    assert not stored & set(second) and set(second) == everything - stored and len(second) == len(set(second))


def test_a_worker_that_builds_another_generator_is_refused(tmp_path):
    """The driver plans with the spec's generator built on cpu; a worker whose build differs (other model files,
    here another device in the model id) must not write under the driver's cache keys."""
    spec = GeneratorSpec("tests.support.recording_generators:DeviceNamedGenerator",
                         {"task": "tr-es", "log": str(tmp_path / "log")}, device="elsewhere")
    with RayEngine(actors=1) as engine, pytest.raises(ConfigError, match="is not the one the driver planned"):
        build(tmp_path / "out", sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cache",
              generators=lambda task: spec, only=["sum+tr-es"], progress=False, engine=engine)
    assert not (tmp_path / "out").exists()


def test_the_ray_engine_needs_generator_specs(tmp_path):
    with RayEngine() as engine, pytest.raises(ConfigError, match="needs each generator as a"):
        build(tmp_path / "out", sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cache",
              generators=FakeProvider(), only=["sum+tr-es"], progress=False, engine=engine)


def test_the_ray_benchmark_reports_scaling_and_overhead_in_one_run(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_build.py"
    spec = importlib.util.spec_from_file_location("bench_build", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rates = bench.main(["--engine", "ray", "--quick", "--examples", "4", "--tokens", "2"])
    assert set(rates) == {"local-1", "local-2", "ray-1", "ray-2"} and all(rate > 0 for rate in rates.values())
    out = capsys.readouterr().out
    for line in ("ray-2 / ray-1:", "ray-1 / local-1:", "ray-2 / local-2:", "ray start + one-text chunk"):
        assert line in out
    assert ray.is_initialized()  # the benchmark used the running instance and left it running
