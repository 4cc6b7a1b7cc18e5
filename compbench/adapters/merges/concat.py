"""Concatenation = the exact weighted sum of updates: ``ΔW' = Σ w_i ΔW_i``, a LoRA of rank ``Σ r_i``.

``B' = [w_1 B_1, ..., w_N B_N]``, ``A' = [A_1; ...; A_N]`` (each ``B_i`` also carries ``s_i/s`` when the
scalings differ). No cross terms. The "ΔW average" linear merge is the same update, so ``linear-delta`` is
this function under a second name.
"""

from __future__ import annotations

from collections.abc import Sequence

from compbench.adapters.lora_io import LoraAdapter
from compbench.adapters.merges.common import check_compatible, dtype_of, merged, resolve_weights, stacked_lora


def concat(adapters: Sequence[LoraAdapter], weights: Sequence[float] | None = None) -> LoraAdapter:
    """``Σ w_i ΔW_i`` exported exactly by stacking the weighted factors (weights default to 1/N)."""
    names = check_compatible(adapters)
    weights = resolve_weights(weights, len(adapters))
    dtype = dtype_of(adapters)
    return merged(adapters, {n: stacked_lora([a.modules[n] for a in adapters], weights, dtype) for n in names})
