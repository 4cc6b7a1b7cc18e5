"""``compbench.score``: predictions + references -> per-example scores, exact means, bootstrap intervals.

Faithful to the paper by default: every (input, reference) row is one example (DialogSum's test set counts 1,500
rows for 500 dialogues), scores are exact means of per-example F-measures in percent. Deliberate improvements, each
with a switch back: the ``unicode`` tokenizer (``compat`` = rouge-score's own), ``multi_ref="max"`` (score each
input once against its best reference).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from compbench import __version__, arrow_arrays
from compbench.errors import ConfigError, InputError
from compbench.fileio import atomic_path, write_json
from compbench.metrics.bootstrap import (
    MIN_N_FOR_INTERVAL,
    family_bootstrap,
    family_small_n_warnings,
    percentile_interval,
    small_n_warning,
)
from compbench.metrics.language import add_language_checks
from compbench.metrics.subtask_jobs import SubtaskJob, run_jobs
from compbench.metrics.tokenizers import TOKENIZERS
from compbench.predictions import Predictions, read_predictions
from compbench.provenance import provenance
from compbench.references import ReferenceSet, load_reference_jsonl, load_release
from compbench.schemas import (
    METRIC_KEYS,
    PER_EXAMPLE_SCHEMA,
    Benchmark,
    Efficiency,
    FamilyMetrics,
    InputFile,
    Interval,
    Results,
    ScoringSettings,
    SubtaskMetrics,
)
from compbench.tasks import REGISTRY, UnknownTaskError, get_task, tasks_in_family

if TYPE_CHECKING:
    import pandas as pd

    from compbench.judging import JudgeRun, JudgeSettings

log = logging.getLogger(__name__)

MULTI_REF_MODES = ("each", "max")
CONFIDENCE = 0.95


@dataclass
class ScoreReport:
    """The results document and the per-example table it summarises (Arrow, :data:`PER_EXAMPLE_SCHEMA`)."""

    results: Results
    table: pa.Table

    @cached_property
    def examples(self) -> pd.DataFrame:
        """The per-example table as a pandas DataFrame (pandas is imported here, not by ``compbench score``)."""
        return self.table.to_pandas()
    judged: JudgeRun | None = None  # the LLM judge's per-example verdicts, when it ran

    def write(self, out: str | Path | None = None, per_example: str | Path | None = None) -> None:
        """Write the per-example Parquet file and the results JSON, each atomically (temporary file + rename)."""
        write_report(self, out=out, per_example=per_example)


def _check_options(tokenizer: str, multi_ref: str, bootstrap: int, subtasks: list[str] | None,
                   data: str | None, references: str | Path | None) -> list[str] | None:
    if tokenizer not in TOKENIZERS:
        raise ConfigError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
    if multi_ref not in MULTI_REF_MODES:
        raise ConfigError(f"unknown multi-reference mode {multi_ref!r}; choose one of {', '.join(MULTI_REF_MODES)}")
    if bootstrap < 0:
        raise ConfigError("the number of bootstrap resamples must be 0 (no intervals) or more")
    if (data is None) == (references is None):
        raise ConfigError("give exactly one of a release (--data) or a references file (--references)")
    if not subtasks:
        return None
    try:
        return sorted({get_task(s).id for s in subtasks})
    except UnknownTaskError as exc:
        raise ConfigError(str(exc)) from None


def select_rows(refs: ReferenceSet, preds: Predictions, subtasks: list[str] | None, allow_missing: bool,
                multi_ref: str, ids: Collection[str] | None = None) -> tuple[dict[str, list], int]:
    """The reference rows to score (columns, sorted by sub-task, group, reference index, id), with their
    predictions and whether each is missing; checks ids both ways. Also: how many predictions are ignored.
    ``ids`` keeps only those reference rows (an evaluation run with ``--limit``)."""
    columns = refs.columns
    known = set(columns["id"])
    unknown = [pid for pid in preds.by_id if pid not in known]
    if unknown:
        first = unknown[0]
        raise InputError(f"id {first!r} is not in the references {refs.origin} ({len(unknown)} unknown id"
                         f"{'s' if len(unknown) > 1 else ''})", preds.path, preds.where(first))
    if ids is not None:
        wanted = set(ids)
        keep = [k for k, row_id in enumerate(columns["id"]) if row_id in wanted]
        columns = {name: [values[k] for k in keep] for name, values in columns.items()}
    ids, row_subtasks = columns["id"], columns["subtask"]
    if subtasks is None:
        subtasks = sorted(set(row_subtasks))
        predicted = {s for s, i in zip(row_subtasks, ids, strict=True) if i in preds.by_id}
        unpredicted = [s for s in REGISTRY if s in set(subtasks) - predicted]
        if unpredicted and not allow_missing:
            raise InputError(f"no prediction at all for {len(unpredicted)} sub-task(s) of the references "
                             f"{refs.origin}: {', '.join(unpredicted)}; narrow the scoring with --subtask (once per "
                             f"sub-task you predicted) or pass --allow-missing to score them as empty predictions",
                             preds.path)
    else:
        absent = [s for s in subtasks if s not in set(row_subtasks)]
        if absent:
            raise ConfigError(f"sub-task {absent[0]!r} has no references in {refs.origin}")
    chosen = set(subtasks)
    key = list(zip(row_subtasks, columns["group"], columns["reference_index"], ids, strict=True))
    order = sorted((i for i, s in enumerate(row_subtasks) if s in chosen), key=key.__getitem__)
    rows = {name: [values[i] for i in order] for name, values in columns.items()}
    ids = rows["id"]
    ignored = len(set(preds.by_id) - set(ids))
    if multi_ref == "max":
        # The group's prediction is that of its first row that has one; the group is missing if none has.
        source: dict[str, str] = {}
        for group, row_id in zip(rows["group"], ids, strict=True):
            if row_id in preds.by_id:
                source.setdefault(group, row_id)
        ids = rows["id"] = [source.get(g, i) for g, i in zip(rows["group"], ids, strict=True)]
    rows["missing"] = [i not in preds.by_id for i in ids]
    missing = [k for k, m in enumerate(rows["missing"]) if m]
    if missing and not allow_missing:
        first = missing[0]
        count = len({rows["group"][k] for k in missing}) if multi_ref == "max" else len(missing)
        raise InputError(f"{count} reference(s) have no prediction (first: id {ids[first]!r} of "
                         f"{rows['subtask'][first]}); pass --allow-missing to score them as empty predictions",
                         preds.path)
    rows["prediction"] = [preds.by_id.get(i, "") for i in ids]
    return rows, ignored


def _score_table(rows: dict[str, list], tokenizer: str, multi_ref: str, seed: int, resamples: int,
                 workers: int | None) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Per-example metrics for every row (best reference per group with ``max``) and bootstrap distributions."""
    bounds: dict[str, list[int]] = {}  # sub-task -> [first row, end]; the rows are sorted by sub-task
    for k, subtask in enumerate(rows["subtask"]):
        bounds.setdefault(subtask, [k, k])[1] = k + 1
    order = [s for s in REGISTRY if s in bounds]  # registry order, as the paper's tables
    jobs = [SubtaskJob(
        subtask=subtask, predictions=rows["prediction"][a:b], references=rows["reference"][a:b],
        groups=rows["group"][a:b] if multi_ref == "max" else None,
        main_index=METRIC_KEYS.index(REGISTRY[subtask].metric), tokenizer=tokenizer, seed=seed,
        resamples=resamples) for subtask in order for a, b in [bounds[subtask]]]
    results = run_jobs(jobs, workers)
    kept = [k for job, result in zip(jobs, results, strict=True)
            for k in np.arange(*bounds[job.subtask])[result.keep].tolist()]
    scores = np.concatenate([result.scores for result in results] or [np.empty((0, len(METRIC_KEYS)))], axis=0)
    columns = {name: [rows[name][k] for k in kept] for name in PER_EXAMPLE_SCHEMA.names if name not in METRIC_KEYS}
    columns.update({key: scores[:, j] for j, key in enumerate(METRIC_KEYS)})
    examples = arrow_arrays.table(columns, PER_EXAMPLE_SCHEMA)
    distributions = {job.subtask: result.distribution for job, result in zip(jobs, results, strict=True)
                     if result.distribution is not None}
    return examples, distributions


