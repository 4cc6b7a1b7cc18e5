"""TIES on the updates ``ΔW_i = s_i B_i A_i`` of each module, exported by truncated SVD.

1. trim: keep the ``int(density * numel)`` largest-magnitude entries of each ``ΔW_i``, zero the rest;
2. elect: the sign of ``Σ_i trimmed_i`` per entry (``majority_sign_method="total"``; "frequency" counts signs);
3. disjoint mean: ``Σ_i w_i trimmed_i [sign agrees] / #agreeing`` per entry.

This is PEFT's ``peft.utils.merge_utils.ties`` (called here), i.e. PEFT's ``ties_svd`` combination; note the
weights multiply before the disjoint mean, so weights 1 give the TIES paper's merge with λ = 1 and the paper's
default 0.5 halves it. The trimmed update is not low-rank: it is exported as its best rank-``rank``
approximation (default: the sum of the inputs' ranks), exact when ``rank >= min(d_out, d_in)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from peft.utils.merge_utils import ties as peft_ties

from compbench.adapters.lora_io import LoraAdapter
from compbench.adapters.merges.common import (
    check_compatible,
    check_density,
    deltas,
    dtype_of,
    export_rank,
    lowrank_lora,
    merged,
    resolve_weights,
)
from compbench.errors import ConfigError


def ties_delta(updates: Sequence[torch.Tensor], weights: Sequence[float], density: float,
               majority_sign_method: Literal["total", "frequency"] = "total") -> torch.Tensor:
    """The TIES-merged update of one module from the inputs' ``ΔW_i``."""
    if majority_sign_method not in ("total", "frequency"):
        raise ConfigError(f"majority_sign_method must be 'total' or 'frequency', got {majority_sign_method!r}")
    return peft_ties(list(updates), torch.tensor(weights, dtype=updates[0].dtype, device=updates[0].device), check_density(density),
                     majority_sign_method)


def ties(adapters: Sequence[LoraAdapter], weights: Sequence[float] | None = None, density: float = 0.5,
         rank: int | None = None, majority_sign_method: Literal["total", "frequency"] = "total") -> LoraAdapter:
    """TIES-merge ``adapters`` module by module and export each result at ``rank`` (see the module doc)."""
    names = check_compatible(adapters)
    weights = resolve_weights(weights, len(adapters))
    dtype = dtype_of(adapters)
    modules = {}
    for name in names:
        delta = ties_delta(deltas(adapters, name), weights, density, majority_sign_method)
        modules[name] = lowrank_lora(delta, export_rank([a.modules[name] for a in adapters], rank), dtype)
    return merged(adapters, modules)
