"""PEFT LoRA directories <-> LoraAdapter: round trips through PEFT itself, safe .bin conversion, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from compbench.adapters.lora_io import (
    LoraAdapter,
    LoraFactors,
    convert_bin_to_safetensors,
    load_lora,
    lora_from_peft_model,
    save_lora,
)
from compbench.errors import InputError
from tests.support.tiny_peft import (
    input_ids,
    load_peft,
    logits,
    module_paths,
    peft_lora,
    random_adapter,
    tiny_llama,
    with_deltas,
)


@pytest.fixture(scope="module")
def base():
    return tiny_llama(seed=0)


def test_load_reads_what_peft_saved(tmp_path, base):
    peft_model = peft_lora(tiny_llama(seed=0), seed=1, r=4, alpha=8)
    peft_model.save_pretrained(tmp_path / "peft")
    adapter = load_lora(tmp_path / "peft")
    assert set(adapter.modules) == set(module_paths(base))
    name = "model.layers.1.mlp.down_proj"
    layer = peft_model.get_base_model().get_submodule(name)
    assert torch.equal(adapter.modules[name].A, layer.lora_A["default"].weight)
    assert torch.equal(adapter.modules[name].B, layer.lora_B["default"].weight)
    assert adapter.modules[name].scaling == 8 / 4
    direct = 2.0 * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
    assert torch.allclose(adapter.delta(name), direct)
    # The LoRA's effect is exactly W + scaling * B @ A on every module.
    ids = input_ids()
    reference = with_deltas(base, {n: adapter.delta(n) for n in adapter.modules})
    assert torch.allclose(logits(peft_model, ids), logits(reference, ids), atol=1e-5)


def test_save_load_round_trip_through_peft(tmp_path, base):
    adapter = random_adapter(base, seed=3, r=4, alpha=16)
    save_lora(adapter, tmp_path / "out")
    again = load_lora(tmp_path / "out")
    for name, factors in adapter.modules.items():
        assert torch.equal(again.modules[name].A, factors.A)
        assert torch.equal(again.modules[name].B, factors.B)
        assert again.modules[name].scaling == factors.scaling
    ids = input_ids()
    loaded = load_peft(base, tmp_path / "out")
    reference = with_deltas(base, {n: adapter.delta(n) for n in adapter.modules})
    assert (logits(loaded, ids) - logits(reference, ids)).abs().max() < 1e-5
    # ... and reading the adapter back out of PEFT's in-memory model gives the same factors and scalings.
    from_memory = lora_from_peft_model(loaded)
    for name, factors in adapter.modules.items():
        assert torch.equal(from_memory.modules[name].B, factors.B)
        assert from_memory.modules[name].scaling == pytest.approx(factors.scaling)


def test_mixed_ranks_and_scalings_survive_peft(tmp_path, base):
    adapter = random_adapter(base, seed=4, r=4, alpha=8)
    generator = torch.Generator().manual_seed(9)
    odd = "model.layers.0.self_attn.v_proj"
    linear = base.get_submodule(odd)
    adapter.modules[odd] = LoraFactors(A=torch.randn(7, linear.in_features, generator=generator),
                                       B=torch.randn(linear.out_features, 7, generator=generator),
                                       scaling=0.3)
    save_lora(adapter, tmp_path / "mixed")
    config = json.loads((tmp_path / "mixed" / "adapter_config.json").read_text())
    assert config["r"] == 4 and len(config["rank_pattern"]) == 1 and len(config["alpha_pattern"]) == 1
    loaded = load_peft(base, tmp_path / "mixed")
    layer = loaded.get_base_model().get_submodule(odd)
    assert layer.r["default"] == 7 and layer.scaling["default"] == pytest.approx(0.3)
    # the same-named module of the other layer keeps the common rank: the pattern is exact
    assert loaded.get_base_model().get_submodule("model.layers.1.self_attn.v_proj").r["default"] == 4
    assert load_lora(tmp_path / "mixed").modules[odd].scaling == pytest.approx(0.3)
    ids = input_ids()
    reference = with_deltas(base, {n: adapter.delta(n) for n in adapter.modules})
    assert (logits(loaded, ids) - logits(reference, ids)).abs().max() < 1e-5


def test_rslora_scaling_is_read(tmp_path):
    peft_model = peft_lora(tiny_llama(seed=0), seed=2, r=4, alpha=8, use_rslora=True)
    peft_model.save_pretrained(tmp_path / "rs")
    adapter = load_lora(tmp_path / "rs")
    assert next(iter(adapter.modules.values())).scaling == pytest.approx(8 / 2)


def test_bin_is_refused_until_converted(tmp_path, base):
    adapter = random_adapter(base, seed=5)
    save_lora(adapter, tmp_path / "a")
    weights = tmp_path / "a" / "adapter_model.safetensors"
    torch.save(load_file(weights), tmp_path / "a" / "adapter_model.bin")
    weights.unlink()
    with pytest.raises(InputError, match="pickled.*compbench adapters convert"):
        load_lora(tmp_path / "a")
    written = convert_bin_to_safetensors(tmp_path / "a")
    assert written == weights and (tmp_path / "a" / "adapter_model.bin").exists()
    again = load_lora(tmp_path / "a")
    name = module_paths(base)[0]
    assert torch.equal(again.modules[name].A, adapter.modules[name].A)


class _NotATensor:
    pass


def test_conversion_refuses_arbitrary_pickles(tmp_path):
    (tmp_path / "a").mkdir()
    torch.save({"x": _NotATensor()}, tmp_path / "a" / "adapter_model.bin")
    with pytest.raises(InputError, match="weights-only"):
        convert_bin_to_safetensors(tmp_path / "a")
    assert not (tmp_path / "a" / "adapter_model.safetensors").exists()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["adapter_model.bin"]


def test_conversion_without_bin(tmp_path):
    with pytest.raises(InputError, match="no pickled weights"):
        convert_bin_to_safetensors(tmp_path)


@pytest.mark.parametrize("content, message", [
    (None, "no adapter_config.json"),
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"peft_type": "IA3", "r": 4, "lora_alpha": 8}', "only LoRA"),
    ('{"peft_type": "LORA", "lora_alpha": 8}', "'r' must be a positive number"),
    ('{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_dora": true}', "DoRA"),
    ('{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "alpha_pattern": {"q_proj(": 4}}', "not a valid regular"),
])
def test_bad_config(tmp_path, base, content, message):
    save_lora(random_adapter(base, seed=1), tmp_path / "a")
    config = tmp_path / "a" / "adapter_config.json"
    if content is None:
        config.unlink()
    else:
        config.write_text(content)
    with pytest.raises(InputError, match=message):
        load_lora(tmp_path / "a")


def test_bad_weights(tmp_path, base):
    save_lora(random_adapter(base, seed=1), tmp_path / "a")
    weights = tmp_path / "a" / "adapter_model.safetensors"
    tensors = {key: value.clone() for key, value in load_file(weights).items()}
    weights.write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot read safetensors"):
        load_lora(tmp_path / "a")
    weights.unlink()
    with pytest.raises(InputError, match="no adapter_model.safetensors"):
        load_lora(tmp_path / "a")
    key = next(k for k in tensors if k.endswith("lora_B.weight"))
    save_file({k: v for k, v in tensors.items() if k != key}, str(weights))
    with pytest.raises(InputError, match="has no lora_B.weight"):
        load_lora(tmp_path / "a")
    bad = dict(tensors)
    bad[key] = torch.zeros(bad[key].shape[0], 3)
    save_file(bad, str(weights))
    with pytest.raises(InputError, match="rank 4 != lora_B rank 3"):
        load_lora(tmp_path / "a")
    save_file({**tensors, "base_model.model.lm_head.weight": torch.zeros(2, 2)}, str(weights))
    with pytest.raises(InputError, match="unsupported tensor"):
        load_lora(tmp_path / "a")


def test_missing_directory(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_lora(tmp_path / "nope")


def test_save_refuses_inconsistent_factors(tmp_path):
    adapter = LoraAdapter("m", {}, {"x.q_proj": LoraFactors(torch.zeros(2, 3), torch.zeros(4, 5), 1.0)})
    with pytest.raises(InputError, match="do not form a LoRA"):
        save_lora(adapter, tmp_path / "out")
    assert not (tmp_path / "out" / "adapter_config.json").exists()