def _interval(low: np.ndarray, high: np.ndarray) -> dict[str, Interval]:
    return {key: Interval(low=round(100 * float(lo), 4), high=round(100 * float(hi), 4))
            for key, lo, hi in zip(METRIC_KEYS, low, high, strict=True)}


def _means(values: np.ndarray) -> dict[str, float]:
    return {key: round(100 * float(v), 4) for key, v in zip(METRIC_KEYS, values, strict=True)}


def example_means(values: np.ndarray) -> np.ndarray:
    """Exact means of per-example metric columns (rows = examples): the one place they are taken, so that
    ``compare`` reports the very numbers of the results documents (each column summed contiguously)."""
    return np.asfortranarray(values, dtype=np.float64).mean(axis=0)


def aggregate(examples: pa.Table, distributions: dict[str, np.ndarray]
              ) -> tuple[dict[str, SubtaskMetrics], dict[str, FamilyMetrics]]:
    """Per-sub-task exact means and intervals, then family averages with stratified intervals (percent).

    With resampling, too few examples withhold an interval (and say why) or flag it (see :func:`small_n_warning`).
    """
    # to_pylist, not to_numpy: the latter loads pandas (see compbench.arrow_arrays); the floats are the same.
    values = np.array([examples.column(key).to_pylist() for key in METRIC_KEYS], dtype=np.float64).T
    missing = np.asarray(examples.column("missing").to_pylist(), dtype=bool)
    rows_of: dict[str, list[int]] = {}  # sub-task -> its rows, sub-tasks in order of appearance
    for k, subtask in enumerate(examples.column("subtask").to_pylist()):
        rows_of.setdefault(subtask, []).append(k)
    subtask_metrics: dict[str, SubtaskMetrics] = {}
    means: dict[str, np.ndarray] = {}
    for subtask, rows in rows_of.items():
        means[subtask] = example_means(values[rows])
        warning = small_n_warning(len(rows)) if distributions else None
        ci = {}
        if distributions and len(rows) >= MIN_N_FOR_INTERVAL:
            ci = _interval(*percentile_interval(distributions[subtask], CONFIDENCE))
        metric = REGISTRY[subtask].metric
        stats = _means(means[subtask])
        subtask_metrics[subtask] = SubtaskMetrics(n=len(rows), missing=int(missing[rows].sum()),
                                                  main_metric=metric, main=stats[metric], ci=ci,
                                                  warnings=[warning] if warning else [], **stats)
    family_metrics: dict[str, FamilyMetrics] = {}
    for family in dict.fromkeys(REGISTRY[s].family for s in subtask_metrics):
        members = [t.id for t in tasks_in_family(family) if t.id in subtask_metrics]
        metric = REGISTRY[members[0]].metric
        stats = _means(np.mean([means[s] for s in members], axis=0))
        sizes = {s: subtask_metrics[s].n for s in members}
        warnings = family_small_n_warnings(sizes) if distributions else []
        ci = {}
        if distributions and min(sizes.values()) >= MIN_N_FOR_INTERVAL:
            ci = _interval(*percentile_interval(family_bootstrap({s: distributions[s] for s in members}),
                                                CONFIDENCE))
        family_metrics[family] = FamilyMetrics(
            subtasks=members, complete=len(members) == len(tasks_in_family(family)),
            missing=sum(subtask_metrics[s].missing for s in members), main_metric=metric,
            main=stats[metric], ci=ci, warnings=warnings, **stats)
    return subtask_metrics, family_metrics


