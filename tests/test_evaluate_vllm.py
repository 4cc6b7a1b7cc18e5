"""``compbench evaluate --engine vllm`` without vLLM: LoRA exports, rank choice, requests, refusals.

vLLM cannot be installed here (no GPU; it pins its own torch and transformers). What vLLM would load is tested
for real: every update's exported PEFT directory loads in PEFT and computes what the folded path computes, on a
tiny Llama. What compbench asks of vLLM (``LLM`` options, token prompts, sampling parameters, LoRA requests) is
checked against a stand-in ``vllm`` module that records it (tests/support/vllm_standin.py). vLLM's own kernels are
not exercised.
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner

from compbench.cli import main
from compbench.errors import ConfigError, InputError
from compbench.evaluation.base_model import load_tokenizer, resolve_base_model
from compbench.evaluation.engine import base_eos_ids, eos_ids, load_plan
from compbench.evaluation.lora_export import PROVENANCE_FILE, export_dir, export_update, servable_lora
from compbench.evaluation.plan import Decoding, ModelPlan
from compbench.evaluation.runner import evaluate
from compbench.evaluation.steps import resolve_target, steps_for
from compbench.evaluation.vllm_engine import (
    VLLM_LORA_RANKS,
    VllmEngine,
    check_servable,
    llm_options,
    lora_int_id,
    max_lora_rank_for,
    sampling_options,
    token_prompts,
)
from compbench.schemas import Results
from tests.support.engines import one_torch_thread  # noqa: F401 (autouse fixture)
from tests.support.method_bundles import method_bundle, write_eval_release
from tests.support.tiny_chat import save_tiny_chat_model, tiny_chat_model, tiny_tokenizer
from tests.support.vllm_standin import StandInVLLM

FAST = {"max_new_tokens": 4, "batch_size": 2, "bootstrap": 10, "progress": False}
SUBTASKS = ["sum+tr-es", "sum+tone-professional+tr-es"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate-vllm")
    shapes, _ = tiny_chat_model(seed=1)
    llama = save_tiny_chat_model(root / "llama", seed=1)
    return SimpleNamespace(root=root, llama=llama, shapes=shapes, base=resolve_base_model(str(llama)),
                           release=write_eval_release(root / "release", SUBTASKS, test=3, train=2))


def bundle(ws, method, subtask="sum+tr-es"):
    path = ws.root / "bundles" / f"{method}-{subtask}"
    if not path.exists():
        method_bundle(path, method, ws.shapes, str(ws.llama), subtask=subtask)
    return path


def plan_of(ws, method, subtask="sum+tr-es", step=0) -> ModelPlan:
    return ModelPlan(ws.base, "float32", steps_for(resolve_target(bundle(ws, method, subtask)), subtask)[step].update)


def run_cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


# ------------------------------------------------------------------------------------------ rank and ids
@pytest.mark.parametrize(("rank", "expected"), [(1, 1), (2, 8), (4, 8), (8, 8), (9, 16), (32, 32), (33, 64),
                                                (64, 64), (300, 320), (321, 512), (512, 512)])
def test_max_lora_rank_is_the_smallest_value_vllm_allows_that_holds_the_rank(rank, expected):
    assert max_lora_rank_for(rank) == expected and expected in VLLM_LORA_RANKS


def test_a_rank_above_what_vllm_serves_is_refused_naming_the_fallback():
    with pytest.raises(ConfigError, match=r"rank 513 is more than vLLM serves .*--engine local"):
        max_lora_rank_for(513)


def test_lora_ids_come_from_the_content_hash_and_are_unique():
    a, b = "ab" * 32, "cd" * 32
    first = lora_int_id(a, {})
    assert first == lora_int_id(a, {}) == lora_int_id(a, {first: a})  # stable, and the same adapter keeps it
    assert 1 <= first < 2**31 and lora_int_id(b, {}) != first
    assert lora_int_id(b, {lora_int_id(b, {}): a}) == lora_int_id(b, {}) + 1  # a collision moves on, never shares


# --------------------------------------------------------------------- prompts and decoding as in process
def test_prompts_and_decoding_are_those_of_the_transformers_engine(ws):
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(ws.base)
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": "Summarize: the ferry leaves."}],
                                             tokenize=False, add_generation_prompt=True), "Hi"]
    decoding = Decoding(max_new_tokens=7, min_new_tokens=2)
    assert token_prompts(tokenizer, prompts, decoding) == [
        {"prompt_token_ids": tokenizer(p, add_special_tokens=False)["input_ids"]} for p in prompts]
    with_specials = Decoding(max_new_tokens=7, add_special_tokens=True)  # the plain fallback without a template
    assert token_prompts(tokenizer, ["Hi"], with_specials) == [
        {"prompt_token_ids": tokenizer("Hi", add_special_tokens=True)["input_ids"]}]
    model = AutoModelForCausalLM.from_pretrained(ws.llama)
    stops = base_eos_ids(ws.base, tokenizer)
    assert stops == eos_ids(model, tokenizer) and tokenizer.eos_token_id in stops
    assert sampling_options(decoding, stops) == {"n": 1, "temperature": 0.0, "max_tokens": 7, "min_tokens": 2,
                                                 "stop_token_ids": stops, "skip_special_tokens": True}


def test_llm_options_serve_loras_only_when_asked_and_pass_engine_options_through(ws):
    plain = llm_options(ws.base, "bfloat16", None, 1, {"gpu_memory_utilization": 0.8})
    assert plain == {"model": ws.base.path, "tokenizer": ws.base.path, "dtype": "bfloat16", "seed": 0,
                     "generation_config": "vllm", "gpu_memory_utilization": 0.8}
    assert llm_options(ws.base, "float16", 33, 2, {}) == {
        "model": ws.base.path, "tokenizer": ws.base.path, "dtype": "float16", "seed": 0, "generation_config": "vllm",
        "enable_lora": True, "max_loras": 2, "max_lora_rank": 64}


# ------------------------------------------------------------------------------- exports (what vLLM loads)
EXPORTED_RANK = {"main-lora": 4, "ties": None, "concat": 8, "lc": 5, "lc++": 6, "lc-no-lora": 1, "dam": None}


@pytest.mark.parametrize("method", list(EXPORTED_RANK))
def test_an_exported_update_loads_in_peft_and_computes_the_folded_weights(ws, tmp_path, method):
    """The directory vLLM is given, loaded by PEFT (unmerged: x A^T B^T added to the base), gives the logits of
    the base model with the update folded into its weights (what the transformers engine runs)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    plan = plan_of(ws, method)
    exported = export_update(plan, tmp_path)
    config = json.loads((exported.path / "adapter_config.json").read_text())
    assert config["r"] == config["lora_alpha"] == exported.rank
    assert EXPORTED_RANK[method] in (None, exported.rank)
    assert (config["rank_pattern"], config["alpha_pattern"], config["bias"], config["use_dora"],
            config.get("modules_to_save"), config.get("lora_bias", False)) == ({}, {}, "none", False, None, False)
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(ws.llama), str(exported.path)).eval()
    folded, _ = load_plan(plan)
    base = AutoModelForCausalLM.from_pretrained(ws.llama).eval()
    ids = torch.tensor([[5, 17, 42, 99, 7, 300, 12]])
    with torch.no_grad():
        theirs, ours, before = peft_model(ids).logits, folded(ids).logits, base(ids).logits
    assert (ours - before).abs().max() > 0.1  # the update changes the outputs, or this proves nothing
    assert torch.allclose(theirs, ours, atol=1e-4, rtol=0)


