"""``evaluate --engine ray`` on a local Ray instance (2 CPUs) with a tiny Llama: the same predictions as in process,
and a run killed midway resumes without redoing a stored generation.

The Ray actors run :class:`tests.support.logging_engine.LoggingEngine` (the transformers engine, logging each call
to a file), so what was generated where, and how often, is known exactly.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from compbench.evaluation.runner import evaluate
from compbench.schemas import Results
from tests.conftest import SANDBOX
from tests.support.engines import one_torch_thread  # noqa: F401 (autouse fixture)
from tests.support.logging_engine import RUNTIME, logged_calls
from tests.support.method_bundles import method_bundle, write_eval_release
from tests.support.tiny_chat import save_tiny_chat_model, tiny_chat_model

ray = pytest.importorskip("ray", reason="the Ray engine tests need the [ray] extra: pip install 'compbench[ray]'")
from compbench.engines.ray_engine import WorkerError  # noqa: E402
from compbench.evaluation.ray_evaluator import RayEvaluator  # noqa: E402

pytestmark = pytest.mark.slow

# the main LoRA of `sum` serves both sub-tasks through one model plan: 6 rows, 6 batches of 1
SUBTASKS = ["sum+tr-es", "sum+tone-professional+tr-es"]
OPTIONS = {"max_new_tokens": 5, "batch_size": 1, "bootstrap": 10, "progress": False, "subtasks": SUBTASKS}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", _temp_dir=str(SANDBOX / "ray"))
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate-ray")
    shapes, _ = tiny_chat_model(seed=1)
    base = save_tiny_chat_model(root / "llama", seed=1)
    bundle = root / "bundle"
    method_bundle(bundle, "main-lora", shapes, str(base), subtask="sum+tr-es")
    release = write_eval_release(root / "release", SUBTASKS, test=3, train=4)
    local = evaluate(bundle, data=str(release), out=root / "local", cache_dir=root / "local-cache", **OPTIONS)
    return SimpleNamespace(root=root, bundle=bundle, release=release, local=local)


def evaluate_on_ray(ws, out, log, **options):
    """``evaluate`` of the module's bundle on 2 Ray actors running the logging engine; the engine closed after."""
    engine = RayEvaluator(RUNTIME, actors=2, batch_size=1, runtime_options={"log": str(log), **options})
    try:
        return evaluate(ws.bundle, data=str(ws.release), out=out, cache_dir=out.parent / "cache", engine=engine,
                        **OPTIONS)
    finally:
        engine.close()


def prompts(log) -> list[str]:
    return [prompt for call in logged_calls(log) for prompt in call["prompts"]]


def test_a_ray_evaluation_gives_the_in_process_predictions_byte_for_byte(ws, tmp_path):
    run = evaluate_on_ray(ws, tmp_path / "ray", tmp_path / "ray.log")
    assert (tmp_path / "ray" / "predictions.jsonl").read_bytes() == (ws.local.out / "predictions.jsonl").read_bytes()
    assert run.generated == ws.local.generated == 6 and run.cached == 0
    calls = logged_calls(tmp_path / "ray.log")
    assert len(calls) == 6 and len(set(prompts(tmp_path / "ray.log"))) == 6
    assert len({call["pid"] for call in calls}) == 2, "both actors should have generated"
    results = Results.model_validate_json((tmp_path / "ray" / "results.json").read_text())
    assert results.generation.engine == "ray"
    assert results.generation.engine_options["actors"] == 2
    assert {s: m.main for s, m in results.subtasks.items()} == {s: m.main for s, m in ws.local.results.subtasks.items()}


def test_a_killed_ray_evaluation_resumes_without_redoing_a_stored_generation(ws, tmp_path):
    """Every engine call after the 3rd fails (on whichever actor): the run stops with the worker's error and
    writes no predictions; the restart generates what was not stored, once each, and predicts what the
    uninterrupted run predicted."""
    with pytest.raises(WorkerError, match="interrupted after 3 calls"):
        evaluate_on_ray(ws, tmp_path / "run", tmp_path / "first.log", fail_after=3)
    assert not (tmp_path / "run" / "predictions.jsonl").exists()
    first = prompts(tmp_path / "first.log")
    assert len(first) == 3

    resumed = evaluate_on_ray(ws, tmp_path / "run", tmp_path / "second.log")
    second = prompts(tmp_path / "second.log")
    # what reached the driver was stored at once; lost are at most the batches the 2 actors were finishing
    assert resumed.cached >= 3 - 2 and resumed.cached + resumed.generated == 6
    assert len(second) == len(set(second)) == resumed.generated
    assert len(set(first) & set(second)) == 3 - resumed.cached, "a stored generation was made again"
    assert set(first) | set(second) == set(prompts_of_local(ws))
    assert (tmp_path / "run" / "predictions.jsonl").read_bytes() == (ws.local.out / "predictions.jsonl").read_bytes()


def prompts_of_local(ws) -> list[str]:
    """The prompts of the uninterrupted run, from the logging engine run once more in process."""
    from tests.support.logging_engine import LoggingEngine

    log = ws.root / "local-prompts.log"
    if not log.exists():
        evaluate(ws.bundle, data=str(ws.release), out=ws.root / "again", cache_dir=ws.root / "again-cache",
                 engine=LoggingEngine(batch_size=1, log=str(log)), **OPTIONS)
    return prompts(log)


def test_the_results_of_a_ray_run_record_no_cluster_address(ws, tmp_path):
    engine = RayEvaluator("transformers", actors=1, batch_size=1, address="auto")
    assert "address" not in engine.options and engine.options["runtime"] == "transformers"
    assert json.dumps(engine.options)  # recordable as JSON


def test_the_cli_runs_evaluate_on_ray(ws, tmp_path):
    from click.testing import CliRunner

    from compbench.cli import main

    args = ["--data", str(ws.release), "--engine", "ray", "--actors", "2", "--batch-size", "1",
            "--max-new-tokens", "5", "--bootstrap", "10", "--no-progress", "--cache-dir", str(tmp_path / "cache")]
    args += [item for subtask in SUBTASKS for item in ("--subtask", subtask)]
    result = CliRunner().invoke(main, ["evaluate", str(ws.bundle), "--out", str(tmp_path / "cli"), *args])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli" / "predictions.jsonl").read_bytes() == (ws.local.out / "predictions.jsonl").read_bytes()
    assert Results.model_validate_json((tmp_path / "cli" / "results.json").read_text()).generation.engine == "ray"
