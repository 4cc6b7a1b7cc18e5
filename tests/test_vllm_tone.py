"""The vLLM tone path without vLLM: the exact LoRA merge, the cached merged checkpoint, requests and stops.

vLLM cannot be installed here (no GPU; it pins its own torch and transformers). Everything around it is tested:
the merge against PEFT's ``merge_and_unload`` on a tiny GPT-NeoX, the checkpoint it is written to, the sampling
parameters, the prompts, ``### END`` handling, and the generator end to end against a stand-in ``vllm`` module
that records what it is given. vLLM's own kernels are not exercised (docs/engines.md says so).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch

from compbench.errors import ConfigError, InputError
from compbench.generation.base import generator_fingerprint
from compbench.generation.checkpoints import describe_local_checkpoint
from compbench.generation.merged_lora import (
    MERGE_METHOD,
    PROVENANCE_FILE,
    merge_lora_weights,
    merged_checkpoint,
    merged_checkpoint_dir,
)
from compbench.generation.registry import make_tone_rewriter
from compbench.generation.tone import END_MARKER, tone_prompt
from compbench.generation.vllm_tone import (
    VLLM_CANNOT_TRANSLATE,
    VLLMToneRewriter,
    completion_output,
    sampling_options,
    tone_requests,
)

TARGETS = ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"]


def write_tiny_neox(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """``base/`` (GPT-NeoX, 2 layers, hidden 32, float32) and ``adapter/`` (a LoRA with non-zero B on all linears)."""
    from peft import LoraConfig, get_peft_model
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(seed)
    config = GPTNeoXConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=64, rotary_pct=0.25,
                           tie_word_embeddings=False)
    base = GPTNeoXForCausalLM(config)
    base.save_pretrained(directory / "base")
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(base, lora).save_pretrained(directory / "adapter")
    return directory / "base", directory / "adapter"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_neox(tmp_path_factory.mktemp("neox"))


def peft_merged(base_dir: Path, adapter_dir: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload().eval()


# ----------------------------------------------------------------------------------------------- merging
def test_the_exact_merge_equals_peft_merge_and_unload_bit_for_bit(tiny):
    from safetensors.torch import load_file

    from compbench.adapters.lora_io import load_lora

    base_dir, adapter_dir = tiny
    tensors = load_file(base_dir / "model.safetensors")
    original = {key: value.clone() for key, value in tensors.items()}
    changed = merge_lora_weights(tensors, load_lora(adapter_dir))
    assert len(changed) == 2 * len(TARGETS)  # every adapted linear of both layers
    expected = peft_merged(base_dir, adapter_dir).state_dict()
    renamed = {"embed_out.weight": "lm_head.weight"}  # transformers 5's module name for the checkpoint's embed_out
    assert {renamed.get(key, key) for key in tensors} == set(expected)
    for key, value in tensors.items():
        assert torch.equal(value, expected[renamed.get(key, key)]), key
    assert all(not torch.equal(tensors[key], original[key]) for key in changed)


def test_the_merged_checkpoint_is_a_model_that_computes_what_peft_computes(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    base_dir, adapter_dir = tiny
    base, adapter = describe_local_checkpoint(base_dir), describe_local_checkpoint(adapter_dir)
    path = merged_checkpoint(base, adapter, "float32", tmp_path)
    assert path == merged_checkpoint_dir(base, adapter, "float32", tmp_path)
    assert {"config.json", "model.safetensors", PROVENANCE_FILE} <= {p.name for p in path.iterdir()}
    ids = torch.tensor([[1, 5, 9, 42, 7]])
    with torch.inference_mode():
        ours = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()(ids).logits
        theirs = peft_merged(base_dir, adapter_dir)(ids).logits
    assert torch.equal(ours, theirs)


def test_the_merged_checkpoint_is_written_once_and_keyed_by_revisions_and_dtype(tiny, tmp_path, monkeypatch):
    base_dir, adapter_dir = tiny
    base, adapter = describe_local_checkpoint(base_dir), describe_local_checkpoint(adapter_dir)
    first = merged_checkpoint(base, adapter, "float16", tmp_path)
    from safetensors.torch import load_file

    assert {t.dtype for t in load_file(first / "model.safetensors").values()} == {torch.float16}
    monkeypatch.setattr("compbench.adapters.lora_io.load_lora", lambda *_: pytest.fail("merged again"))
    assert merged_checkpoint(base, adapter, "float16", tmp_path) == first  # reused: nothing is read or merged
    moved = type(adapter)(adapter.path, adapter.model_id, "another-revision")
    assert merged_checkpoint_dir(base, moved, "float16", tmp_path) != first
    assert merged_checkpoint_dir(base, adapter, "bfloat16", tmp_path) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]  # no staging directory left behind


def test_an_adapter_of_another_model_is_refused_and_nothing_is_cached(tiny, tmp_path):
    base_dir, _ = tiny
    other_base, other_adapter = write_tiny_neox(tmp_path / "other", seed=1)
    import json

    config = json.loads((other_base / "config.json").read_text())
    config["hidden_size"] = 48  # a wider model: shapes differ
    (tmp_path / "wide").mkdir()
    from peft import LoraConfig, get_peft_model
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    wide = GPTNeoXForCausalLM(GPTNeoXConfig(**{k: v for k, v in config.items() if k in GPTNeoXConfig().to_dict()}))
    get_peft_model(wide, LoraConfig(r=2, target_modules=["dense"], init_lora_weights=False)).save_pretrained(
        tmp_path / "wide")
    base = describe_local_checkpoint(base_dir)
    with pytest.raises(InputError, match="not an adapter of this base model"):
        merged_checkpoint(base, describe_local_checkpoint(tmp_path / "wide"), "float32", tmp_path / "cache")
    assert [p for p in (tmp_path / "cache").iterdir()] == []


# ------------------------------------------------------------------------------ requests, sampling, stops
def test_sampling_is_greedy_and_stops_at_the_end_marker_keeping_it():
    assert sampling_options(96) == {"n": 1, "temperature": 0.0, "max_tokens": 96, "stop": [END_MARKER],
                                    "include_stop_str_in_output": True, "skip_special_tokens": True}


def test_requests_are_the_adapters_prompts_in_input_order():
    texts = ["Send me the file.", "We are late."]
    assert tone_requests("witty", texts) == [tone_prompt("witty", t) for t in texts]
    assert tone_requests("paraphrase", texts[:1])[0].startswith("### Instruction:\nGenerate a paraphrase")


def output(text: str):
    return types.SimpleNamespace(outputs=[types.SimpleNamespace(text=text)])


@pytest.mark.parametrize(("text", "expected"), [
    ("Kindly send the file.\n\n### END", "Kindly send the file."),
    ("Kindly send the file. And more and more", None),  # hit max_tokens: never ended -> a failure
    ("\n\n### END", None),  # nothing before the marker
])
def test_an_output_without_the_end_marker_is_a_failure(text, expected):
    assert completion_output(output(text)) == expected


# ---------------------------------------------------------------------- the generator, against a stand-in
class StandInVLLM(types.ModuleType):
    """Records what the generator gives ``vllm.LLM`` and ``SamplingParams``; answers by the prompt's text."""

    def __init__(self):
        super().__init__("vllm")
        self.llms, stand_in = [], self

        class SamplingParams:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        class LLM:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
                stand_in.llms.append(self)

            def generate(self, prompts, params, use_tqdm=True):
                self.calls = [*getattr(self, "calls", []), (list(prompts), params.kwargs, use_tqdm)]
                return [output("Formally: " + p.split("### Input:\n")[1].split("\n")[0]
                               + ("" if "never" in p else "\n\n### END")) for p in prompts]

        self.LLM, self.SamplingParams = LLM, SamplingParams