def test_servable_lora_pads_ranks_and_folds_scalings_without_changing_delta_w():
    from compbench.adapters.lora_io import LoraAdapter, LoraFactors

    generator = torch.Generator().manual_seed(0)
    mixed = LoraAdapter("tiny", {"r": 2, "lora_alpha": 4, "use_rslora": True}, {
        "a.q_proj": LoraFactors(torch.randn(2, 6, generator=generator), torch.randn(5, 2, generator=generator), 0.7),
        "a.v_proj": LoraFactors(torch.randn(3, 6, generator=generator), torch.randn(4, 3, generator=generator), 2.0),
    })
    servable = servable_lora(mixed)
    assert {f.rank for f in servable.modules.values()} == {3} and {f.scaling for f in servable.modules.values()} == {1.0}
    assert servable.config == {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 3, "lora_alpha": 3,
                               "lora_dropout": 0.0, "bias": "none"}
    for name in mixed.modules:
        assert torch.allclose(servable.delta(name), mixed.delta(name), atol=1e-6, rtol=0)


def test_an_export_is_written_once_and_keyed_by_its_inputs(ws, tmp_path, monkeypatch):
    plan = plan_of(ws, "ties")
    first = export_update(plan, tmp_path)
    assert first.path == export_dir(plan, tmp_path) and (first.path / PROVENANCE_FILE).is_file()
    monkeypatch.setattr("compbench.evaluation.updates.build_update", lambda *_: pytest.fail("merged again"))
    assert export_update(plan, tmp_path) == first  # read back: no merge is computed again
    assert export_dir(plan_of(ws, "dare"), tmp_path) != first.path  # another merge
    other = replace(plan.update, parameters_json='{"density":0.5}')
    assert export_dir(ModelPlan(ws.base, "float32", other), tmp_path) != first.path  # other parameters
    moved = ModelPlan(replace(ws.base, revision="sha256:another"), "float32", plan.update)
    assert export_dir(moved, tmp_path) != first.path  # another base model
    assert export_dir(ModelPlan(ws.base, "bfloat16", plan.update), tmp_path) == first.path  # dtype: vLLM's business
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.path.name]  # no staging directory left behind


