"""The method registry is the one place: every method runs with the passes it declares, every combine kind has
its code, ``compbench methods`` lists the registry, training writes the registry's ids."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from compbench.architectures import Settings
from compbench.cli import main
from compbench.errors import ConfigError
from compbench.evaluation.runner import evaluate
from compbench.evaluation.updates import UPDATES
from compbench.methods import (
    BLOCK_TITLES,
    COMBINE_KINDS,
    METHODS,
    adapter_method,
    calibration_method,
    find_method,
    learned_merges,
)
from compbench.methods.roles import chain, role_of_task
from compbench.training.bundles import MERGE_METHODS
from tests.support.engines import Recording, one_torch_thread  # noqa: F401 (autouse fixture)
from tests.support.method_bundles import method_bundle, write_eval_release
from tests.support.tiny_chat import save_tiny_chat_model, tiny_chat_model

THREE_WAY = "sum+tone-professional+tr-es"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    shapes, _ = tiny_chat_model(seed=1)
    return root, save_tiny_chat_model(root / "llama", seed=1), shapes, write_eval_release(
        root / "release", ["sum+tr-es", THREE_WAY], test=2, train=2)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("subtask", ["sum+tr-es", THREE_WAY])
def test_each_method_makes_the_passes_it_declares(ws, tmp_path, method, subtask):
    """Counted on a model-free engine: every row goes through exactly ``spec.passes`` generations."""
    root, base, shapes, release = ws
    spec = METHODS[method]
    path = method_bundle(tmp_path / "bundle", method, shapes, str(base), subtask=subtask)
    engine = Recording()
    if method == "slerp" and subtask == THREE_WAY:
        with pytest.raises(ConfigError, match="slerp merges exactly 2 adapters"):
            evaluate(path, data=str(release), subtasks=[subtask], out=tmp_path / "run", engine=engine,
                     cache_dir=tmp_path / "cache", bootstrap=0, progress=False)
        assert not (tmp_path / "run").exists() and not engine.calls
        return
    evaluation = evaluate(path, data=str(release), subtasks=[subtask], out=tmp_path / "run", engine=engine,
                          cache_dir=tmp_path / "cache", bootstrap=0, progress=False)
    passes = spec.passes(Settings(tasks=len(chain(subtask))))
    assert len(engine.prompts) == 2 * passes
    assert evaluation.results.generation.inference_passes == passes == evaluation.results.efficiency.inference_passes
    assert len({plan.key for plan, _ in engine.calls}) == passes  # one model per pass
    assert all((plan.update is None) == (spec.combine == "none") for plan, _ in engine.calls)


def test_every_combine_kind_has_its_code():
    # "none" is the base model and "steps" a sequence of "adapter" passes; the others change weights
    assert set(COMBINE_KINDS) == set(UPDATES) | {"none", "steps"}
    assert {spec.combine for spec in METHODS.values()} <= set(COMBINE_KINDS)


def test_lookups_derive_ids_from_the_registry():
    assert [adapter_method(role) for role in ("main", "aux", "joint")] == ["main-lora", "aux-lora", "joint-expert"]
    assert calibration_method("lc++", shared=True, with_loras=False) == "lc++-shared-no-lora"
    assert calibration_method("lc", shared=False, with_loras=True) == "lc"
    assert MERGE_METHODS == learned_merges() == ("lorahub", "lm-cocktail", "dam")
    with pytest.raises(ConfigError, match="has 0 methods"):
        find_method(combine="merge", merge="avg")
    assert [role_of_task(t) for t in ("sum", "reply", "tr-fr", "tone-witty", "sum+tr-de")] == [
        "main", "main", "aux", "aux", "joint"]
    assert chain(THREE_WAY) == ("sum", "tone-professional", "tr-es")


def test_compbench_methods_lists_the_registry():
    result = CliRunner().invoke(main, ["methods", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [m["id"] for m in listed] == list(METHODS)
    assert {m["id"]: m["inference_passes"] for m in listed}["multi-step"] == 2
    assert all(m["inference"] for m in listed)
    text = CliRunner().invoke(main, ["methods"]).output
    assert all(title in text for title in BLOCK_TITLES.values())
    assert text.index("zero-shot") < text.index("ties") < text.index("multi-step") < text.index("lc++-shared-no-lora")


def test_listing_methods_loads_no_backend():
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from compbench.cli import main; "
            "result = CliRunner().invoke(main, ['methods']); assert result.exit_code == 0, result.output; "
            "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