def test_the_vllm_generator_serves_the_merged_checkpoint_greedily(tiny, tmp_path, monkeypatch):
    stand_in = StandInVLLM()
    monkeypatch.setitem(sys.modules, "vllm", stand_in)
    monkeypatch.setattr("compbench.generation.vllm_tone._ENGINES", {})
    model = tmp_path / "tone"
    model.mkdir()
    (model / "base").symlink_to(tiny[0])
    (model / "adapter").symlink_to(tiny[1])
    generator = make_tone_rewriter(model, "professional", backend="vllm", max_length=50,
                                   engine_options={"gpu_memory_utilization": 0.5}, merged_dir=tmp_path / "merged")
    assert isinstance(generator, VLLMToneRewriter)
    texts = ["we r late", "this never ends", "ok"]
    assert generator.generate(texts) == ["Formally: we r late", None, "Formally: ok"]
    assert generator.generate([]) == []
    (llm,) = stand_in.llms  # one engine for the generator's life
    assert llm.kwargs == {"model": str(generator.merged_path), "tokenizer": str(generator.merged_path),
                          "dtype": "float32", "seed": 0, "gpu_memory_utilization": 0.5}
    assert (generator.merged_path / PROVENANCE_FILE).is_file()
    prompts, params, use_tqdm = llm.calls[0]
    assert prompts == tone_requests("professional", texts) and params == sampling_options(50) and not use_tqdm
    witty = make_tone_rewriter(model, "witty", backend="vllm", max_length=50,
                               engine_options={"gpu_memory_utilization": 0.5}, merged_dir=tmp_path / "merged")
    assert witty.generate(["ok"]) == ["Formally: ok"]
    assert len(stand_in.llms) == 1  # the tones share the process's engine for the merged checkpoint
    assert llm.calls[-1][0] == tone_requests("witty", ["ok"])


