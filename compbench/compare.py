"""``compbench.compare``: paired bootstrap comparison of two scored systems on the same examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from compbench.errors import ConfigError, InputError
from compbench.fileio import read_text_strict
from compbench.metrics.bootstrap import (
    bootstrap_means,
    family_bootstrap,
    paired_p_value,
    percentile_interval,
    resample_indices,
)
from compbench.schemas import Interval, Results
from compbench.tasks import REGISTRY

KEY_COLUMNS = ["subtask", "group", "reference_index", "id"]


class Difference(BaseModel):
    """Mean of A minus B on the main metric (percent), its paired interval and two-sided p-value."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    n: int
    a: float
    b: float
    difference: float
    ci: Interval
    p_value: float


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: str
    b: str
    seed: int
    bootstrap: int
    tokenizer: str
    subtasks: dict[str, Difference]
    families: dict[str, Difference]


def load_results(path: str | Path) -> Results:
    path = Path(path)
    try:
        return Results.model_validate_json(read_text_strict(path))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"not a compbench results document: {err['msg']} at "
                         f"{'.'.join(map(str, err['loc']))}", path) from None


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


def _difference(metric: str, a: np.ndarray, b: np.ndarray, diffs: np.ndarray, confidence: float) -> Difference:
    low, high = percentile_interval(diffs, confidence)
    return Difference(metric=metric, n=len(a), a=round(100 * float(a.mean()), 4), b=round(100 * float(b.mean()), 4),
                      difference=round(100 * float((a - b).mean()), 4),
                      ci=Interval(low=round(100 * float(low), 4), high=round(100 * float(high), 4)),
                      p_value=paired_p_value(diffs))


def compare(a: str | Path, b: str | Path, *, bootstrap: int | None = None, seed: int | None = None) -> Comparison:
    """Per sub-task and family: A - B on the main metric with a paired bootstrap interval and p-value.

    Both results must come from the same references and scoring settings; the resample indices are those the
    scorer used for each system's own interval (same seed), applied to the per-example differences.
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
    common = sorted(set(ex_a["subtask"]) & set(ex_b["subtask"]))
    if not common:
        raise ConfigError("the two results share no sub-task")
    confidence = res_a.scoring.confidence
    subtasks: dict[str, Difference] = {}
    distributions: dict[str, np.ndarray] = {}
    for subtask in common:
        metric = REGISTRY[subtask].metric
        rows_a = ex_a[ex_a["subtask"] == subtask].sort_values(KEY_COLUMNS, kind="stable")
        rows_b = ex_b[ex_b["subtask"] == subtask].sort_values(KEY_COLUMNS, kind="stable")
        if rows_a[KEY_COLUMNS].to_numpy().tolist() != rows_b[KEY_COLUMNS].to_numpy().tolist():
            raise ConfigError(f"sub-task {subtask}: the two results scored different examples; a paired "
                              f"comparison needs the same ones")
        va, vb = rows_a[metric].to_numpy(float), rows_b[metric].to_numpy(float)
        diffs = bootstrap_means(va - vb, resample_indices(seed, subtask, len(va), resamples))
        distributions[subtask] = diffs
        subtasks[subtask] = _difference(metric, va, vb, diffs, confidence)
    families: dict[str, Difference] = {}
    for family in sorted({REGISTRY[s].family for s in common}):
        members = [s for s in common if REGISTRY[s].family == family]
        metric = REGISTRY[members[0]].metric
        diffs = family_bootstrap({s: distributions[s] for s in members})
        fa = float(np.mean([subtasks[s].a for s in members]))
        fb = float(np.mean([subtasks[s].b for s in members]))
        low, high = percentile_interval(diffs, confidence)
        families[family] = Difference(metric=metric, n=sum(subtasks[s].n for s in members), a=round(fa, 4),
                                      b=round(fb, 4), difference=round(fa - fb, 4),
                                      ci=Interval(low=round(100 * float(low), 4), high=round(100 * float(high), 4)),
                                      p_value=paired_p_value(diffs))
    return Comparison(a=str(a), b=str(b), seed=seed, bootstrap=resamples, tokenizer=res_a.scoring.tokenizer,
                      subtasks=subtasks, families=families)


__all__ = ["Comparison", "Difference", "compare"]
