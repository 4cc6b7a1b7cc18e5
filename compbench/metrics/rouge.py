"""Per-example ROUGE-1/2/3/L F-measures (rouge-score) and weighted ROUGE, scored in parallel processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from rouge_score import rouge_scorer

from compbench.metrics.tokenizers import get_tokenizer
from compbench.schemas import METRIC_KEYS

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rouge3", "rougeL")

METRIC_DESCRIPTIONS: dict[str, str] = {
    "rouge1": "ROUGE-1 F-measure (unigram overlap)",
    "rouge2": "ROUGE-2 F-measure (bigram overlap)",
    "rouge3": "ROUGE-3 F-measure (trigram overlap)",
    "rougeL": "ROUGE-L F-measure (longest common subsequence, no sentence splitting)",
    "weighted_rouge": "Weighted ROUGE (Zhang et al. 2021): ROUGE-1/6 + ROUGE-2/3 + ROUGE-3/2, F-measures",
}

# Below this many pairs, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 2_000


def weighted_rouge(rouge1: float | np.ndarray, rouge2: float | np.ndarray, rouge3: float | np.ndarray):
    """Weighted ROUGE of the paper's Eq. (2): R1/6 + R2/3 + R3/2 (inputs and output on the same scale)."""
    return rouge1 / 6 + rouge2 / 3 + rouge3 / 2


def make_scorer(tokenizer: str) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=get_tokenizer(tokenizer))


def _score_serial(predictions: Sequence[str], references: Sequence[str], tokenizer: str) -> np.ndarray:
    scorer = make_scorer(tokenizer)
    out = np.empty((len(predictions), len(METRIC_KEYS)), dtype=np.float64)
    for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        scores = scorer.score(reference, prediction)  # rouge-score's argument order: (target, prediction)
        for j, key in enumerate(ROUGE_TYPES):
            out[i, j] = scores[key].fmeasure
    out[:, 4] = weighted_rouge(out[:, 0], out[:, 1], out[:, 2])
    return out


def _score_chunk(args: tuple[list[str], list[str], str]) -> np.ndarray:
    return _score_serial(*args)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def score_pairs(
    predictions: Sequence[str], references: Sequence[str], tokenizer: str = "unicode", workers: int | None = None
) -> np.ndarray:
    """Score each (prediction, reference) pair; returns an ``(n, 5)`` array in :data:`METRIC_KEYS` order.

    Values are rouge-score F-measures in [0, 1]. With ``workers > 1`` and enough pairs, the pairs are split into
    contiguous chunks scored in worker processes; the result is identical to the serial loop.
    """
    if len(predictions) != len(references):
        raise ValueError("predictions and references differ in length")
    make_scorer(tokenizer)  # fail early on an unknown tokenizer, in this process
    workers = default_workers() if workers is None else max(1, workers)
    n = len(predictions)
    if workers == 1 or n < PARALLEL_THRESHOLD:
        return _score_serial(predictions, references, tokenizer)
    # A few chunks per worker balances uneven text lengths without much pickling overhead.
    n_chunks = workers * 4
    bounds = np.linspace(0, n, n_chunks + 1, dtype=int)
    chunks = [
        (list(predictions[a:b]), list(references[a:b]), tokenizer)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a
    ]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        parts = list(pool.map(_score_chunk, chunks))
    return np.concatenate(parts, axis=0)