def test_the_vllm_generator_has_the_tone_identity_with_its_own_runtime(tiny, tmp_path):
    model = tmp_path / "tone"
    model.mkdir()
    (model / "base").symlink_to(tiny[0])
    (model / "adapter").symlink_to(tiny[1])
    local = make_tone_rewriter(model, "casual")
    served = make_tone_rewriter(model, "casual", backend="vllm", engine_options={"max_num_seqs": 8})
    assert (served.task, served.model_id, served.revision) == (local.task, local.model_id, local.revision)
    assert served.settings == {**local.settings, "backend": "vllm", "lora_merge": MERGE_METHOD}
    assert generator_fingerprint(served) != generator_fingerprint(local)  # other kernels: other cache keys
    with_other_options = make_tone_rewriter(model, "casual", backend="vllm", engine_options={"max_num_seqs": 64})
    assert generator_fingerprint(with_other_options) == generator_fingerprint(served)  # how it runs: not in the key


def test_without_vllm_the_generator_says_which_extra_and_where(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    model = tmp_path / "tone"
    model.mkdir()
    (model / "base").symlink_to(tiny[0])
    (model / "adapter").symlink_to(tiny[1])
    generator = make_tone_rewriter(model, "witty", backend="vllm", merged_dir=tmp_path / "merged")
    with pytest.raises(ConfigError, match=r"\[vllm\] extra.*separate virtual environment"):
        generator.generate(["hello"])


def test_vllm_refuses_marian(tmp_path, tiny):
    import json
    import shutil

    marian = tmp_path / "marian"
    shutil.copytree(tiny[0], marian)
    config = json.loads((marian / "config.json").read_text())
    (marian / "config.json").write_text(json.dumps({**config, "model_type": "marian", "is_encoder_decoder": True}))
    with pytest.raises(ConfigError, match="vLLM cannot run Marian") as error:
        VLLMToneRewriter(marian, tiny[1], "casual")
    assert str(error.value) == VLLM_CANNOT_TRANSLATE
    from compbench.generation.registry import make_translator

    with pytest.raises(ConfigError, match="vLLM cannot run Marian"):
        make_translator("vllm", marian, "es")
