"""Slerp of two adapters on each module's flattened update ``ΔW_i = s_i B_i A_i``.

With ``cos Ω = <ΔW_1, ΔW_2> / (|ΔW_1| |ΔW_2|)``:
``ΔW' = sin((1-t)Ω)/sin Ω · ΔW_1 + sin(tΩ)/sin Ω · ΔW_2`` (the raw updates are interpolated along the arc;
their norms are not normalised away). When the updates are (anti)parallel within 1e-6, or one is zero, it
falls back to the linear ``(1-t) ΔW_1 + t ΔW_2``. The result is a combination of the two updates with two
coefficients, so it exports exactly by concatenation (rank ``r_1 + r_2``). Default ``t = 0.5``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from compbench.adapters.lora_io import LoraAdapter
from compbench.adapters.merges.common import check_compatible, deltas, dtype_of, merged, stacked_lora
from compbench.errors import ConfigError

PARALLEL_EPS = 1e-6


def slerp_coefficients(first: torch.Tensor, second: torch.Tensor, t: float) -> tuple[float, float]:
    """``(a, b)`` with ``slerp(first, second; t) = a * first + b * second``."""
    norms = float(first.norm()) * float(second.norm())
    if norms == 0.0:
        return 1.0 - t, t
    cosine = max(-1.0, min(1.0, float((first.flatten() @ second.flatten()) / norms)))
    if abs(cosine) > 1.0 - PARALLEL_EPS:
        return 1.0 - t, t
    omega = math.acos(cosine)
    return math.sin((1.0 - t) * omega) / math.sin(omega), math.sin(t * omega) / math.sin(omega)


def slerp(adapters: Sequence[LoraAdapter], t: float = 0.5) -> LoraAdapter:
    """Spherical interpolation from adapter 1 (t=0) to adapter 2 (t=1), module by module."""
    if len(adapters) != 2:
        raise ConfigError(f"slerp merges exactly 2 adapters, got {len(adapters)}")
    if not 0.0 <= float(t) <= 1.0:
        raise ConfigError(f"t must be in [0, 1], got {t}")
    names = check_compatible(adapters)
    dtype = dtype_of(adapters)
    modules = {}
    for name in names:
        coefficients = slerp_coefficients(*deltas(adapters, name), float(t))
        modules[name] = stacked_lora([a.modules[name] for a in adapters], coefficients, dtype)
    return merged(adapters, modules)
