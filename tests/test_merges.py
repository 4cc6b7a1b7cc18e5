"""Every merge equals an independent direct tensor computation, and loads in PEFT with the same outputs."""

from __future__ import annotations

import copy
import inspect

import pytest
import torch
from peft import PeftModel
from peft.tuners.lora import LoraModel

from compbench.adapters.lora_io import load_lora, save_lora
from compbench.adapters.merges import MERGES, columnwise_combination, merge_adapters
from compbench.adapters.merges.dare import module_seed
from compbench.adapters.merges.weighted import load_coefficients, save_coefficients
from compbench.errors import ConfigError, InputError
from tests.support import direct_merges as direct
from tests.support.tiny_peft import (
    input_ids,
    load_peft,
    logits,
    random_adapter,
    tiny_llama,
    with_deltas,
)


@pytest.fixture(scope="module")
def base():
    return tiny_llama(seed=0)


@pytest.fixture(scope="module")
def pair(base):
    return [random_adapter(base, seed=1, r=4, alpha=8), random_adapter(base, seed=2, r=4, alpha=8)]


def coefficients_for(adapters, seed=5):
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.rand(len(adapters), f.out_features, generator=generator) * 2 - 0.5
            for name, f in adapters[0].modules.items()}


def expected(method, adapters, name, **params):
    """The merged update of module ``name`` computed directly from the definitions."""
    factors = [a.modules[name] for a in adapters]
    updates = [direct.delta(f) for f in factors]
    weights = params.get("weights", [1 / len(adapters)] * len(adapters))
    if method in ("linear", "lorahub") or (method == "lm-cocktail" and params.get("space", "factors") == "factors"):
        return direct.linear_factors(factors, weights)
    if method in ("concat", "linear-delta", "lm-cocktail"):
        return direct.weighted_sum(updates, weights)
    if method == "ties":
        return direct.ties(updates, weights, params.get("density", 0.5))
    if method == "dare":
        return direct.dare(updates, weights, params.get("density", 0.5), module_seed(params.get("seed", 0), name))
    if method == "slerp":
        return direct.slerp(*updates, params.get("t", 0.5))
    if method == "dam":
        return direct.columnwise(updates, params["coefficients"][name])
    raise AssertionError(method)


FULL = 64  # >= every dimension of the tiny model: SVD-exported merges are exact at this rank

CASES = [
    ("linear", {}),
    ("linear", {"weights": [0.3, 0.9]}),
    ("linear-delta", {}),
    ("concat", {"weights": [0.5, 0.5]}),
    ("ties", {"rank": FULL}),
    ("ties", {"rank": FULL, "density": 0.3, "weights": [1.0, 1.0]}),
    ("dare", {"rank": FULL, "seed": 7}),
    ("slerp", {}),
    ("slerp", {"t": 0.25}),
    ("lorahub", {"weights": [0.8, -0.2]}),
    ("lm-cocktail", {"weights": [0.7, 0.3]}),
    ("lm-cocktail", {"weights": [0.7, 0.3], "space": "delta"}),
    ("dam", {"coefficients": "random"}),
]


@pytest.mark.parametrize("method, params", CASES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CASES)])
def test_merge_equals_direct_computation_and_loads_in_peft(tmp_path, base, pair, method, params):
    params = dict(params)
    if params.get("coefficients") == "random":
        params["coefficients"] = coefficients_for(pair)
    merged = merge_adapters(method, pair, **params)
    assert set(merged.modules) == set(pair[0].modules)
    for name in pair[0].modules:
        assert torch.allclose(merged.delta(name), expected(method, pair, name, **params), atol=1e-5), name
    save_lora(merged, tmp_path / "merged")
    loaded = load_peft(base, tmp_path / "merged")
    ids = input_ids()
    reference = with_deltas(base, {n: expected(method, pair, n, **params) for n in pair[0].modules})
    difference = (logits(loaded, ids) - logits(reference, ids)).abs().max().item()
    assert difference < 1e-4, f"{method}: PEFT output differs from base + merged ΔW by {difference}"


def test_default_weights_are_the_papers_half(pair):
    name = "model.layers.0.mlp.up_proj"
    merged = merge_adapters("linear", pair)
    f1, f2 = pair[0].modules[name], pair[1].modules[name]
    paper = f1.scaling * ((f1.B + f2.B) / 2) @ ((f1.A + f2.A) / 2)
    assert torch.allclose(merged.delta(name), paper, atol=1e-6)
    assert merged.modules[name].rank == 4 and merged.modules[name].scaling == f1.scaling


