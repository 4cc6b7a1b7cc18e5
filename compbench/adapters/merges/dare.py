"""DARE on the updates ``ΔW_i = s_i B_i A_i``: drop each entry with probability ``1 - density``, rescale the
survivors by ``1 / density``, then sum with the weights: ``ΔW' = Σ w_i (M_i ⊙ ΔW_i) / density``.

The masks are PEFT's (``peft.utils.merge_utils.dare_linear``, Bernoulli(density) per entry), drawn from
torch's generator seeded per module with ``seed`` and the module's name, so a merge is reproducible and does
not depend on module order or on the caller's random state. Exported by truncated SVD like TIES (default rank:
the sum of the inputs' ranks; exact when ``rank >= min(d_out, d_in)``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from peft.utils.merge_utils import dare_linear

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


def module_seed(seed: int, name: str) -> int:
    """A 63-bit seed for module ``name`` derived from the merge seed (stable across runs and platforms)."""
    digest = hashlib.sha256(f"{int(seed)}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def dare_delta(updates: Sequence[torch.Tensor], weights: Sequence[float], density: float,
               seed: int) -> torch.Tensor:
    """DARE-merged update from the inputs' ``ΔW_i``; masks drawn in input order after ``manual_seed(seed)``."""
    density = check_density(density)
    device = updates[0].device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        return dare_linear(list(updates), torch.tensor(weights, dtype=updates[0].dtype, device=updates[0].device), density)


def dare(adapters: Sequence[LoraAdapter], weights: Sequence[float] | None = None, density: float = 0.5,
         seed: int = 0, rank: int | None = None) -> LoraAdapter:
    """DARE-merge ``adapters`` module by module (see the module doc)."""
    names = check_compatible(adapters)
    weights = resolve_weights(weights, len(adapters))
    dtype = dtype_of(adapters)
    modules = {}
    for name in names:
        delta = dare_delta(deltas(adapters, name), weights, density, module_seed(seed, name))
        modules[name] = lowrank_lora(delta, export_rank([a.modules[name] for a in adapters], rank), dtype)
    return merged(adapters, modules)
