"""Scoring whole sub-tasks: per-example metrics, best-reference choice, bootstrap distribution.

One job is one sub-task. In one process, :func:`run_jobs` scores the pairs of all jobs in one vectorised call to
:func:`~compbench.metrics.rouge.score_pairs`, then finishes each sub-task. With several workers, each job (scoring
and bootstrap) runs in a worker process, and only arrays come back; jobs are handed out largest first
(longest-processing-time order), which keeps two or more workers evenly busy.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from compbench.metrics.bootstrap import subtask_bootstrap
from compbench.metrics.rouge import PARALLEL_THRESHOLD, default_workers, score_pairs


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
        """Characters to tokenize: what scoring time grows with."""
        return sum(map(len, self.predictions)) + sum(map(len, self.references))


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
        scores = score_pairs(job.predictions, job.references, job.tokenizer, workers=1)
    keep = np.arange(len(scores))
    if job.groups is not None:
        keep = best_per_group(job.groups, scores[:, job.main_index])
        scores = scores[keep]
    distribution = subtask_bootstrap(scores, job.seed, job.subtask, job.resamples) if job.resamples else None
    return SubtaskScores(keep=keep, scores=scores, distribution=distribution)


def run_jobs(jobs: list[SubtaskJob], workers: int | None = None) -> list[SubtaskScores]:
    """Run the jobs (in worker processes when it pays off); results in the jobs' order."""
    tokenizers = {job.tokenizer for job in jobs}
    if len(tokenizers) > 1:
        raise ValueError(f"jobs of one run must share a tokenizer, got {sorted(tokenizers)}")
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or sum(len(job.predictions) for job in jobs) < PARALLEL_THRESHOLD:
        return _run_in_process(jobs)
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


def _run_in_process(jobs: list[SubtaskJob]) -> list[SubtaskScores]:
    """All jobs' pairs scored in one vectorised call, then each job finished."""
    if not jobs:
        return []
    predictions = [p for job in jobs for p in job.predictions]
    references = [r for job in jobs for r in job.references]
    scores = score_pairs(predictions, references, jobs[0].tokenizer, workers=1)
    bounds = np.cumsum([0, *(len(job.predictions) for job in jobs)])
    return [run_job(job, scores[a:b]) for job, a, b in zip(jobs, bounds[:-1], bounds[1:], strict=True)]
