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
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from compbench import __version__
from compbench.errors import ConfigError, InputError
from compbench.fileio import atomic_path, write_json
from compbench.metrics.bootstrap import family_bootstrap, percentile_interval
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

log = logging.getLogger(__name__)

MULTI_REF_MODES = ("each", "max")
CONFIDENCE = 0.95


@dataclass
class ScoreReport:
    """The results document and the per-example table it summarises."""

    results: Results
    examples: pd.DataFrame

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


def _select(refs: ReferenceSet, preds: Predictions, subtasks: list[str] | None,
            allow_missing: bool, multi_ref: str, ids: Collection[str] | None = None) -> tuple[pd.DataFrame, int]:
    """The reference rows to score, with their predictions; checks ids both ways."""
    table = refs.table
    known = set(table["id"].tolist())
    unknown = [pid for pid in preds.by_id if pid not in known]
    if unknown:
        first = unknown[0]
        raise InputError(f"id {first!r} is not in the references {refs.origin} ({len(unknown)} unknown id"
                         f"{'s' if len(unknown) > 1 else ''})", preds.path, preds.where(first))
    if ids is not None:
        table = table[table["id"].isin(set(ids))]
    ids = table["id"].tolist()
    row_subtasks = table["subtask"].tolist()
    if subtasks is None:
        subtasks = sorted({s for s, i in zip(row_subtasks, ids, strict=True) if i in preds.by_id})
    else:
        absent = [s for s in subtasks if s not in set(row_subtasks)]
        if absent:
            raise ConfigError(f"sub-task {absent[0]!r} has no references in {refs.origin}")
    chosen = set(subtasks)
    table = table[np.fromiter((s in chosen for s in row_subtasks), bool, len(row_subtasks))]
    table = table.sort_values(["subtask", "group", "reference_index", "id"], kind="stable").reset_index(drop=True)
    ids = table["id"].tolist()
    ignored = len(set(preds.by_id) - set(ids))
    if multi_ref == "max":
        # The group's prediction is that of its first row that has one; the group is missing if none has.
        source: dict[str, str] = {}
        for group, row_id in zip(table["group"].tolist(), ids, strict=True):
            if row_id in preds.by_id:
                source.setdefault(group, row_id)
        ids = [source.get(g, i) for g, i in zip(table["group"].tolist(), ids, strict=True)]
        table["id"] = ids
    table["missing"] = [i not in preds.by_id for i in ids]
    missing = table[table["missing"]]
    if len(missing) and not allow_missing:
        first = missing.iloc[0]
        raise InputError(f"{missing['group'].nunique() if multi_ref == 'max' else len(missing)} reference(s) have "
                         f"no prediction (first: id {first['id']!r} of {first['subtask']}); pass --allow-missing "
                         f"to score them as empty predictions", preds.path)
    table["prediction"] = [preds.by_id.get(i, "") for i in ids]
    return table, ignored