# --------------------------------------------------------------------------------- end to end, stand-in
def test_evaluate_serves_each_pass_as_a_lora_request_on_one_engine(ws, tmp_path, monkeypatch):
    vllm = StandInVLLM().install(monkeypatch)
    three_way = bundle(ws, "multi-step", "sum+tone-professional+tr-es")  # its LoRAs serve both sub-tasks
    code, output = run_cli("evaluate", three_way, "--data", ws.release, "--engine", "vllm",
                           "--device", "cuda", "--subtask", "sum+tr-es", "--subtask", "sum+tone-professional+tr-es",
                           "--out", tmp_path / "run", "--cache-dir", tmp_path / "cache", "--max-new-tokens", "5",
                           "--batch-size", "64", "--bootstrap", "10", "--no-progress")
    assert code == 0, output
    (llm,) = vllm.llms  # one engine for every pass of the run
    base = resolve_base_model(str(ws.llama))
    assert llm.kwargs == llm_options(base, "float32", 4, 1, {})  # rank-4 LoRAs: max_lora_rank 8
    # multi-step: one generate call per (step, adapter): sum, then tr-es for both sub-tasks, tone-professional,
    # then tr-es again for the three-way chain's last step
    tasks = [steps_for(resolve_target(three_way), s) for s in SUBTASKS]
    paths = [call["lora"].lora_path for call in vllm.calls]
    exported = {step.task: str(export_update(ModelPlan(base, "float32", step.update),
                                             tmp_path / "cache" / "lora-exports").path)
                for chain in tasks for step in chain}
    # pass 1: the sum LoRA for both sub-tasks at once; pass 2: tr-es (sum+tr-es), tone (three-way); pass 3: tr-es
    assert paths == [exported["sum"], exported["tr-es"], exported["tone-professional"], exported["tr-es"]]
    ids = {call["lora"].lora_path: call["lora"].lora_int_id for call in vllm.calls}
    assert len(set(ids.values())) == 3  # one id per adapter, reused for its second pass
    for call in vllm.calls:
        assert call["params"]["max_tokens"] == 5 and call["params"]["temperature"] == 0.0 and not call["use_tqdm"]
    results = Results.model_validate_json((tmp_path / "run" / "results.json").read_text())
    assert (results.generation.engine, results.generation.engine_options) == (
        "vllm", {"max_loras": 1, "max_lora_rank": 8})
    assert results.generation.device == "cuda"
    predictions = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    last = f"[{exported['tr-es'].rsplit('/', 1)[1]}]"  # every prediction comes from the tr-es pass, stripped
    assert len(predictions) == 6 and all(p["prediction"].startswith(last) for p in predictions)
    assert all(p["prediction"] == p["prediction"].strip() for p in predictions)


