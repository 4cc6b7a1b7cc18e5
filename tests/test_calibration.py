"""Learnable Calibration on a tiny Llama: start point, parameter counts, folding, export, storage."""

from __future__ import annotations

import copy

import pytest
import torch

from compbench.adapters.calibration import (
    Calibration,
    apply_calibration,
    calibration_to_lora,
    count_calibration_parameters,
    fold_calibration,
    init_calibration,
    load_calibration,
    mean_factors,
    module_shapes,
    remove_calibration,
    save_calibration,
)
from compbench.adapters.lora_io import save_lora
from compbench.adapters.merges.linear import linear
from compbench.errors import ConfigError, InputError
from tests.support.tiny_peft import (
    TARGET_MODULES,
    input_ids,
    load_peft,
    logits,
    module_paths,
    random_adapter,
    tiny_llama,
    tiny_llama_config,
    with_deltas,
)

TOL = 1e-5


@pytest.fixture
def model():
    return tiny_llama(seed=1)


@pytest.fixture
def adapters(model):
    # Different scalings on purpose: alpha 8 / r 4 and alpha 16 / r 4.
    return [random_adapter(model, seed=11, r=4, alpha=8), random_adapter(model, seed=12, r=4, alpha=16)]


def direct_mean_deltas(adapters):
    """ΔW' = mean(s_i B_i) @ mean(A_i), written out for two adapters."""
    a, b = adapters
    out = {}
    for name in a.modules:
        fa, fb = a.modules[name], b.modules[name]
        B = (fa.scaling * fa.B + fb.scaling * fb.B) / 2
        A = (fa.A + fb.A) / 2
        out[name] = B @ A
    return out


def randomize(calibration: Calibration, seed: int) -> Calibration:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in calibration.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    return calibration


@pytest.mark.parametrize("kind", ["lc", "lc++"])
def test_fresh_calibration_gives_the_linear_merge(tmp_path, model, adapters, kind):
    merged = mean_factors(adapters)
    calibration = init_calibration(model, kind, merged=merged)
    ids = input_ids(seed=3)
    expected = logits(with_deltas(model, direct_mean_deltas(adapters)), ids)
    calibrated = apply_calibration(copy.deepcopy(model), calibration, merged)
    assert (logits(calibrated, ids) - expected).abs().max().item() < TOL
    # ... and equal to the package's linear merge (mean factors), saved and loaded by PEFT.
    save_lora(linear(adapters), tmp_path / "linear")
    assert (logits(calibrated, ids) - logits(load_peft(model, tmp_path / "linear"), ids)).abs().max().item() < TOL
    # p = 0 (LC) / P2 = 0 (LC++) at the start, P1 non-zero (LoRA-style init).
    if kind == "lc":
        assert all(torch.count_nonzero(calibration.tensor(t, "p")) == 0 for t in TARGET_MODULES)
    else:
        assert all(torch.count_nonzero(calibration.tensor(t, "P2")) == 0 for t in TARGET_MODULES)
        assert all(torch.count_nonzero(calibration.tensor(t, "P1")) > 0 for t in TARGET_MODULES)


def test_parameter_counts_match_the_formula_for_the_tiny_config(model):
    cfg = tiny_llama_config()
    h, i, kv = cfg.hidden_size, cfg.intermediate_size, cfg.num_key_value_heads * cfg.head_dim
    q = cfg.num_attention_heads * cfg.head_dim
    d_out = {"q_proj": q, "k_proj": kv, "v_proj": kv, "o_proj": h, "gate_proj": i, "up_proj": i, "down_proj": h}
    d_in = {"q_proj": h, "k_proj": h, "v_proj": h, "o_proj": q, "gate_proj": h, "up_proj": h, "down_proj": i}
    lc = init_calibration(model, "lc")
    lcpp = init_calibration(model, "lc++", rank=4)
    assert lc.num_parameters() == sum(d_out.values()) == 112
    assert lcpp.num_parameters() == sum(4 * (d_out[t] + d_in[t]) for t in d_out)
    # Shared across layers: the count does not depend on the number of layers.
    deeper = tiny_llama(seed=1, num_hidden_layers=5)
    assert init_calibration(deeper, "lc").num_parameters() == lc.num_parameters()


def test_parameter_counts_for_llama_3_2_1b_shapes():
    # Llama 3.2 1B: hidden 2048, intermediate 8192, 32 heads, 8 kv heads, head dim 64.
    shapes = {"q_proj": (2048, 2048), "k_proj": (512, 2048), "v_proj": (512, 2048), "o_proj": (2048, 2048),
              "gate_proj": (8192, 2048), "up_proj": (8192, 2048), "down_proj": (2048, 8192)}
    assert count_calibration_parameters(shapes, "lc") == 23_552
    assert count_calibration_parameters(shapes, "lc++", rank=4) == 176_128


