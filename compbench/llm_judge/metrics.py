"""From verdicts to judge scores: share of 1s among parsed answers, with the scorer's bootstrap.

A sub-task's interval uses the scorer's resample indices (``compbench.metrics.bootstrap``: seeded by the seed and
the sub-task, over all ``n`` examples), so two systems judged with one seed share resamples, as their ROUGE
scores do. In each resample the score is (1s drawn) / (parsed answers drawn); unparseable and failed answers are
left out of the score, never counted as 0, and reported as counts. A family's score is the unweighted mean of its
sub-task scores (as the paper averages over languages or tones), its interval stratified like ROUGE's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from compbench.metrics.bootstrap import family_bootstrap, percentile_interval, subtask_bootstrap
from compbench.schemas import Interval, JudgeMetrics
from compbench.tasks import REGISTRY, tasks_in_family

OK, UNPARSEABLE, FAILED = "ok", "unparseable", "failed"


def _ratio(draws: np.ndarray) -> np.ndarray:
    """Per resample: mean of 1s / mean of parsed (NaN where a resample drew no parsed answer)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return draws[:, 0] / draws[:, 1]


def _interval(distribution: np.ndarray, confidence: float) -> Interval | None:
    finite = distribution[np.isfinite(distribution)]
    if not len(finite):
        return None
    low, high = percentile_interval(finite, confidence)
    return Interval(low=round(100 * float(low), 4), high=round(100 * float(high), 4))


def subtask_judge(verdicts: pd.DataFrame, subtask: str, model: str, prompt_version: str, seed: int,
                  resamples: int, confidence: float) -> tuple[JudgeMetrics, float | None, np.ndarray | None]:
    """Judge metrics of one sub-task from its rows' ``verdict`` (0, 1 or missing) and ``status`` columns, with
    the unrounded score (a share) and the bootstrap distribution."""
    status = verdicts["status"].to_numpy()
    parsed = status == OK
    ones = parsed & (verdicts["verdict"].fillna(0).to_numpy() == 1)
    n, n_parsed = len(verdicts), int(parsed.sum())
    share = float(ones.sum()) / n_parsed if n_parsed else None
    distribution = None
    if resamples and n_parsed:
        values = np.stack([ones, parsed], axis=1).astype(np.float64)
        distribution = _ratio(subtask_bootstrap(values, seed, subtask, resamples))
    metrics = JudgeMetrics(model=model, prompt_version=prompt_version, n=n,
                           unparseable=int((status == UNPARSEABLE).sum()), failed=int((status == FAILED).sum()),
                           score=round(100 * share, 4) if share is not None else None,
                           ci=_interval(distribution, confidence) if distribution is not None else None)
    return metrics, share, distribution


def judge_scores(verdicts: pd.DataFrame, model: str, prompt_version: str, seed: int, resamples: int,
                 confidence: float = 0.95) -> tuple[dict[str, JudgeMetrics], dict[str, JudgeMetrics]]:
    """Per sub-task (registry order) and per family judge metrics from a verdict table."""
    subtasks: dict[str, JudgeMetrics] = {}
    shares: dict[str, float | None] = {}
    distributions: dict[str, np.ndarray | None] = {}
    by_subtask = dict(tuple(verdicts.groupby("subtask", sort=False)))
    for subtask in (s for s in REGISTRY if s in by_subtask):
        subtasks[subtask], shares[subtask], distributions[subtask] = subtask_judge(
            by_subtask[subtask], subtask, model, prompt_version, seed, resamples, confidence)
    families: dict[str, JudgeMetrics] = {}
    for family in dict.fromkeys(REGISTRY[s].family for s in subtasks):
        members = [t.id for t in tasks_in_family(family) if t.id in subtasks]
        member_shares = [shares[s] for s in members]
        complete = all(s is not None for s in member_shares)
        ci = None
        if complete and all(distributions[s] is not None for s in members):
            ci = _interval(family_bootstrap({s: distributions[s] for s in members}), confidence)
        families[family] = JudgeMetrics(
            model=model, prompt_version=prompt_version, n=sum(subtasks[s].n for s in members),
            unparseable=sum(subtasks[s].unparseable for s in members),
            failed=sum(subtasks[s].failed for s in members),
            score=round(100 * float(np.mean(member_shares)), 4) if complete else None, ci=ci)
    return subtasks, families
