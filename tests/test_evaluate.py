"""``compbench evaluate`` end to end on tiny Llama and Qwen2 chat models: every method of the registry runs and
writes a valid results document; multi-step, ICL, resume, the cache, and the errors users see."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.evaluation.engine import TransformersEngine
from compbench.evaluation.runner import evaluate, icl_seed
from compbench.methods import METHODS
from compbench.schemas import Results
from compbench.scoring import score
from compbench.training.data import load_examples
from tests.support.engines import Recording, echo_output, one_torch_thread  # noqa: F401 (autouse fixture)
from tests.support.method_bundles import method_bundle, write_eval_release
from tests.support.tiny_chat import save_tiny_chat_model, tiny_chat_model

FAST = {"max_new_tokens": 4, "batch_size": 2, "bootstrap": 10, "progress": False}
SUBTASKS = ["sum+tr-es", "reply+tone-casual", "sum+tone-professional+tr-es"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    shapes, _ = tiny_chat_model(seed=1)  # the Llama and the Qwen2 share module names and shapes
    return SimpleNamespace(root=root, llama=save_tiny_chat_model(root / "llama", seed=1),
                           qwen2=save_tiny_chat_model(root / "qwen2", seed=2, architecture="qwen2"),
                           shapes=shapes, release=write_eval_release(root / "release", SUBTASKS, test=3, train=4))


def bundle(ws, method, base="llama", subtask="sum+tr-es"):
    path = ws.root / "bundles" / base / f"{method}-{subtask}"
    if not path.exists():
        method_bundle(path, method, ws.shapes, str(getattr(ws, base)), subtask=subtask)
    return path


def check_results_document(out, method, base):
    results = Results.model_validate_json((out / "results.json").read_text())
    assert results.method == method and results.base_model == base
    assert results.base_revision.startswith("sha256:")
    assert results.generation.engine == "transformers" and results.generation.chat_template
    assert (out / "results.examples.parquet").is_file()
    # the predictions file is exactly what `compbench score` reads, and scores the same
    ids = [json.loads(line)["id"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    rescored = score(out / "predictions.jsonl", data=results.benchmark.release, subtasks=list(results.subtasks),
                     seed=0, bootstrap=10, ids=ids if results.generation.limit else None).results
    assert {s: m.main for s, m in rescored.subtasks.items()} == {s: m.main for s, m in results.subtasks.items()}
    return results


# ------------------------------------------------------------------------------------------ every row
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_of_the_registry_runs_on_llama(ws, tmp_path, method):
    evaluation = evaluate(bundle(ws, method), data=str(ws.release), out=tmp_path / "run", limit=2,
                          subtasks=["sum+tr-es"], **FAST)
    results = check_results_document(tmp_path / "run", method, str(ws.llama))
    spec = METHODS[method]
    assert list(results.subtasks) == ["sum+tr-es"] and results.subtasks["sum+tr-es"].n == 2
    assert results.efficiency.inference_passes == results.generation.inference_passes
    assert results.generation.inference_passes == (2 if spec.combine == "steps" else 1)
    assert results.generation.prompt == spec.prompt
    assert all(len(a.sha256) == 64 for a in results.bundle.adapters)
    assert len(results.bundle.adapters) == {"none": 0, "adapter": 1}.get(spec.combine, 2 if spec.needs_adapters else 0)
    assert (results.bundle.calibration is not None) == bool({"calibration", "coefficients"} & set(spec.learned))
    assert len(evaluation.predictions) == sum(m.n for m in results.subtasks.values())


@pytest.mark.parametrize("method", ["icl", "main-lora", "ties", "multi-step", "lc++-shared", "lc-no-lora"])
def test_one_method_per_block_runs_on_qwen2(ws, tmp_path, method):
    evaluate(bundle(ws, method, base="qwen2"), data=str(ws.release), out=tmp_path / "run", limit=2,
             subtasks=["sum+tr-es"], **FAST)
    results = check_results_document(tmp_path / "run", method, str(ws.qwen2))
    # efficiency is the registry's formula on the base model's architecture, with the bundle's ranks (4 and 2)
    from transformers import AutoConfig

    from compbench.architectures import Settings
    from compbench.efficiency import architecture_from_config

    arch = architecture_from_config(AutoConfig.from_pretrained(ws.qwen2), "qwen2")
    assert results.efficiency.additional_params == METHODS[method].params(arch, Settings(4, 2, 2))


def test_zero_shot_and_icl_need_no_bundle(ws, tmp_path):
    code, output = run_cli("evaluate", "--method", "zero-shot", "--base-model", ws.llama, "--data", ws.release,
                           "--subtask", "sum+tr-es", "--out", tmp_path / "zs", "--limit", "2", "--max-new-tokens", "3",
                           "--bootstrap", "10", "--no-progress")
    assert code == 0, output
    assert "sum+tr-es" in output and "zero-shot on" in output
    results = check_results_document(tmp_path / "zs", "zero-shot", str(ws.llama))
    assert results.bundle.path is None and results.bundle.adapters == []


# ------------------------------------------------------------------------------------------ multi-step
def test_multi_step_runs_two_passes_and_keeps_the_intermediates(ws, tmp_path):
    engine = Recording()
    evaluation = evaluate(bundle(ws, "multi-step"), data=str(ws.release), out=tmp_path / "run",
                          subtasks=["sum+tr-es"], engine=engine, cache_dir=tmp_path / "cache", **FAST)
    assert evaluation.results.generation.inference_passes == 2
    assert evaluation.results.efficiency.inference_passes == 2
    (first_plan, first), (second_plan, second) = engine.calls[0], engine.calls[-1]
    # pass 1: the main task's LoRA and its single-task prompt; pass 2: the auxiliary LoRA on pass 1's output
    assert [a.task for a in first_plan.update.adapters] == ["sum"]
    assert [a.task for a in second_plan.update.adapters] == ["tr-es"]
    assert all("Summarize the following text:" in p for p in first)
    assert all("Translate the following text from English to Spanish:" in p for p in second)
    lines = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and len({line["id"] for line in lines}) == 3
    for line in lines:
        (intermediate,) = line["intermediate"]
        pass_two_prompt = next(p for p in engine.prompts if intermediate in p and "Translate" in p)
        assert line["prediction"] == echo_output(second_plan, pass_two_prompt)


def test_three_way_multi_step_runs_three_passes_in_chain_order(ws, tmp_path):
    engine = Recording()
    path = bundle(ws, "multi-step", subtask="sum+tone-professional+tr-es")
    evaluation = evaluate(path, data=str(ws.release), out=tmp_path / "run", engine=engine,
                          subtasks=["sum+tone-professional+tr-es"], cache_dir=tmp_path / "cache", **FAST)
    assert list(evaluation.results.subtasks) == ["sum+tone-professional+tr-es"]
    assert evaluation.results.generation.inference_passes == 3 == evaluation.results.efficiency.inference_passes
    assert [[a.task for a in plan.update.adapters] for plan, _ in engine.calls[::2]] == [
        ["sum"], ["tone-professional"], ["tr-es"]]
    assert all(len(p["intermediate"]) == 2 for p in evaluation.predictions)


# ------------------------------------------------------------------------------------------------- ICL
def test_icl_example_comes_from_the_train_split_never_the_evaluated_one(ws, tmp_path):
    engine = Recording()
    evaluation = evaluate(bundle(ws, "icl"), data=str(ws.release), out=tmp_path / "run", subtasks=["sum+tr-es"],
                          engine=engine, cache_dir=tmp_path / "cache", seed=5, **FAST)
    shot = load_examples(ws.release, ["sum+tr-es"], split="train", limit=1, seed=icl_seed(5, "sum+tr-es"))[0]
    assert evaluation.results.generation.icl_examples == {"sum+tr-es": shot.id}
    assert "-train-" in shot.id
    for prompt in engine.prompts:
        # the solved example (train input and train reference) comes first, then the evaluated input
        assert prompt.count("[train input") == 1 and prompt.count("[train reference") == 1
        assert shot.input in prompt and shot.reference in prompt
        assert prompt.index(shot.reference) < prompt.index("[test input")
        assert prompt.count("[test input") == 1 and "[test reference" not in prompt
    assert len(engine.prompts) == 3


def test_icl_refuses_to_evaluate_the_train_split(ws, tmp_path):
    code, output = run_cli("evaluate", bundle(ws, "icl"), "--data", ws.release, "--split", "train",
                           "--out", tmp_path / "run")
    assert code == 2 and "draws its example from the train split" in output
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------- resume and cache
def test_a_killed_run_resumes_to_identical_predictions(ws, tmp_path):
    path = bundle(ws, "main-lora")  # its sum LoRA serves sum+tr-es and the three-way sub-task: 6 rows
    options = {**FAST, "batch_size": 1, "max_new_tokens": 5, "subtasks": ["sum+tr-es", "sum+tone-professional+tr-es"]}
    full = evaluate(path, data=str(ws.release), out=tmp_path / "full", cache_dir=tmp_path / "cache-full", **options)
    assert full.generated == 6
    dying = Recording(TransformersEngine(batch_size=1), die_after=2)
    with pytest.raises(KeyboardInterrupt):
        evaluate(path, data=str(ws.release), out=tmp_path / "run", cache_dir=tmp_path / "cache", engine=dying,
                 **options)
    assert not (tmp_path / "run" / "predictions.jsonl").exists()
    again = Recording(TransformersEngine(batch_size=1))
    resumed = evaluate(path, data=str(ws.release), out=tmp_path / "run", cache_dir=tmp_path / "cache", engine=again,
                       **options)
    assert (resumed.cached, resumed.generated, len(again.calls)) == (2, 4, 4)  # nothing lost, nothing twice
    assert not set(again.prompts) & set(dying.prompts)
    assert (tmp_path / "run" / "predictions.jsonl").read_text() == (tmp_path / "full" / "predictions.jsonl").read_text()


def test_a_finished_evaluation_run_again_makes_no_model_call_and_loads_no_weights(ws, tmp_path):
    path = bundle(ws, "ties")
    first = evaluate(path, data=str(ws.release), out=tmp_path / "run", cache_dir=tmp_path / "cache", **FAST)
    assert first.generated > 0 and first.model_calls > 0
    engine = TransformersEngine(batch_size=2)
    again = evaluate(path, data=str(ws.release), out=tmp_path / "run", cache_dir=tmp_path / "cache", engine=engine,
                     **FAST)
    assert (again.model_calls, again.generated, engine.loads) == (0, 0, 0)
    assert again.cached == first.generated and again.predictions == first.predictions
    # the cache key names the weights: another bundle's adapters are not served this bundle's outputs
    other = evaluate(bundle(ws, "dare"), data=str(ws.release), out=tmp_path / "other", cache_dir=tmp_path / "cache",
                     **FAST)
    assert other.cached == 0 and other.generated == first.generated


def test_an_output_directory_of_another_evaluation_is_refused(ws, tmp_path):
    engine = Recording()
    evaluate(bundle(ws, "main-lora"), data=str(ws.release), out=tmp_path / "run", engine=engine,
             cache_dir=tmp_path / "cache", **FAST)
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    code, output = run_cli("evaluate", bundle(ws, "aux-lora"), "--data", ws.release, "--out", tmp_path / "run",
                           "--max-new-tokens", "4", "--no-progress")
    assert code == 2 and "holds another evaluation (it differs in: bundle, method)" in output
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before


# ----------------------------------------------------------------------------------------------- errors
def run_cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_errors_exit_2_with_one_line_and_write_nothing(ws, tmp_path, monkeypatch):
    import shutil

    from compbench.adapters.lora_io import save_lora
    from compbench.bundle import write_bundle
    from tests.support.tiny_peft import random_adapter, tiny_llama

    broken = tmp_path / "broken"
    shutil.copytree(bundle(ws, "linear"), broken)
    (broken / "adapters" / "tr-es" / "adapter_model.safetensors").unlink()
    foreign = tmp_path / "foreign-lora"
    save_lora(random_adapter(tiny_llama(seed=0, hidden_size=12, head_dim=3), seed=3), foreign)
    mismatched = write_bundle(tmp_path / "mismatched", base_model=str(ws.llama), method="main-lora",
                              adapters={"sum": foreign}, tasks={"sum": "sum"}).path
    unknown = tmp_path / "unknown"
    shutil.copytree(bundle(ws, "main-lora"), unknown)
    manifest = json.loads((unknown / "bundle.json").read_text())
    (unknown / "bundle.json").write_text(json.dumps({**manifest, "method": "lora-soup"}))
    cases = [
        ([broken], "no adapter_model.safetensors"),
        ([mismatched], "(a LoRA for another model?)"),
        ([bundle(ws, "main-lora"), "--subtask", "reply+tr-de"], "the release has no test split of sub-task reply+tr-de"),
        ([bundle(ws, "main-lora"), "--subtask", "reply+tone-casual"], "needs a LoRA for reply"),
        ([bundle(ws, "main-lora"), "--base-model", "someone/not-downloaded"],
         "cannot reach the Hugging Face Hub for base model someone/not-downloaded"),
        ([unknown], "unknown method 'lora-soup'"),
        (["--method", "lc", "--base-model", ws.llama], "needs a bundle"),
        ([bundle(ws, "main-lora"), "--subtask", "sum"], "sum is a single task"),
    ]
    for args, message in cases:
        out = tmp_path / "out"
        code, output = run_cli("evaluate", *args, "--data", ws.release, "--out", out, "--no-progress")
        assert code == 2, (args, output)
        assert message in output and "Traceback" not in output, (args, output)
        assert len(output.strip().splitlines()) == 1 and output.startswith("error: ")
        assert not out.exists()


# -------------------------------------------------------------------------- folded vs exported calibration
def test_calibrated_bundle_folded_and_its_peft_export_generate_the_same(ws, tmp_path):
    """LC++ folded into the weights (what evaluate runs) and the same calibration exported as a plain LoRA of
    rank r+s, loaded by PEFT, give the same greedy tokens: checked where it holds by construction, i.e. at every
    generated position the folded model's top logit leads the runner-up by far more than the two models differ."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from compbench.adapters.calibration import load_calibration
    from compbench.adapters.lora_io import load_lora
    from compbench.bundle import read_bundle
    from compbench.evaluation.base_model import load_tokenizer, resolve_base_model
    from compbench.evaluation.engine import greedy_generate, load_plan
    from compbench.evaluation.plan import Decoding, ModelPlan
    from compbench.evaluation.steps import resolve_target, steps_for
    from compbench.training.bundles import export_calibration_lora
    from compbench.training.formatting import ChatFormatter

    path = bundle(ws, "lc++")
    options = {**FAST, "batch_size": 1, "max_new_tokens": 6}
    folded = evaluate(path, data=str(ws.release), out=tmp_path / "run", cache_dir=tmp_path / "cache", **options)
    plain = evaluate(None, method="zero-shot", base_model=str(ws.llama), data=str(ws.release), out=tmp_path / "zs",
                     cache_dir=tmp_path / "cache", subtasks=["sum+tr-es"], **options)
    assert folded.predictions != plain.predictions, "the calibration must change the outputs, or this proves nothing"

    read = read_bundle(path)
    base = AutoModelForCausalLM.from_pretrained(ws.llama).eval()
    export_calibration_lora(load_calibration(read.calibration_path), base,
                            [load_lora(read.adapter_path(a.name)) for a in read.manifest.adapters], tmp_path / "export")
    assert load_lora(tmp_path / "export").config["r"] == 4 + 2  # rank r + s
    peft_model = PeftModel.from_pretrained(base, str(tmp_path / "export")).eval()
    tokenizer = load_tokenizer(resolve_base_model(str(ws.llama)))
    formatter = ChatFormatter(tokenizer)
    rows = load_examples(ws.release, ["sum+tr-es"], split="test")
    prompts = [formatter.prompt_text(f"{row.prompt}\n\n{row.input}") for row in rows]
    decoding = Decoding(max_new_tokens=6)
    assert greedy_generate(peft_model, tokenizer, prompts, decoding, 1) == [p["prediction"] for p in folded.predictions]

    # Why equality holds here: the two models' logits differ by float error only, far below the greedy margins.
    update = steps_for(resolve_target(path), "sum+tr-es")[0].update
    fold_model, _ = load_plan(ModelPlan(resolve_base_model(str(ws.llama)), "float32", update))
    for prompt in prompts:
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        out = fold_model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        with torch.no_grad():
            a, b = fold_model(out).logits[0, ids.shape[1] - 1:-1], peft_model(out).logits[0, ids.shape[1] - 1:-1]
        top2 = a.topk(2, dim=-1).values
        assert (a - b).abs().max() < 1e-4
        assert (top2[:, 0] - top2[:, 1]).min() > 100 * (a - b).abs().max()
