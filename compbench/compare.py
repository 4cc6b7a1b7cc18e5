"""``compbench.compare``: paired bootstrap comparison of two scored systems on the same examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from compbench.errors import ConfigError, InputError
from compbench.fileio import read_document
from compbench.metrics.bootstrap import (
    MIN_N_FOR_INTERVAL,
    bootstrap_means,
    family_bootstrap,
    family_small_n_warnings,
    paired_p_value,
    percentile_interval,
    resample_indices,
    small_n_warning,
)
from compbench.schemas import METRIC_KEYS, Interval, Results
from compbench.scoring import example_means
from compbench.tasks import REGISTRY, tasks_in_family

KEY_COLUMNS = ["subtask", "group", "reference_index", "id"]


class Difference(BaseModel):
    """Mean of A minus B on the main metric (percent), its paired interval and two-sided p-value.

    ``ci`` and ``p_value`` are ``None`` where a sub-task has too few examples for them to mean anything;
    ``warnings`` says so (and flags intervals over few examples). The family fields are set on family rows only:
    ``shared_subset`` marks a family averaged over the sub-tasks both sides share where either side was scored on
    more; ``a_reported`` / ``b_reported`` are then each side's own family average, over ``a_subtasks`` /
    ``b_subtasks``, as its results document reports it.
    """

    model_config = ConfigDict(extra="forbid")
    metric: str
    n: int
    a: float
    b: float
    difference: float
    ci: Interval | None
    p_value: float | None
    warnings: list[str] = Field(default_factory=list)
    subtasks: list[str] | None = None
    complete: bool | None = None
    shared_subset: bool = False
    a_reported: float | None = None
    b_reported: float | None = None
    a_subtasks: list[str] | None = None
    b_subtasks: list[str] | None = None


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: str
    b: str
    seed: int
    bootstrap: int
    tokenizer: str
    subtasks: dict[str, Difference]
    families: dict[str, Difference]
    only_in_a: list[str] = Field(default_factory=list)  # scored sub-tasks that the other side lacks: not compared
    only_in_b: list[str] = Field(default_factory=list)


def load_results(path: str | Path) -> Results:
    """A results document; a malformed one is an :class:`InputError` naming its line or field."""
    return read_document(path, Results, "results document")


def load_examples(path: str | Path, results: Results) -> pd.DataFrame:
    path = Path(path)
    if results.per_example is None:
        raise InputError("the results name no per-example file (score with --out or --per-example)", path)
    examples_path = (path.parent / results.per_example).resolve()
    if not examples_path.is_file():
        raise InputError("per-example scores named by the results are missing", examples_path)
    try:
        return pq.read_table(examples_path).to_pandas()
    except Exception as exc:
        raise InputError(f"not a readable Parquet file ({exc})", examples_path) from None


def _rounded(value: float) -> float:
    return round(100 * float(value), 4)


def _interval(diffs: np.ndarray, confidence: float) -> Interval:
    low, high = percentile_interval(diffs, confidence)
    return Interval(low=_rounded(low), high=_rounded(high))


def compare(a: str | Path, b: str | Path, *, bootstrap: int | None = None, seed: int | None = None) -> Comparison:
    """Per sub-task and family: A - B on the main metric with a paired bootstrap interval and p-value.

    Both results must come from the same references and scoring settings; the resample indices are those the
    scorer used for each system's own interval (same seed), applied to the per-example differences. Sub-tasks
    only one side scored are listed, not compared. A family is never silently averaged over fewer sub-tasks than
    either side was scored on: such a row is marked ``shared_subset`` and carries both sides' own averages.
    """
    res_a, res_b = load_results(a), load_results(b)
    for field in ("tokenizer", "multi_ref"):
        va, vb = getattr(res_a.scoring, field), getattr(res_b.scoring, field)
        if va != vb:
            raise ConfigError(f"the two results were scored with different {field} settings ({va} vs {vb}); "
                              f"rescore one of them so that they match")
    if res_a.benchmark.release_hash != res_b.benchmark.release_hash:
        raise ConfigError("the two results were scored against different references (release hashes differ)")
    seed = res_a.scoring.seed if seed is None else seed
    resamples = res_a.scoring.bootstrap if bootstrap is None else bootstrap
    if resamples < 1:
        raise ConfigError("a paired comparison needs at least 1 bootstrap resample (--bootstrap)")
    ex_a, ex_b = load_examples(a, res_a), load_examples(b, res_b)
    in_a, in_b = set(ex_a["subtask"]), set(ex_b["subtask"])
    common = [s for s in REGISTRY if s in in_a & in_b]  # registry order, as the paper's tables
    if not common:
        raise ConfigError("the two results share no sub-task")
    confidence = res_a.scoring.confidence
    subtasks: dict[str, Difference] = {}
    means: dict[str, tuple[float, float]] = {}  # unrounded means of A and B on the main metric
    distributions: dict[str, np.ndarray] = {}
    for subtask in common:
        metric = REGISTRY[subtask].metric
        rows_a = ex_a[ex_a["subtask"] == subtask].sort_values(KEY_COLUMNS, kind="stable")
        rows_b = ex_b[ex_b["subtask"] == subtask].sort_values(KEY_COLUMNS, kind="stable")
        if rows_a[KEY_COLUMNS].to_numpy().tolist() != rows_b[KEY_COLUMNS].to_numpy().tolist():
            raise ConfigError(f"sub-task {subtask}: the two results scored different examples; a paired "
                              f"comparison needs the same ones")
        va, vb = rows_a[metric].to_numpy(float), rows_b[metric].to_numpy(float)
        # One index matrix for both systems: resample r draws the same examples from A and from B.
        distributions[subtask] = bootstrap_means(va - vb, resample_indices(seed, subtask, len(va), resamples))
        column = METRIC_KEYS.index(metric)
        means[subtask] = (float(example_means(rows_a[list(METRIC_KEYS)].to_numpy())[column]),
                          float(example_means(rows_b[list(METRIC_KEYS)].to_numpy())[column]))
        warning = small_n_warning(len(va))
        enough = len(va) >= MIN_N_FOR_INTERVAL
        subtasks[subtask] = Difference(
            metric=metric, n=len(va), a=_rounded(means[subtask][0]), b=_rounded(means[subtask][1]),
            difference=_rounded((va - vb).mean()),
            ci=_interval(distributions[subtask], confidence) if enough else None,
            p_value=paired_p_value(distributions[subtask]) if enough else None,
            warnings=[warning] if warning else [])
    families: dict[str, Difference] = {}
    for family in dict.fromkeys(REGISTRY[s].family for s in common):
        members = [s for s in common if REGISTRY[s].family == family]
        own_a, own_b = res_a.families[family], res_b.families[family]
        shared_subset = set(members) != set(own_a.subtasks) or set(members) != set(own_b.subtasks)
        fa = float(np.mean([means[s][0] for s in members]))
        fb = float(np.mean([means[s][1] for s in members]))
        diffs = family_bootstrap({s: distributions[s] for s in members})
        enough = min(subtasks[s].n for s in members) >= MIN_N_FOR_INTERVAL
        warnings = family_small_n_warnings({s: subtasks[s].n for s in members})
        if shared_subset:
            warnings.insert(0, f"shared subset: averaged over the {len(members)} sub-task(s) both sides scored "
                               f"({', '.join(members)}), not over each side's own {family} average: A's is "
                               f"{own_a.main:.2f} over {len(own_a.subtasks)}, B's {own_b.main:.2f} over "
                               f"{len(own_b.subtasks)}")
        families[family] = Difference(
            metric=REGISTRY[members[0]].metric, n=sum(subtasks[s].n for s in members), a=_rounded(fa),
            b=_rounded(fb), difference=_rounded(fa - fb), ci=_interval(diffs, confidence) if enough else None,
            p_value=paired_p_value(diffs) if enough else None, warnings=warnings, subtasks=members,
            complete=len(members) == len(tasks_in_family(family)), shared_subset=shared_subset,
            a_reported=own_a.main if shared_subset else None, b_reported=own_b.main if shared_subset else None,
            a_subtasks=own_a.subtasks if shared_subset else None, b_subtasks=own_b.subtasks if shared_subset else None)
    return Comparison(a=str(a), b=str(b), seed=seed, bootstrap=resamples, tokenizer=res_a.scoring.tokenizer,
                      subtasks=subtasks, families=families,
                      only_in_a=[s for s in REGISTRY if s in in_a - in_b],
                      only_in_b=[s for s in REGISTRY if s in in_b - in_a])


__all__ = ["Comparison", "Difference", "compare"]
