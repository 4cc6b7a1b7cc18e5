"""A tiny Llama-shaped causal LM and PEFT LoRA helpers for tests (random weights, built from a config).

The model has every module type the paper adapts (q, k, v, o, gate, up, down), grouped-query attention
(4 heads, 2 kv heads) and distinct d_in/d_out per module type, so shape bugs cannot hide.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from compbench.adapters.lora_io import LoraAdapter, LoraFactors, save_lora

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")


def tiny_llama_config(**overrides) -> LlamaConfig:
    values = dict(vocab_size=64, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=4, max_position_embeddings=64,
                  tie_word_embeddings=False)
    values.update(overrides)
    return LlamaConfig(**values)


def tiny_llama(seed: int = 0, **overrides) -> LlamaForCausalLM:
    """A float32 tiny Llama in eval mode, with seeded random weights."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(**overrides))
    return model.eval()


def module_paths(model: torch.nn.Module, targets=TARGET_MODULES) -> list[str]:
    """Paths of the Linear modules whose last name is in ``targets``, in model order."""
    return [name for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in targets]


def peft_lora(model: torch.nn.Module, seed: int = 0, r: int = 4, alpha: float = 8, **config) -> PeftModel:
    """Wrap ``model`` in a PEFT LoRA with seeded random A *and* B (PEFT starts B at zero)."""
    lora = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(TARGET_MODULES), lora_dropout=0.0,
                      **config)
    peft_model = get_peft_model(model, lora)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return peft_model.eval()


def random_adapter(model: torch.nn.Module, seed: int, r: int = 4, alpha: float = 8,
                   targets=TARGET_MODULES, base_model: str | None = "tiny-llama") -> LoraAdapter:
    """A :class:`LoraAdapter` with seeded random factors for every target Linear of ``model``."""
    generator = torch.Generator().manual_seed(seed)
    modules = {}
    for name in module_paths(model, targets):
        linear = model.get_submodule(name)
        modules[name] = LoraFactors(
            A=torch.randn(r, linear.in_features, generator=generator) * 0.3,
            B=torch.randn(linear.out_features, r, generator=generator) * 0.3,
            scaling=alpha / r,
        )
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha,
              "target_modules": sorted({n.rsplit(".", 1)[-1] for n in modules}), "lora_dropout": 0.0}
    return LoraAdapter(base_model=base_model, config=config, modules=modules)


def write_random_adapter(directory: Path, model: torch.nn.Module, seed: int, **kwargs) -> Path:
    save_lora(random_adapter(model, seed, **kwargs), directory)
    return directory


def with_deltas(model: torch.nn.Module, deltas: dict[str, torch.Tensor]) -> torch.nn.Module:
    """A copy of ``model`` with ``W += ΔW`` for every named module: the direct reference for a LoRA's effect."""
    import copy

    clone = copy.deepcopy(model)
    with torch.no_grad():
        for name, delta in deltas.items():
            clone.get_submodule(name).weight += delta.to(clone.get_submodule(name).weight.dtype)
    return clone


def load_peft(model: torch.nn.Module, directory: Path) -> PeftModel:
    """``PeftModel.from_pretrained`` on a deep copy of ``model`` (the base stays untouched)."""
    import copy

    return PeftModel.from_pretrained(copy.deepcopy(model), str(directory)).eval()


def input_ids(seed: int = 0, batch: int = 2, length: int = 7, vocab: int = 64) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits
