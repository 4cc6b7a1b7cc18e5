"""Per-example ROUGE-1/2/3/L F-measures, equal (==) to rouge-score's, computed for many pairs at once; weighted ROUGE.

rouge-score scores one pair at a time in Python (``collections.Counter`` n-grams, an O(m·n) LCS table in
Python lists), which makes scoring slow. Here the texts of a call are tokenized with the same tokenizer, the
tokens of each pair get small integer ids (equal tokens, equal ids), n-gram overlaps are counted for all pairs
together with numpy, and the LCS lengths come from RapidFuzz's compiled ``LCSseq`` on the id lists. The F-measures are then computed with the operations
and operands of rouge-score's ``_score_ngrams`` / ``_score_lcs`` / ``scoring.fmeasure`` in the same order, so they
are identical floats; ``tests/test_rouge_exact.py`` checks that against ``rouge_scorer.RougeScorer.score`` on
thousands of random pairs, and ``docs/scoring.md`` has the measurements behind this choice.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import chain

import numpy as np
from rapidfuzz.distance import LCSseq

from compbench.metrics.tokenizers import get_tokenizer
from compbench.schemas import METRIC_KEYS

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rouge3", "rougeL")
NGRAM_ORDERS: tuple[int, ...] = (1, 2, 3)  # the n of rouge1..rouge3, in METRIC_KEYS order

METRIC_DESCRIPTIONS: dict[str, str] = {
    "rouge1": "ROUGE-1 F-measure (unigram overlap)",
    "rouge2": "ROUGE-2 F-measure (bigram overlap)",
    "rouge3": "ROUGE-3 F-measure (trigram overlap)",
    "rougeL": "ROUGE-L F-measure (longest common subsequence, no sentence splitting)",
    "weighted_rouge": "Weighted ROUGE (Zhang et al. 2021): ROUGE-1/6 + ROUGE-2/3 + ROUGE-3/2, F-measures",
}

# Below this many pairs, starting worker processes costs more than it saves (docs/scoring.md, "Speed").
PARALLEL_THRESHOLD = 2_000


def weighted_rouge(rouge1: float | np.ndarray, rouge2: float | np.ndarray, rouge3: float | np.ndarray):
    """Weighted ROUGE of the paper's Eq. (2): R1/6 + R2/3 + R3/2 (inputs and output on the same scale)."""
    return rouge1 / 6 + rouge2 / 3 + rouge3 / 2


