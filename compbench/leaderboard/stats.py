"""Table cells from per-example scores: nested means, stratified intervals and ties with the leader.

A cell is a mean of means: over base models, of the mean over a family's sub-tasks, of the exact mean over a
sub-task's examples (the paper's "averaged across models and languages or tones"). Its leaves are *units*:
(entry, sub-task). Each unit's bootstrap distribution uses the scorer's own resample indices
(:func:`compbench.metrics.bootstrap.resample_indices` with the store's seed), and a cell's distribution averages
its children's resample by resample (:func:`~compbench.metrics.bootstrap.family_bootstrap`), exactly as the
scorer builds a family's interval. Because two entries' units share their indices, the difference of their
distributions *is* the paired bootstrap of the per-example differences (the mean of ``a - b`` over a resample is
the mean of ``a`` minus the mean of ``b`` over it): an entry is tied with the leader when the 95% interval of
that difference contains 0.

The scorer's small-sample rule holds here too: a unit with fewer than
:data:`~compbench.metrics.bootstrap.MIN_N_FOR_INTERVAL` examples has no distribution, so no cell above it shows
an interval and no tie is claimed with it (its value is still shown).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from compbench.compare import KEY_COLUMNS
from compbench.leaderboard.store import Entry
from compbench.metrics.bootstrap import (
    MIN_N_FOR_INTERVAL,
    bootstrap_means,
    family_bootstrap,
    percentile_interval,
    resample_indices,
)
from compbench.tasks import REGISTRY

CONFIDENCE = 0.95
MAIN_METRICS = sorted({t.metric for t in REGISTRY.values()})


@dataclass(frozen=True)
class UnitStats:
    """One (entry, sub-task): exact mean and bootstrap distribution of the main metric, in percent."""

    mean: float
    distribution: np.ndarray | None  # None below MIN_N_FOR_INTERVAL examples
    examples: str  # digest of the scored examples' keys: two units pair only when they scored the same ones


@dataclass(frozen=True)
class Score:
    """A cell's value. ``partial``: some unit is missing (the value averages what exists and is never ranked)."""

    value: float | None
    ci: tuple[float, float] | None = None
    partial: bool = False
    distribution: np.ndarray | None = None
    examples: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.value is not None and not self.partial


MISSING = Score(value=None, partial=True)

#: A cell's structure: a unit ``(entry or None, sub-task)``, or a list of sub-trees averaged with equal weight.
Tree = tuple | list


class Bootstrap:
    """Unit statistics of a store's entries, computed once per entry, with the store's seed and resamples."""

    def __init__(self, seed: int, resamples: int):
        self.seed, self.resamples = seed, resamples
        self._units: dict[str, dict[str, UnitStats]] = {}
        self._indices: dict[tuple[str, int], np.ndarray] = {}

    def _indices_for(self, subtask: str, n: int) -> np.ndarray:
        key = (subtask, n)
        if key not in self._indices:
            self._indices[key] = resample_indices(self.seed, subtask, n, self.resamples)
        return self._indices[key]

    def units(self, entry: Entry) -> dict[str, UnitStats]:
        if entry.id not in self._units:
            examples = entry.examples(columns=[*KEY_COLUMNS, *MAIN_METRICS])
            stats = {}
            for subtask, rows in examples.groupby("subtask", sort=True):
                rows = rows.sort_values(KEY_COLUMNS, kind="stable")
                values = rows[REGISTRY[subtask].metric].to_numpy(dtype=np.float64)
                keys = pd.util.hash_pandas_object(rows[KEY_COLUMNS], index=False).to_numpy()
                enough = len(values) >= MIN_N_FOR_INTERVAL
                stats[subtask] = UnitStats(
                    mean=100 * float(values.mean()),
                    distribution=100 * bootstrap_means(values, self._indices_for(subtask, len(values)))
                    if enough else None,
                    examples=hashlib.sha256(keys.tobytes()).hexdigest())
            self._units[entry.id] = stats
        return self._units[entry.id]

    def score(self, tree: Tree) -> Score:
        """The nested mean of ``tree`` with its interval; partial when any unit is missing."""
        if isinstance(tree, tuple):
            entry, subtask = tree
            unit = self.units(entry).get(subtask) if entry is not None else None
            if unit is None:
                return MISSING
            return Score(value=unit.mean, distribution=unit.distribution, examples=(unit.examples,))
        children = [self.score(child) for child in tree]
        present = [c for c in children if c.value is not None]
        if not present:
            return MISSING
        value = float(np.mean([c.value for c in present]))
        if len(present) < len(children) or any(c.partial for c in present):
            return Score(value=value, partial=True)
        if any(c.distribution is None for c in present):  # too few examples somewhere: a value, no interval
            return Score(value=value, examples=tuple(k for c in present for k in c.examples))
        distribution = family_bootstrap({str(i): c.distribution for i, c in enumerate(present)})
        low, high = percentile_interval(distribution, CONFIDENCE)
        return Score(value=value, ci=(float(low), float(high)), distribution=distribution,
                     examples=tuple(k for c in present for k in c.examples))


def tied(score: Score, leader: Score) -> bool:
    """Whether the paired bootstrap's 95% interval of ``score - leader`` contains 0 (same examples only)."""
    if not (score.complete and leader.complete) or score.examples != leader.examples:
        return False
    if score.distribution is None or leader.distribution is None:  # too few examples to tell
        return False
    low, high = percentile_interval(score.distribution - leader.distribution, CONFIDENCE)
    return bool(low <= 0.0 <= high)


def leader_of(scores: Sequence[Score]) -> int | None:
    """Position of the highest complete score (the first one on equal values), or ``None``."""
    best = None
    for i, s in enumerate(scores):
        if s.complete and (best is None or s.value > scores[best].value):
            best = i
    return best


def mean_of(values: Sequence[float | None]) -> Score:
    """A plain mean (judge scores, efficiency): partial when any value is missing."""
    present = [v for v in values if v is not None]
    if not present:
        return MISSING
    return Score(value=float(np.mean(present)), partial=len(present) < len(values))


def leader_and_ties(scores: Sequence[Score]) -> tuple[int | None, list[int]]:
    """The leader's position and the positions a paired bootstrap cannot separate from it."""
    best = leader_of(scores)
    if best is None:
        return None, []
    return best, [i for i, s in enumerate(scores) if i != best and tied(s, scores[best])]