def test_concat_rank_and_three_adapters(base):
    trio = [random_adapter(base, seed=s, r=r, alpha=8) for s, r in ((1, 4), (2, 2), (3, 3))]
    merged = merge_adapters("concat", trio)
    name = "model.layers.1.self_attn.k_proj"
    assert merged.modules[name].rank == 9
    updates = [direct.delta(a.modules[name]) for a in trio]
    assert torch.allclose(merged.delta(name), sum(updates) / 3, atol=1e-6)
    ties3 = merge_adapters("ties", trio, rank=FULL)
    assert torch.allclose(ties3.delta(name), direct.ties(updates, [1 / 3] * 3, 0.5), atol=1e-6)


def test_different_scalings(base):
    pair = [random_adapter(base, seed=1, r=4, alpha=8), random_adapter(base, seed=2, r=4, alpha=2)]
    for method in ("linear", "concat"):
        merged = merge_adapters(method, pair)
        for name in pair[0].modules:
            assert torch.allclose(merged.delta(name), expected(method, pair, name), atol=1e-6)


def test_svd_export_is_the_truncation_at_the_default_rank(pair):
    merged = merge_adapters("ties", pair)  # default rank = 4 + 4
    name = "model.layers.0.mlp.gate_proj"  # (24, 16): the trimmed update has rank up to 16
    updates = [direct.delta(a.modules[name]) for a in pair]
    full = direct.ties(updates, [0.5, 0.5], 0.5)
    assert merged.modules[name].rank == 8
    assert torch.allclose(merged.delta(name), direct.truncated(full, 8), atol=1e-5)
    assert not torch.allclose(merged.delta(name), full, atol=1e-3)  # truncation really loses something


@pytest.mark.parametrize("shape", [(12, 40), (40, 12)])
def test_svd_export_of_wide_and_tall_updates(shape):
    from compbench.adapters.merges.common import lowrank_lora

    update = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    exported = lowrank_lora(update, 5, torch.float32)
    assert exported.B.shape == (shape[0], 5) and exported.A.shape == (5, shape[1])
    assert torch.allclose(exported.B @ exported.A, direct.truncated(update, 5), atol=1e-5)
    assert torch.allclose(lowrank_lora(update, 64, torch.float32).delta(), update, atol=1e-5)


def test_ties_trims_to_density(pair):
    name = "model.layers.0.self_attn.q_proj"
    update = direct.delta(pair[0].modules[name])
    merged = merge_adapters("ties", [pair[0], pair[0]], weights=[1.0, 1.0], density=0.25, rank=FULL)
    # identical inputs: every kept entry agrees, so TIES returns the trimmed update itself
    kept = (merged.delta(name).abs() > 1e-4).sum().item()
    assert kept == int(0.25 * update.numel())
    assert torch.allclose(merged.delta(name), direct.trim(update, 0.25), atol=1e-5)


def test_dare_is_seeded_unbiased_and_leaves_global_rng_alone(pair):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = merge_adapters("dare", pair, seed=3, rank=FULL)
    assert torch.equal(torch.get_rng_state(), state)
    again = merge_adapters("dare", pair, seed=3, rank=FULL)
    other = merge_adapters("dare", pair, seed=4, rank=FULL)
    name = "model.layers.1.mlp.down_proj"
    assert torch.allclose(first.delta(name), again.delta(name))
    assert not torch.allclose(first.delta(name), other.delta(name))
    # one adapter, weight 1: survivors are ΔW/density, the rest zero, about `density` of them kept
    single = merge_adapters("dare", [pair[0], pair[0]], weights=[1.0, 0.0], density=0.5, rank=FULL)
    kept_total, numel = 0, 0
    for module in pair[0].modules:
        update, dropped = direct.delta(pair[0].modules[module]), single.delta(module)
        kept = dropped.abs() > 1e-4  # SVD export leaves ~1e-6 noise where entries were dropped
        assert torch.allclose(dropped[kept], update[kept] / 0.5, atol=1e-4)
        kept_total, numel = kept_total + kept.sum().item(), numel + update.numel()
    assert abs(kept_total / numel - 0.5) < 0.05


def test_slerp_end_points_and_parallel_fallback(pair):
    name = "model.layers.0.self_attn.o_proj"
    updates = [direct.delta(a.modules[name]) for a in pair]
    assert torch.allclose(merge_adapters("slerp", pair, t=0.0).delta(name), updates[0], atol=1e-6)
    assert torch.allclose(merge_adapters("slerp", pair, t=1.0).delta(name), updates[1], atol=1e-6)
    same = merge_adapters("slerp", [pair[0], pair[0]], t=0.3)
    assert torch.allclose(same.delta(name), updates[0], atol=1e-6)
    # slerp keeps the norm of equal-norm inputs; the linear average shrinks it
    unit = [u / u.norm() for u in updates]
    assert abs(direct.slerp(*unit, 0.5).norm().item() - 1.0) < 1e-5


