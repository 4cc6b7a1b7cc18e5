"""Applying searched or learned merge weights (the search and training live in compbench.training).

- LoraHub: a linear merge on the factors with weights found by gradient-free search on a few examples.
- LM-Cocktail: a linear merge with weights derived from the loss on a few examples; the paper applies them as a
  linear merge, so ``space="factors"`` (default) is :func:`linear_combination`; ``space="delta"`` applies them
  to the updates instead (``Σ w_i ΔW_i``, LM-Cocktail's own model-soup form).
- DAM / ZipLoRA: learned column-wise coefficients ``m_i ∈ R^{d_out}`` per adapter and module:
  ``ΔW' = Σ_i diag(m_i) ΔW_i``, exported exactly by concatenation (rank ``Σ r_i``). Coefficients are a mapping
  from module path to a ``(N, d_out)`` tensor, stored as safetensors (:func:`save_coefficients`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from compbench.adapters.lora_io import LoraAdapter
from compbench.adapters.merges.common import check_compatible, dtype_of, merged, stacked_lora
from compbench.adapters.merges.concat import concat
from compbench.adapters.merges.linear import linear_combination
from compbench.errors import ConfigError, InputError
from compbench.fileio import atomic_path


def _require(weights: Sequence[float] | None, method: str) -> Sequence[float]:
    if weights is None:
        raise ConfigError(f"{method} needs weights (from its weight search; `compbench train merge-coefficients`)")
    return weights


def lorahub(adapters: Sequence[LoraAdapter], weights: Sequence[float] | None = None) -> LoraAdapter:
    """LoraHub's composition with its searched ``weights``: ``(Σ w_i B_i)(Σ w_i A_i)``."""
    return linear_combination(adapters, _require(weights, "lorahub"))


def lm_cocktail(adapters: Sequence[LoraAdapter], weights: Sequence[float] | None = None,
                space: Literal["factors", "delta"] = "factors") -> LoraAdapter:
    """LM-Cocktail's merge with its loss-derived ``weights``, on the factors (default) or the updates."""
    weights = _require(weights, "lm-cocktail")
    if space == "factors":
        return linear_combination(adapters, weights)
    if space == "delta":
        return concat(adapters, weights)
    raise ConfigError(f"space must be 'factors' or 'delta', got {space!r}")


def columnwise_combination(adapters: Sequence[LoraAdapter],
                           coefficients: Mapping[str, torch.Tensor]) -> LoraAdapter:
    """``ΔW' = Σ_i diag(m_i) ΔW_i`` per module, ``coefficients[module]`` of shape ``(N, d_out)``."""
    names = check_compatible(adapters)
    dtype = dtype_of(adapters)
    modules = {}
    for name in names:
        if name not in coefficients:
            raise InputError(f"no coefficients for module {name!r}")
        m = torch.as_tensor(coefficients[name])
        out = adapters[0].modules[name].out_features
        if tuple(m.shape) != (len(adapters), out):
            raise InputError(f"coefficients for {name!r} have shape {tuple(m.shape)}, "
                             f"expected ({len(adapters)}, {out})")
        modules[name] = stacked_lora([a.modules[name] for a in adapters], list(m), dtype)
    return merged(adapters, modules)


def dam(adapters: Sequence[LoraAdapter], coefficients: Mapping[str, torch.Tensor] | None = None) -> LoraAdapter:
    """DAM / ZipLoRA with learned column-wise ``coefficients`` (see :func:`columnwise_combination`)."""
    if coefficients is None:
        raise ConfigError("dam needs coefficients (a safetensors file from `compbench train merge-coefficients`)")
    return columnwise_combination(adapters, coefficients)


def save_coefficients(coefficients: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Write column-wise coefficients (module path -> ``(N, d_out)``) as one safetensors file, atomically."""
    tensors = {name: torch.as_tensor(m).detach().float().contiguous().cpu() for name, m in coefficients.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "content": "compbench column-wise coefficients"})


def load_coefficients(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a coefficients file written by :func:`save_coefficients`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("coefficients file not found", path)
    try:
        tensors = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, ValueError) as exc:
        raise InputError(f"cannot read safetensors ({exc})", path) from None
    for name, m in tensors.items():
        if m.ndim != 2:
            raise InputError(f"coefficients for {name!r} must be (N, d_out), found {tuple(m.shape)}", path)
    return tensors
