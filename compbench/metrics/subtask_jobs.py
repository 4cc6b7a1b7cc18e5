"""Scoring whole sub-tasks in worker processes: per-example metrics, best-reference choice, bootstrap.

One job is one sub-task, so the bootstrap runs in the workers too, and only arrays come back. Jobs are handed out
largest first (longest-processing-time order), which keeps two or more workers evenly busy.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from compbench.metrics.bootstrap import subtask_bootstrap
from compbench.metrics.rouge import PARALLEL_THRESHOLD, _score_serial, default_workers, score_pairs


@dataclass
class SubtaskJob:
    subtask: str
    predictions: list[str]
    references: list[str]
    groups: list[str] | None  # set for best-reference scoring; rows of a group are contiguous
    main_index: int  # column of the main metric, to choose the best reference
    tokenizer: str
    seed: int
    resamples: int

    @property
    def cost(self) -> int:
        return sum(len(p) * len(r) for p, r in zip(self.predictions, self.references, strict=True))


@dataclass
class SubtaskScores:
    keep: np.ndarray  # positions of the job's rows that were kept (all, or the best reference per group)
    scores: np.ndarray  # (len(keep), 5)
    distribution: np.ndarray | None  # (resamples, 5) bootstrap means, or None without resampling


def best_per_group(groups: Sequence[str], main: np.ndarray) -> np.ndarray:
    """Position of the highest ``main`` in each run of equal ``groups`` (the first on ties)."""
    keep: list[int] = []
    start = 0
    for i in range(1, len(groups) + 1):
        if i == len(groups) or groups[i] != groups[start]:
            keep.append(start + int(np.argmax(main[start:i])))
            start = i
    return np.asarray(keep, dtype=np.int64)


def run_job(job: SubtaskJob, scores: np.ndarray | None = None) -> SubtaskScores:
    """Score one sub-task (or finish it from ``scores`` already computed for its rows)."""
    if scores is None:
        scores = _score_serial(job.predictions, job.references, job.tokenizer)
    keep = np.arange(len(scores))
    if job.groups is not None:
        keep = best_per_group(job.groups, scores[:, job.main_index])
        scores = scores[keep]
    distribution = subtask_bootstrap(scores, job.seed, job.subtask, job.resamples) if job.resamples else None
    return SubtaskScores(keep=keep, scores=scores, distribution=distribution)


def run_jobs(jobs: list[SubtaskJob], workers: int | None = None) -> list[SubtaskScores]:
    """Run the jobs (in worker processes when it pays off); results in the jobs' order."""
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or sum(len(j.predictions) for j in jobs) < PARALLEL_THRESHOLD:
        return [run_job(job) for job in jobs]
    if len(jobs) < workers:  # too few sub-tasks to keep the workers busy: split each one's pairs instead
        return [run_job(job, score_pairs(job.predictions, job.references, job.tokenizer, workers)) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].cost)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                             mp_context=multiprocessing.get_context(method)) as pool:
        done = list(pool.map(run_job, [jobs[i] for i in order]))
    results: list[SubtaskScores] = [None] * len(jobs)  # type: ignore[list-item]
    for i, result in zip(order, done, strict=True):
        results[i] = result
    return results
