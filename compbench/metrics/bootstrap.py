"""Seeded bootstrap confidence intervals over examples, and the paired bootstrap for comparing two systems.

Every sub-task draws its resample indices from its own generator, seeded by ``(seed, crc32(subtask id))``: the
indices depend only on the seed, the sub-task and its number of examples, never on which other sub-tasks were
scored. Two systems scored with the same seed on the same examples therefore share their resamples, which is
what makes the paired comparison paired. A family's interval resamples each of its sub-tasks independently
(stratified) and averages the sub-task means, exactly as the family score averages them.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np

# Too few examples for a bootstrap interval or p-value to mean anything: below MIN_N_FOR_INTERVAL none is reported,
# below RELIABLE_N it is reported with a warning. Why these numbers: docs/scoring.md, "Small samples".
MIN_N_FOR_INTERVAL = 10
RELIABLE_N = 30


def small_n_warning(n: int) -> str | None:
    """Why an interval over ``n`` examples is not reported (``n < MIN_N_FOR_INTERVAL``) or not to be trusted."""
    if n < MIN_N_FOR_INTERVAL:
        return (f"n={n}: too few examples for a bootstrap interval or p-value (fewer than {MIN_N_FOR_INTERVAL}); "
                f"none reported")
    if n < RELIABLE_N:
        return f"n={n}: bootstrap interval unreliable with fewer than {RELIABLE_N} examples (likely too narrow)"
    return None


def family_small_n_warnings(n_by_subtask: Mapping[str, int]) -> list[str]:
    """:func:`small_n_warning` of each member sub-task of a family, named (a family interval is as weak as them)."""
    return [f"{subtask}: {warning}" for subtask, n in n_by_subtask.items()
            if (warning := small_n_warning(n)) is not None]


def subtask_rng(seed: int, subtask: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(subtask.encode("utf-8"))])


def resample_indices(seed: int, subtask: str, n: int, resamples: int) -> np.ndarray:
    """The ``(resamples, n)`` index matrix used for this sub-task; identical for identical arguments."""
    return subtask_rng(seed, subtask).integers(0, n, size=(resamples, n))


def bootstrap_means(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Means of ``values`` (shape ``(n,)`` or ``(n, k)``) over each resample: shape ``(B,)`` or ``(B, k)``.

    A plain gather per metric: no BLAS call, whose idle threads would spin and steal the CPU from other
    scoring workers.
    """
    if values.ndim == 1:
        return values[indices].mean(axis=1)
    return np.stack([np.ascontiguousarray(values[:, j])[indices].mean(axis=1) for j in range(values.shape[1])],
                    axis=1)


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - confidence) / 2.0
    return np.quantile(samples, alpha, axis=0), np.quantile(samples, 1.0 - alpha, axis=0)


def subtask_bootstrap(values: np.ndarray, seed: int, subtask: str, resamples: int) -> np.ndarray:
    """Bootstrap distribution of the mean of ``values`` for one sub-task: ``(B,)`` or ``(B, k)``."""
    return bootstrap_means(values, resample_indices(seed, subtask, len(values), resamples))


def family_bootstrap(per_subtask: Mapping[str, np.ndarray]) -> np.ndarray:
    """Stratified family distribution: the average of the sub-tasks' bootstrap distributions, resample-wise."""
    return np.mean(np.stack(list(per_subtask.values()), axis=0), axis=0)


def paired_p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value that the mean difference is zero.

    Twice the smaller share of resampled mean differences on either side of zero, with the +1 correction so
    that a finite number of resamples never reports p = 0; capped at 1.
    """
    b = len(differences)
    below = (np.sum(differences <= 0) + 1) / (b + 1)
    above = (np.sum(differences >= 0) + 1) / (b + 1)
    return float(min(1.0, 2.0 * min(below, above)))