def test_peft_add_weighted_adapter_linear_differs(tmp_path, base, pair):
    """PEFT's "linear" scales each factor by sqrt(w * s): for w = 0.5, 0.5 it is twice the paper's merge."""
    save_lora(pair[0], tmp_path / "a")
    save_lora(pair[1], tmp_path / "b")
    model = PeftModel.from_pretrained(copy.deepcopy(base), str(tmp_path / "a"), adapter_name="sum")
    model.load_adapter(str(tmp_path / "b"), adapter_name="tr")
    assert inspect.signature(LoraModel.add_weighted_adapter).parameters["combination_type"].default == "svd"
    with pytest.raises(KeyError, match="module name can"):
        model.add_weighted_adapter(["sum", "tr"], [0.5, 0.5], "sum.tr", combination_type="linear")
    model.add_weighted_adapter(["sum", "tr"], [0.5, 0.5], "peft_linear", combination_type="linear")
    model.add_weighted_adapter(["sum", "tr"], [0.5, 0.5], "peft_cat", combination_type="cat")
    ours = merge_adapters("linear", pair)
    ours_concat = merge_adapters("concat", pair)
    name = "model.layers.1.self_attn.q_proj"
    layer = model.get_base_model().get_submodule(name)
    peft_linear = layer.get_delta_weight("peft_linear")
    assert torch.allclose(peft_linear, 2 * ours.delta(name), atol=1e-5)
    assert (peft_linear - ours.delta(name)).abs().max() > 0.1
    # PEFT's "cat" is the exact weighted sum, like ours
    assert torch.allclose(layer.get_delta_weight("peft_cat"), ours_concat.delta(name), atol=1e-5)
    # PEFT's "ties_svd" is our TIES on ΔW with the same SVD export
    model.add_weighted_adapter(["sum", "tr"], [0.5, 0.5], "peft_ties", combination_type="ties_svd", density=0.5,
                               svd_rank=6)
    ours_ties = merge_adapters("ties", pair, density=0.5, rank=6)
    assert torch.allclose(layer.get_delta_weight("peft_ties"), ours_ties.delta(name), atol=1e-5)


def test_coefficients_round_trip(tmp_path, pair):
    coefficients = coefficients_for(pair)
    save_coefficients(coefficients, tmp_path / "c.safetensors")
    loaded = load_coefficients(tmp_path / "c.safetensors")
    name = "model.layers.0.self_attn.v_proj"
    assert torch.equal(loaded[name], coefficients[name])
    merged = columnwise_combination(pair, loaded)
    assert torch.allclose(merged.delta(name), expected("dam", pair, name, coefficients=coefficients), atol=1e-6)


def test_merged_adapter_survives_save_load(tmp_path, pair):
    merged = merge_adapters("ties", pair)
    save_lora(merged, tmp_path / "m")
    again = load_lora(tmp_path / "m")
    for name in merged.modules:
        assert torch.allclose(again.delta(name), merged.delta(name), atol=1e-6)


# ------------------------------------------------------------------------------------------- bad input
def test_unknown_merge_and_parameter(pair):
    with pytest.raises(ConfigError, match="unknown merge 'avg'.*linear"):
        merge_adapters("avg", pair)
    with pytest.raises(ConfigError, match="does not take density"):
        merge_adapters("linear", pair, density=0.5)


def test_shape_mismatch(base, pair):
    other = random_adapter(tiny_llama(seed=0, intermediate_size=20), seed=3)
    required = {"lorahub": {"weights": [0.5, 0.5]}, "lm-cocktail": {"weights": [0.5, 0.5]},
                "dam": {"coefficients": coefficients_for(pair)}}
    for method in MERGES:
        with pytest.raises(InputError, match="shape mismatch at module"):
            merge_adapters(method, [pair[0], other], **required.get(method, {}))


def test_bad_parameters(base, pair):
    attention_only = random_adapter(base, seed=3, targets=("q_proj", "v_proj"))
    with pytest.raises(InputError, match="does not adapt the same modules"):
        merge_adapters("concat", [pair[0], attention_only])
    with pytest.raises(ConfigError, match="got 3 weights for 2 adapters"):
        merge_adapters("linear", pair, weights=[0.2, 0.3, 0.5])
    with pytest.raises(ConfigError, match="density must be in"):
        merge_adapters("ties", pair, density=0.0)
    with pytest.raises(ConfigError, match="exactly 2"):
        merge_adapters("slerp", [*pair, pair[0]])
    with pytest.raises(ConfigError, match="at least 2"):
        merge_adapters("concat", pair[:1])
    with pytest.raises(InputError, match="equal ranks"):
        merge_adapters("linear", [pair[0], random_adapter(base, seed=4, r=2)])
    with pytest.raises(ConfigError, match="needs weights"):
        merge_adapters("lorahub", pair)
    with pytest.raises(ConfigError, match="needs coefficients"):
        merge_adapters("dam", pair)
    bad = coefficients_for(pair)
    name = next(iter(bad))
    bad[name] = bad[name][:, :3]
    with pytest.raises(InputError, match="expected \\(2, "):
        merge_adapters("dam", pair, coefficients=bad)