def test_zero_shot_needs_no_lora_and_a_grid_learns_the_largest_rank_first(ws, tmp_path, monkeypatch):
    vllm = StandInVLLM().install(monkeypatch)
    for method in ("main-lora", "lc", "concat"):
        bundle(ws, method)
    (tmp_path / "grid.yaml").write_text(f"""\
data: {ws.release}
out: runs
subtasks: [sum+tr-es]
limit: 2
max_new_tokens: 3
bootstrap: 10
models:
  - name: llama
    base_model: {ws.llama}
    bundles: [zero-shot, {ws.root}/bundles/main-lora-sum+tr-es, {ws.root}/bundles/lc-sum+tr-es,
              {ws.root}/bundles/concat-sum+tr-es]
""")
    code, output = run_cli("run-grid", tmp_path / "grid.yaml", "--engine", "vllm", "--cache-dir", tmp_path / "cache",
                           "--no-progress")
    assert code == 2 and "vLLM runs on the machine's CUDA GPUs: pass --device cuda" in output
    (tmp_path / "grid.yaml").write_text((tmp_path / "grid.yaml").read_text().replace("limit: 2", "limit: 2\ndevice: cuda"))
    code, output = run_cli("run-grid", tmp_path / "grid.yaml", "--engine", "vllm", "--cache-dir", tmp_path / "cache",
                           "--no-progress")
    assert code == 0, output
    (llm,) = vllm.llms  # ranks 4 (LoRA), 5 (LC: r+1) and 8 (concat: 4+4) on one engine, made for rank 8
    assert llm.kwargs["enable_lora"] and llm.kwargs["max_lora_rank"] == 8
    assert [call["lora"] is None for call in llm.calls] == [True, False, False, False]
    served = [json.loads((tmp_path / "runs" / "llama" / label / "results.json").read_text())["generation"]
              for label in ("zero-shot", "main-lora-sum+tr-es")]
    assert [s["engine_options"]["max_lora_rank"] for s in served] == [8, 8]


def test_the_cache_key_does_not_name_the_engine(ws, tmp_path, monkeypatch):
    """What one engine generated is served to another from the cache (docs/evaluate.md says so)."""
    options = {**FAST, "subtasks": ["sum+tr-es"], "cache_dir": tmp_path / "cache"}
    local = evaluate(bundle(ws, "main-lora"), data=str(ws.release), out=tmp_path / "local", **options)
    vllm = StandInVLLM().install(monkeypatch)
    served = evaluate(bundle(ws, "main-lora"), data=str(ws.release), out=tmp_path / "vllm", engine="vllm",
                      device="cuda", **options)
    assert (served.generated, served.cached, vllm.llms) == (0, local.generated, [])
    assert served.predictions == local.predictions