def _fmeasure(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """``rouge_score.scoring.fmeasure``, element-wise: same operations in the same order, 0.0 where P + R = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 2 * precision * recall / (precision + recall)
    return np.where(precision + recall > 0, f, 0.0)


def _encode(predictions: Sequence[str], references: Sequence[str], tokenizer: str
            ) -> tuple[list[list[int]], list[list[int]], np.ndarray]:
    """Each pair's tokens as small integer ids, numbered per pair: within a pair, equal tokens (``==``, as
    rouge-score compares them) get equal ids. Returns the references' and the predictions' id lists and, per pair,
    how many distinct tokens it has (its ids are ``0 .. that - 1``)."""
    tokenize = get_tokenizer(tokenizer).tokenize
    refs, preds, sizes = [], [], []
    for prediction, reference in zip(predictions, references, strict=True):
        local: dict[str, int] = {}
        number = local.setdefault
        refs.append([number(t, len(local)) for t in tokenize(reference)])
        preds.append([number(t, len(local)) for t in tokenize(prediction)])
        sizes.append(len(local))
    return refs, preds, np.asarray(sizes, dtype=np.int64)


def _ngram_overlaps(refs: list[list[int]], preds: list[list[int]], sizes: np.ndarray) -> dict[int, np.ndarray]:
    """For each n of :data:`NGRAM_ORDERS`: per pair, sum over n-grams of min(count in reference, in prediction).

    Unigrams are numbered densely by (pair, token id). An n-gram is numbered by (its first (n-1)-gram's number, its
    last token id), through one sort, so that equal n-grams of one pair share a number across its two texts and
    n-grams of different pairs never do. An n-gram can only be in both texts if the two (n-1)-grams it is made of
    are, so only those positions are numbered: the others add 0 to the sums.
    """
    n_pairs = len(sizes)
    encoded = refs + preds
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    ids = np.fromiter(chain.from_iterable(encoded), np.int64, int(lengths.sum()))
    pair = np.repeat(np.tile(np.arange(n_pairs, dtype=np.int64), 2), lengths)
    side = np.repeat(np.arange(2 * n_pairs) >= n_pairs, lengths).astype(np.int64)  # 1: prediction
    remaining = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(ids))  # tokens from here to the text's end
    width = max(int(sizes.max(initial=0)), 1)  # every token id is below it
    overlaps: dict[int, np.ndarray] = {}

    def tally(n: int, starts: np.ndarray, number: np.ndarray, pair_of_number: np.ndarray) -> np.ndarray:
        """Record the n-gram overlaps; return which positions start an n-gram that is in both texts."""
        counts = np.bincount(2 * number + side[starts], minlength=2 * len(pair_of_number))
        shared = np.minimum(counts[0::2], counts[1::2])
        overlaps[n] = np.bincount(pair_of_number, weights=shared, minlength=n_pairs)
        shared_at = np.zeros(len(ids) + 1, dtype=bool)  # one past the end: never shared
        shared_at[starts] = shared[number] > 0
        return shared_at

    starts = np.arange(len(ids))
    number_at = (np.cumsum(sizes) - sizes)[pair] + ids  # unigrams: the pair's offset + the token id
    pair_of_number = np.repeat(np.arange(n_pairs, dtype=np.int64), sizes)
    shared_at = tally(1, starts, number_at, pair_of_number)
    for n in NGRAM_ORDERS[1:]:  # n-grams whose two (n-1)-grams are shared: (first's number, last id) -> number
        starts = starts[(remaining[starts] >= n) & shared_at[starts]]
        starts = starts[shared_at[starts + 1]]
        uniques, number = np.unique(number_at[starts] * width + ids[starts + n - 1], return_inverse=True)
        number = number.reshape(-1)
        pair_of_number = pair_of_number[uniques // width]
        shared_at = tally(n, starts, number, pair_of_number)
        number_at = np.full(len(ids), -1, dtype=np.int64)
        number_at[starts] = number
    return overlaps


def _score_serial(predictions: Sequence[str], references: Sequence[str], tokenizer: str) -> np.ndarray:
    n = len(predictions)
    refs, preds, sizes = _encode(predictions, references, tokenizer)
    ref_len = np.fromiter(map(len, refs), np.int64, n)
    pred_len = np.fromiter(map(len, preds), np.int64, n)
    out = np.empty((n, len(METRIC_KEYS)), dtype=np.float64)
    for j, (order, overlap) in enumerate(_ngram_overlaps(refs, preds, sizes).items()):
        # rouge-score: intersection / max(count, 1) on each side, counts of n-grams = max(len - n + 1, 0).
        precision = overlap / np.maximum(pred_len - order + 1, 1)
        recall = overlap / np.maximum(ref_len - order + 1, 1)
        out[:, j] = _fmeasure(precision, recall)
    lcs = np.fromiter((LCSseq.similarity(r, p) for r, p in zip(refs, preds, strict=True)), np.float64, n)
    # rouge-score: 0 if either side has no token, else LCS / len on each side (an LCS of 0 gives 0 either way).
    out[:, 3] = _fmeasure(lcs / np.maximum(pred_len, 1), lcs / np.maximum(ref_len, 1))
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

    Values are rouge-score's F-measures in [0, 1], equal to ``RougeScorer(ROUGE_TYPES, tokenizer=...).score(
    reference, prediction)`` (``compat``: rouge-score's default tokenizer). With ``workers > 1`` and at least
    :data:`PARALLEL_THRESHOLD` pairs, contiguous chunks are scored in worker processes; the result is the same.
    """
    if len(predictions) != len(references):
        raise ValueError("predictions and references differ in length")
    get_tokenizer(tokenizer)  # fail early on an unknown tokenizer, in this process
    workers = default_workers() if workers is None else max(1, workers)
    n = len(predictions)
    if workers == 1 or n < PARALLEL_THRESHOLD:
        return _score_serial(predictions, references, tokenizer)
    bounds = np.linspace(0, n, workers + 1, dtype=int)
    chunks = [(list(predictions[a:b]), list(references[a:b]), tokenizer)
              for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        parts = list(pool.map(_score_chunk, chunks))
    return np.concatenate(parts, axis=0)