def _score_table(table: pd.DataFrame, tokenizer: str, multi_ref: str, seed: int, resamples: int,
                 workers: int | None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Per-example metrics for every row (best reference per group with ``max``) and bootstrap distributions."""
    positions = table.groupby("subtask", sort=False).indices  # sub-task -> row positions, in table order
    predictions, references = table["prediction"].tolist(), table["reference"].tolist()
    groups = table["group"].tolist()
    order = [s for s in REGISTRY if s in positions]  # registry order, as the paper's tables
    jobs = [SubtaskJob(
        subtask=subtask, predictions=[predictions[i] for i in positions[subtask]],
        references=[references[i] for i in positions[subtask]],
        groups=[groups[i] for i in positions[subtask]] if multi_ref == "max" else None,
        main_index=METRIC_KEYS.index(REGISTRY[subtask].metric), tokenizer=tokenizer, seed=seed,
        resamples=resamples) for subtask in order]
    results = run_jobs(jobs, workers)
    kept = np.concatenate([positions[job.subtask][result.keep] for job, result in zip(jobs, results, strict=True)])
    examples = table.iloc[kept].reset_index(drop=True)
    scores = np.concatenate([result.scores for result in results], axis=0)
    for j, key in enumerate(METRIC_KEYS):
        examples[key] = scores[:, j]
    distributions = {job.subtask: result.distribution for job, result in zip(jobs, results, strict=True)
                     if result.distribution is not None}
    return examples[[f.name for f in PER_EXAMPLE_SCHEMA]], distributions


def _interval(low: np.ndarray, high: np.ndarray) -> dict[str, Interval]:
    return {key: Interval(low=round(100 * float(lo), 4), high=round(100 * float(hi), 4))
            for key, lo, hi in zip(METRIC_KEYS, low, high, strict=True)}


def _means(values: np.ndarray) -> dict[str, float]:
    return {key: round(100 * float(v), 4) for key, v in zip(METRIC_KEYS, values, strict=True)}


def aggregate(examples: pd.DataFrame, distributions: dict[str, np.ndarray]
              ) -> tuple[dict[str, SubtaskMetrics], dict[str, FamilyMetrics]]:
    """Per-sub-task exact means and intervals, then family averages with stratified intervals (percent)."""
    subtask_metrics: dict[str, SubtaskMetrics] = {}
    means: dict[str, np.ndarray] = {}
    for subtask, rows in examples.groupby("subtask", sort=False):
        values = rows[list(METRIC_KEYS)].to_numpy(dtype=np.float64)
        means[subtask] = values.mean(axis=0)
        ci = _interval(*percentile_interval(distributions[subtask], CONFIDENCE)) if distributions else {}
        metric = REGISTRY[subtask].metric
        stats = _means(means[subtask])
        subtask_metrics[subtask] = SubtaskMetrics(n=len(rows), missing=int(rows["missing"].sum()),
                                                  main_metric=metric, main=stats[metric], ci=ci, **stats)
    family_metrics: dict[str, FamilyMetrics] = {}
    for family in dict.fromkeys(REGISTRY[s].family for s in subtask_metrics):
        members = [t.id for t in tasks_in_family(family) if t.id in subtask_metrics]
        metric = REGISTRY[members[0]].metric
        stats = _means(np.mean([means[s] for s in members], axis=0))
        ci = {}
        if distributions:
            ci = _interval(*percentile_interval(family_bootstrap({s: distributions[s] for s in members}),
                                                CONFIDENCE))
        family_metrics[family] = FamilyMetrics(
            subtasks=members, complete=len(members) == len(tasks_in_family(family)), main_metric=metric,
            main=stats[metric], ci=ci, **stats)
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
    ids: Collection[str] | None = None,
) -> ScoreReport:
    """Score a predictions file against a release (``data``: directory or Hub id) or a references file.

    ``ids`` restricts scoring to these reference rows (an evaluation run with ``--limit``). Raises
    :class:`~compbench.errors.InputError` / :class:`~compbench.errors.ConfigError` for bad input; writes nothing
    (call :meth:`ScoreReport.write`).
    """
    selected = _check_options(tokenizer, multi_ref, bootstrap, subtasks, data, references)
    preds = read_predictions(predictions)
    refs = load_release(data, split) if data is not None else load_reference_jsonl(references)
    table, ignored = _select(refs, preds, selected, allow_missing, multi_ref, ids)
    if efficiency is None and method is not None and base_model is not None:
        efficiency = _efficiency_of(method, base_model)
    examples, distributions = _score_table(table, tokenizer, multi_ref, seed, bootstrap, workers)
    subtask_metrics, family_metrics = aggregate(examples, distributions)

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
    return ScoreReport(results=results, examples=examples)


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
        table = pa.Table.from_pandas(report.examples, schema=PER_EXAMPLE_SCHEMA, preserve_index=False)
        with atomic_path(per_example) as tmp:
            pq.write_table(table, tmp)
        if out is not None:
            try:
                relative = per_example.resolve().relative_to(Path(out).resolve().parent)
            except ValueError:
                relative = per_example.resolve()
            results = results.model_copy(update={"per_example": relative.as_posix()})
            report.results = results
    if out is not None:
        write_json(out, results.model_dump(mode="json"))