def score(
    predictions: str | Path,
    *,
    data: str | None = None,
    references: str | Path | None = None,
    subtasks: list[str] | None = None,
    split: str = "test",
    tokenizer: str = "unicode",
    seed: int = 0,
    bootstrap: int = 1000,
    multi_ref: str = "each",
    allow_missing: bool = False,
    workers: int | None = None,
    method: str | None = None,
    base_model: str | None = None,
    efficiency: Efficiency | None = None,
    command: str | None = None,
    judge: JudgeSettings | None = None,
    ids: Collection[str] | None = None,
) -> ScoreReport:
    """Score a predictions file against a release (``data``: directory or Hub id) or a references file.

    Every sub-task gets the offline language check; with ``judge``, the LLM judge scores too (release only).
    ``ids`` restricts scoring to these reference rows (an evaluation run with ``--limit``). Raises
    :class:`~compbench.errors.InputError` / :class:`~compbench.errors.ConfigError` for bad input; writes nothing
    (call :meth:`ScoreReport.write`).
    """
    selected = _check_options(tokenizer, multi_ref, bootstrap, subtasks, data, references)
    if judge is not None:
        judge.check(data)
    preds = read_predictions(predictions)
    refs = load_release(data, split) if data is not None else load_reference_jsonl(references)
    rows, ignored = select_rows(refs, preds, selected, allow_missing, multi_ref, ids)
    if efficiency is None and method is not None and base_model is not None:
        efficiency = _efficiency_of(method, base_model)
    examples, distributions = _score_table(rows, tokenizer, multi_ref, seed, bootstrap, workers)
    subtask_metrics, family_metrics = aggregate(examples, distributions)
    add_language_checks(examples.column("subtask").to_pylist(), examples.column("prediction").to_pylist(),
                        subtask_metrics, family_metrics)
    judged = None
    if judge is not None:
        from compbench.judging import judge_scored

        judged = judge_scored(examples.to_pandas(), data, split, judge, seed, bootstrap, subtask_metrics,
                              family_metrics)

    inputs = {"predictions": InputFile(path=str(predictions), sha256=preds.sha256),
              "references": InputFile(path=refs.origin, sha256=refs.sha256)}
    results = Results(
        compbench_version=__version__,
        benchmark=Benchmark(release=str(data) if data is not None else "references", release_hash=refs.sha256,
                            split=split if data is not None else "references"),
        method=method, base_model=base_model, efficiency=efficiency or Efficiency(),
        scoring=ScoringSettings(tokenizer=tokenizer, multi_ref=multi_ref, seed=seed, bootstrap=bootstrap,
                                confidence=CONFIDENCE),
        subtasks=subtask_metrics, families=family_metrics, inputs=inputs, ignored_predictions=ignored,
        provenance=provenance(command or f"compbench.score({str(predictions)!r})"),
    )
    return ScoreReport(results=results, table=examples, judged=judged)