# ------------------------------------------------------------------------------------------------ refusals
def save_tiny_stablelm(directory):
    """A tiny StableLM with the tiny Llama's module names and shapes (so that its LoRAs fit)."""
    from transformers import StableLmConfig, StableLmForCausalLM

    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    model = StableLmForCausalLM(StableLmConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, partial_rotary_factor=0.5, max_position_embeddings=512, tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_a_lora_on_stablelm_is_refused_naming_the_transformers_engine_and_zero_shot_runs(ws, tmp_path, monkeypatch):
    vllm = StandInVLLM().install(monkeypatch)
    stablelm = save_tiny_stablelm(tmp_path / "stablelm")
    code, output = run_cli("evaluate", bundle(ws, "main-lora"), "--base-model", stablelm, "--data", ws.release,
                           "--engine", "vllm", "--device", "cuda", "--out", tmp_path / "run", "--no-progress")
    assert code == 2 and len(output.strip().splitlines()) == 1 and "Traceback" not in output, output
    assert "vLLM has no LoRA support for StableLM" in output and "--engine local (transformers" in output
    assert not (tmp_path / "run").exists() and not vllm.llms
    code, output = run_cli("evaluate", "--method", "zero-shot", "--base-model", stablelm, "--data", ws.release,
                           "--subtask", "sum+tr-es", "--engine", "vllm", "--device", "cuda", "--out", tmp_path / "zs",
                           "--max-new-tokens", "3", "--bootstrap", "10", "--no-progress")
    assert code == 0, output
    assert [call["lora"] for call in vllm.calls] == [None]
    code, output = run_cli("evaluate", bundle(ws, "main-lora"), "--base-model", stablelm, "--data", ws.release,
                           "--out", tmp_path / "local", "--max-new-tokens", "3", "--bootstrap", "10", "--no-progress")
    assert code == 0, output  # the fallback the message names


@pytest.mark.parametrize(("declared", "message"), [({"lora_bias": True}, "declares lora_bias"),
                                                   ({"modules_to_save": ["lm_head"]}, "declares modules_to_save"),
                                                   ({"bias": "lora_only"}, "declares bias='lora_only'")])
def test_adapters_declaring_what_vllm_rejects_are_refused_and_run_in_process(ws, tmp_path, monkeypatch, declared,
                                                                              message):
    StandInVLLM().install(monkeypatch)
    path = tmp_path / "bundle"
    shutil.copytree(bundle(ws, "main-lora"), path)
    (config_path,) = path.glob("adapters/*/adapter_config.json")
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), **declared}))
    code, output = run_cli("evaluate", path, "--data", ws.release, "--engine", "vllm", "--device", "cuda",
                           "--out", tmp_path / "run", "--no-progress")
    assert code == 2 and message in output and "which vLLM does not load" in output, output
    assert "--engine local" in output and len(output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    code, output = run_cli("evaluate", path, "--data", ws.release, "--out", tmp_path / "local", "--max-new-tokens",
                           "3", "--bootstrap", "10", "--no-progress")
    assert code == 0, output


def test_marian_is_refused(ws, tmp_path):
    marian = tmp_path / "marian"
    marian.mkdir()
    (marian / "config.json").write_text(json.dumps({"model_type": "marian", "is_encoder_decoder": True}))
    plan = ModelPlan(replace(ws.base, name="Helsinki-NLP/opus-mt-en-es", path=str(marian)), "float32", None)
    with pytest.raises(ConfigError, match=r"vLLM cannot run Marian \(OpusMT, encoder-decoder\)"):
        check_servable(plan)


def test_engine_settings_and_the_missing_extra_are_one_line_errors(ws, tmp_path, monkeypatch):
    for args, message in [(["--device", "cpu"], "pass --device cuda"),
                          (["--device", "cuda:1"], "choose GPUs with CUDA_VISIBLE_DEVICES"),
                          (["--device", "cuda", "--actors", "2"], "--actors: only with --engine ray")]:
        StandInVLLM().install(monkeypatch)
        code, output = run_cli("evaluate", bundle(ws, "main-lora"), "--data", ws.release, "--engine", "vllm",
                               "--out", tmp_path / "run", "--no-progress", *args)
        assert code == 2 and message in output and len(output.strip().splitlines()) == 1, (args, output)
        assert not (tmp_path / "run").exists()
    monkeypatch.undo()
    import sys

    monkeypatch.setitem(sys.modules, "vllm", None)  # not installed
    code, output = run_cli("evaluate", bundle(ws, "main-lora"), "--data", ws.release, "--engine", "vllm",
                           "--device", "cuda", "--out", tmp_path / "run")
    assert code == 2 and "--engine vllm needs the [vllm] extra" in output and "separate virtual environment" in output
    with pytest.raises(ConfigError, match="max_lora_rank must be one of"):
        VllmEngine(max_lora_rank=48)
    update = plan_of(ws, "main-lora").update
    gone = replace(update, adapters=(replace(update.adapters[0], path=str(tmp_path / "gone")),))
    with pytest.raises(InputError, match="not a PEFT adapter directory"):
        VllmEngine().prepare([ModelPlan(ws.base, "float32", gone)])


def test_a_plan_needing_a_larger_rank_after_the_engine_was_made_is_refused(ws, tmp_path, monkeypatch):
    StandInVLLM().install(monkeypatch)
    engine = VllmEngine(export_dir=tmp_path)
    lora, concat = plan_of(ws, "main-lora"), plan_of(ws, "concat")
    engine.prepare([lora])
    tokens = len(load_tokenizer(ws.base)("hello", add_special_tokens=False)["input_ids"])
    assert engine.generate(lora, ["hello"], Decoding(max_new_tokens=2)) == [
        f"[{export_update(lora, tmp_path).path.name}] {tokens} tokens"]
    with pytest.raises(ConfigError, match="made for LoRAs of rank 8 at most"):
        engine.prepare([plan_of(ws, "concat", "sum+tone-professional+tr-es")])  # 3 x rank 4 = 12 > 8
    engine.prepare([concat])  # rank 8 still fits the engine made for rank 8
    pickled = pickle.loads(pickle.dumps(engine))
    assert pickled._llm is None and pickled.lora_rank == engine.lora_rank and pickled.exports == {}
