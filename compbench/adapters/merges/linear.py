"""Linear merge on the factors (the paper's): ``B' = Σ w_i B_i``, ``A' = Σ w_i A_i``.

With equal scalings ``s`` this is ``ΔW' = s (Σ w_i B_i)(Σ w_i A_i)``: for two adapters and weights 0.5 it
is the paper's ``mean(B) mean(A)``, the starting point of Learnable Calibration, cross terms included. When
the scalings differ, each ``B_i`` carries its own: ``ΔW' = (Σ w_i s_i B_i)(Σ w_i A_i)``. All adapters must
have the same rank at every module. LoraHub and LM-Cocktail apply their searched weights through this.
"""

from __future__ import annotations

from collections.abc import Sequence

from compbench.adapters.lora_io import LoraAdapter, LoraFactors
from compbench.adapters.merges.common import (
    COMPUTE_DTYPE,
    check_compatible,
    common_scaling,
    dtype_of,
    merged,
    resolve_weights,
)
from compbench.errors import InputError


def linear_combination(adapters: Sequence[LoraAdapter], weights: Sequence[float] | None = None) -> LoraAdapter:
    """``B' = Σ w_i s_i/s B_i``, ``A' = Σ w_i A_i`` per module (``s`` = the common scaling, else 1)."""
    names = check_compatible(adapters)
    weights = resolve_weights(weights, len(adapters))
    dtype = dtype_of(adapters)
    modules = {}
    for name in names:
        factors = [a.modules[name] for a in adapters]
        if len({f.rank for f in factors}) > 1:
            raise InputError(f"linear merge needs equal ranks; module {name!r} has ranks "
                             f"{[f.rank for f in factors]} (use concat or linear-delta)")
        scaling = common_scaling(factors) or 1.0
        B = sum(w * (f.scaling / scaling) * f.B.to(COMPUTE_DTYPE) for w, f in zip(weights, factors, strict=True))
        A = sum(w * f.A.to(COMPUTE_DTYPE) for w, f in zip(weights, factors, strict=True))
        modules[name] = LoraFactors(A=A.to(dtype), B=B.to(dtype), scaling=scaling)
    return merged(adapters, modules)


def linear(adapters: Sequence[LoraAdapter], weights: Sequence[float] | None = None) -> LoraAdapter:
    """The paper's linear merge (weights default to 1/N)."""
    return linear_combination(adapters, weights)
