"""What every merge shares: compatibility checks, weights, and exact or SVD export of a merged update.

All merges compute in float32 and return factors in the first adapter's dtype. A merged adapter's modules
are the modules every input adapts (the same set in each, or the merge is refused).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from compbench.adapters.lora_io import LoraAdapter, LoraFactors
from compbench.errors import ConfigError, InputError

COMPUTE_DTYPE = torch.float32


def check_compatible(adapters: Sequence[LoraAdapter], minimum: int = 2) -> list[str]:
    """The module names shared by ``adapters``; refuses differing module sets or shapes."""
    if len(adapters) < minimum:
        raise ConfigError(f"a merge needs at least {minimum} adapters, got {len(adapters)}")
    names = list(adapters[0].modules)
    for index, adapter in enumerate(adapters[1:], start=2):
        missing = set(names) ^ set(adapter.modules)
        if missing:
            example = sorted(missing)[0]
            raise InputError(f"adapter {index} does not adapt the same modules as adapter 1 "
                             f"({len(missing)} differ, e.g. {example!r})")
    for name in names:
        shapes = {(f.out_features, f.in_features) for f in (a.modules[name] for a in adapters)}
        if len(shapes) > 1:
            raise InputError(f"shape mismatch at module {name!r}: (out, in) = "
                             + ", ".join(str(s) for s in sorted(shapes)))
    return names


def resolve_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """``weights`` as floats, one per adapter; default ``1/N`` each (0.5 for two, the paper's setting)."""
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ConfigError(f"got {len(weights)} weights for {count} adapters")
    return weights


def check_density(density: float) -> float:
    if not 0.0 < float(density) <= 1.0:
        raise ConfigError(f"density must be in (0, 1], got {density}")
    return float(density)


def common_scaling(factors: Sequence[LoraFactors]) -> float | None:
    scalings = {f.scaling for f in factors}
    return scalings.pop() if len(scalings) == 1 else None


def deltas(adapters: Sequence[LoraAdapter], name: str) -> list[torch.Tensor]:
    """Each adapter's ``ΔW_i = s_i B_i A_i`` for module ``name``, in float32."""
    return [a.modules[name].delta(COMPUTE_DTYPE) for a in adapters]


def stacked_lora(factors: Sequence[LoraFactors], coefficients: Sequence[float | torch.Tensor],
                 dtype: torch.dtype) -> LoraFactors:
    """The exact LoRA of ``Σ_i diag(c_i) ΔW_i`` (``c_i`` a scalar or a ``(d_out,)`` vector), rank ``Σ r_i``.

    ``B = [c_1 (s_1/s) B_1, ..., c_N (s_N/s) B_N]``, ``A = [A_1; ...; A_N]`` with scaling ``s`` the inputs'
    common scaling (or 1 when they differ), so ``s B A = Σ_i diag(c_i) s_i B_i A_i`` exactly.
    """
    scaling = common_scaling(factors) or 1.0
    blocks_b = []
    for f, c in zip(factors, coefficients, strict=True):
        c = torch.as_tensor(c, dtype=COMPUTE_DTYPE, device=f.B.device)
        column = c.reshape(-1, 1) if c.ndim == 1 else c
        blocks_b.append(column * (f.scaling / scaling) * f.B.to(COMPUTE_DTYPE))
    A = torch.cat([f.A.to(COMPUTE_DTYPE) for f in factors], dim=0)
    return LoraFactors(A=A.to(dtype), B=torch.cat(blocks_b, dim=1).to(dtype), scaling=scaling)


def lowrank_lora(delta: torch.Tensor, rank: int, dtype: torch.dtype) -> LoraFactors:
    """The best rank-``rank`` approximation of ``delta`` (truncated SVD) as a LoRA with scaling 1.

    ``B = U_k diag(S_k)``, ``A = Vh_k`` as PEFT's ``*_svd`` merges do; exact when ``rank >= rank(delta)``.
    A wide matrix is decomposed through its transpose (``Mᵀ = V S Uᵀ``): the same factors, and on CPU several
    times faster for shapes like ``down_proj``'s (see benchmarks/bench_merges.py).
    """
    rank = max(1, min(rank, *delta.shape))
    matrix = delta.to(COMPUTE_DTYPE)
    if matrix.shape[0] < matrix.shape[1]:
        U_t, S, Vh_t = torch.linalg.svd(matrix.T, full_matrices=False)
        U, Vh = Vh_t.T, U_t.T
    else:
        U, S, Vh = torch.linalg.svd(matrix, full_matrices=False)
    return LoraFactors(A=Vh[:rank].contiguous().to(dtype), B=(U[:, :rank] * S[:rank]).to(dtype), scaling=1.0)


def export_rank(factors: Sequence[LoraFactors], rank: int | None) -> int:
    """The rank an SVD-exported merge gets: ``rank`` if given, else the sum of the inputs' ranks."""
    if rank is not None and int(rank) < 1:
        raise ConfigError(f"rank must be a positive integer, got {rank}")
    return int(rank) if rank is not None else sum(f.rank for f in factors)


def merged(adapters: Sequence[LoraAdapter], modules: dict[str, LoraFactors]) -> LoraAdapter:
    """A new adapter for the first input's base model holding ``modules``."""
    first = adapters[0]
    config = {"peft_type": "LORA", "task_type": first.config.get("task_type"), "lora_dropout": 0.0,
              "bias": "none"}
    base = next((a.base_model for a in adapters if a.base_model), None)
    return LoraAdapter(base_model=base, config=config, modules=modules)


def dtype_of(adapters: Sequence[LoraAdapter]) -> torch.dtype:
    return next(iter(adapters[0].modules.values())).A.dtype