@pytest.mark.parametrize("kind", ["lc", "lc++"])
@pytest.mark.parametrize("with_loras", [True, False])
def test_export_as_plain_peft_lora_matches_calibrated_and_folded(tmp_path, model, adapters, kind, with_loras):
    merged = mean_factors(adapters) if with_loras else None
    calibration = randomize(init_calibration(model, kind, merged=merged), seed=5)
    ids = input_ids(seed=4)
    calibrated = logits(apply_calibration(copy.deepcopy(model), calibration, merged), ids)

    exported = calibration_to_lora(model, calibration, merged, base_model="tiny-llama")
    expected_rank = (4 if with_loras else 0) + (1 if kind == "lc" else 4)
    assert {f.rank for f in exported.modules.values()} == {expected_rank}
    assert set(exported.modules) == set(module_paths(model))
    save_lora(exported, tmp_path / "exported")
    peft_logits = logits(load_peft(model, tmp_path / "exported"), ids)
    folded = logits(fold_calibration(copy.deepcopy(model), calibration, merged), ids)

    diff_peft = (peft_logits - calibrated).abs().max().item()
    diff_fold = (folded - calibrated).abs().max().item()
    print(f"{kind} with_loras={with_loras}: max |PEFT - calibrated| = {diff_peft:.2e}, "
          f"max |folded - calibrated| = {diff_fold:.2e}")
    assert diff_peft < TOL
    assert diff_fold < TOL
    # The calibration really changes the outputs (the test would be vacuous otherwise).
    assert (calibrated - logits(model, ids)).abs().max().item() > 1e-3


def test_lc_adds_p_times_sum_of_inputs(model):
    calibration = randomize(init_calibration(model, "lc"), seed=2)
    linear = model.model.layers[0].self_attn.q_proj
    x = torch.randn(3, linear.in_features)
    wrapped = apply_calibration(copy.deepcopy(model), calibration).model.layers[0].self_attn.q_proj
    expected = linear(x) + x.sum(dim=-1, keepdim=True) * calibration.tensor("q_proj", "p")
    assert torch.allclose(wrapped(x), expected, atol=1e-6)


def test_parameters_are_shared_by_all_layers(model):
    calibration = init_calibration(model, "lc++")
    wrapped = apply_calibration(copy.deepcopy(model), calibration)
    out = wrapped(input_ids=input_ids(seed=1)).logits.sum()
    out.backward()
    grads = {name: p.grad for name, p in calibration.named_parameters()}
    assert all(g is not None for g in grads.values())
    layers = [layer.self_attn.q_proj for layer in wrapped.model.layers]
    assert len({id(layer.calibration) for layer in layers}) == 1
    # The base model's own parameters are untouched by wrapping and do not include the calibration.
    assert not any("P1" in name or "P2" in name for name, _ in wrapped.named_parameters())


def test_remove_calibration_restores_the_base_model(model, adapters):
    ids = input_ids(seed=6)
    before = logits(model, ids)
    wrapped = apply_calibration(model, randomize(init_calibration(model, "lc"), 1), mean_factors(adapters))
    assert (logits(wrapped, ids) - before).abs().max() > 1e-3
    remove_calibration(model)
    assert torch.equal(logits(model, ids), before)


@pytest.mark.parametrize("kind", ["lc", "lc++"])
def test_save_load_round_trip(tmp_path, model, kind):
    calibration = randomize(init_calibration(model, kind, rank=3), seed=9)
    path = tmp_path / "calibration.safetensors"
    save_calibration(calibration, path)
    loaded = load_calibration(path)
    assert loaded.kind == kind and loaded.shapes == calibration.shapes
    assert loaded.rank == calibration.rank
    for key, value in calibration.state_tensors().items():
        assert torch.equal(loaded.state_tensors()[key], value)
    # One tensor per module type (two for LC++), never one per layer.
    assert len(loaded.state_tensors()) == len(TARGET_MODULES) * (1 if kind == "lc" else 2)


def test_load_calibration_rejects_bad_files(tmp_path, model):
    with pytest.raises(InputError, match="not found"):
        load_calibration(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="cannot read safetensors"):
        load_calibration(junk)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, str(foreign))
    with pytest.raises(InputError, match="not a compbench calibration"):
        load_calibration(foreign)


def test_bad_inputs_are_config_errors(model, adapters):
    with pytest.raises(ConfigError, match="unknown calibration kind"):
        Calibration("lc+++", module_shapes(model))
    other_rank = random_adapter(model, seed=13, r=2)
    with pytest.raises(ConfigError, match="different ranks"):
        mean_factors([adapters[0], other_rank])
    partial = random_adapter(model, seed=14, targets=("q_proj",))
    with pytest.raises(ConfigError, match="same modules"):
        mean_factors([adapters[0], partial])
    with pytest.raises(ConfigError, match="at least one"):
        mean_factors([])