def _efficiency_of(method: str, base_model: str) -> Efficiency | None:
    """The method's inference passes and additional parameters/bytes on this base model, where both are known."""
    from compbench.efficiency import method_efficiency

    try:
        return method_efficiency(method, base_model)
    except ConfigError as exc:
        log.warning("efficiency not recorded: %s", exc)
        return None


def default_per_example_path(out: str | Path) -> Path:
    """``results.json`` -> ``results.examples.parquet``, beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.examples.parquet")


def write_report(report: ScoreReport, out: str | Path | None = None, per_example: str | Path | None = None) -> None:
    """Write per-example scores (Parquet) and results (JSON); with ``out`` alone, per-example goes beside it."""
    if per_example is None and out is not None:
        per_example = default_per_example_path(out)
    results = report.results
    if per_example is not None:
        per_example = Path(per_example)
        with atomic_path(per_example) as tmp:
            pq.write_table(report.table, tmp)
        if out is not None:
            try:
                relative = per_example.resolve().relative_to(Path(out).resolve().parent)
            except ValueError:
                relative = per_example.resolve()
            results = results.model_copy(update={"per_example": relative.as_posix()})
            report.results = results
    if out is not None:
        if report.judged is not None:
            from compbench.judging import results_verdicts_path, write_verdicts

            write_verdicts(report.judged.verdicts, results_verdicts_path(out))
        write_json(out, results.model_dump(mode="json"))
