"""Known values for the bootstrap, chosen so that realistic bugs change the numbers sharply.

Each test names the bug it is there to catch: a comparison that is no longer paired (B resampled with its own
indices), resample indices that never draw the last example, and a family bootstrap that loses the alignment of
resamples across its sub-tasks. The intervals are recomputed here by hand from the documented contract (indices
from ``numpy.random.default_rng([seed, crc32(sub-task id)]).integers(0, n, (B, n))``, percentiles 2.5 / 97.5).
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compbench.compare import KEY_COLUMNS, compare
from compbench.metrics.bootstrap import (
    family_bootstrap,
    percentile_interval,
    resample_indices,
    subtask_bootstrap,
)
from compbench.schemas import METRIC_KEYS, PER_EXAMPLE_SCHEMA
from compbench.scoring import score
from tests.support.release_factory import write_jsonl

WORDS = "our train leaves at noon so pack the bags and bring some bread for the trip".split()


def by_hand_indices(seed: int, subtask: str, n: int, resamples: int) -> np.ndarray:
    return np.random.default_rng([seed, zlib.crc32(subtask.encode("utf-8"))]).integers(0, n, size=(resamples, n))


def by_hand_interval(per_resample: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(per_resample, [0.025, 0.975])
    return 100 * float(low), 100 * float(high)


def write_inputs(tmp_path, sizes: dict[str, int], seed: int = 0):
    """A references file and two prediction files (A and B) with ``sizes[subtask]`` examples each."""
    rng = np.random.default_rng(seed)
    refs, a, b = [], [], []
    for subtask, n in sizes.items():
        for i in range(n):
            row_id = f"{subtask}/{i:03d}"
            refs.append({"id": row_id, "subtask": subtask, "reference": " ".join(rng.choice(WORDS, 9))})
            a.append({"id": row_id, "prediction": " ".join(rng.choice(WORDS, 9))})
            b.append({"id": row_id, "prediction": " ".join(rng.choice(WORDS, 7))})
    return (write_jsonl(tmp_path / "refs.jsonl", refs), write_jsonl(tmp_path / "a.jsonl", a),
            write_jsonl(tmp_path / "b.jsonl", b))


def score_to(tmp_path, name, preds, refs, **options):
    report = score(preds, references=refs, **options)
    report.write(out=tmp_path / f"{name}.json")
    return tmp_path / f"{name}.json"


# ---------------------------------------------------------------- bug: compare no longer paired
def test_paired_interval_is_tight_where_an_unpaired_one_is_wide(tmp_path):
    """A = B + 0.01 on every example, with per-example values spread over [0, 1]: every paired resample of the
    differences is exactly 1 point, so the interval is [1, 1]; resampling A and B with different indices gives an
    interval about 11 points wide."""
    refs, preds_a, preds_b = write_inputs(tmp_path, {"sum+tr-es": 200})
    paths = {name: score_to(tmp_path, name, preds, refs, bootstrap=500)
             for name, preds in (("a", preds_a), ("b", preds_b))}
    b_values = np.random.default_rng(7).random(200)
    for name, values in (("a", b_values + 0.01), ("b", b_values)):
        examples_path = tmp_path / f"{name}.examples.parquet"
        table = pq.read_table(examples_path).to_pandas().sort_values(KEY_COLUMNS, kind="stable")
        table["rougeL"] = values
        pq.write_table(pa.Table.from_pandas(table, schema=PER_EXAMPLE_SCHEMA, preserve_index=False), examples_path)
    comparison = compare(paths["a"], paths["b"])
    for difference in (comparison.subtasks["sum+tr-es"], comparison.families["sum+tr"]):
        assert difference.difference == pytest.approx(1.0, abs=1e-9)
        assert difference.ci.low == pytest.approx(1.0, abs=1e-4) and difference.ci.high == pytest.approx(1.0, abs=1e-4)
        assert difference.p_value == pytest.approx(2 / 501)
    # What an unpaired bootstrap would give, to show that the test tells them apart.
    idx_a, idx_b = by_hand_indices(0, "sum+tr-es", 200, 500), by_hand_indices(1, "sum+tr-es", 200, 500)
    low, high = by_hand_interval((b_values + 0.01)[idx_a].mean(axis=1) - b_values[idx_b].mean(axis=1))
    assert high - low > 5


def test_compare_interval_equals_the_paired_computation_by_hand(tmp_path):
    refs, preds_a, preds_b = write_inputs(tmp_path, {"reply+tr-es": 40, "reply+tr-fr": 41, "reply+tr-de": 43})
    a = score_to(tmp_path, "a", preds_a, refs, bootstrap=300, seed=4)
    b = score_to(tmp_path, "b", preds_b, refs, bootstrap=300, seed=4)
    comparison = compare(a, b)
    ex_a = pq.read_table(tmp_path / "a.examples.parquet").to_pandas().sort_values(KEY_COLUMNS, kind="stable")
    ex_b = pq.read_table(tmp_path / "b.examples.parquet").to_pandas().sort_values(KEY_COLUMNS, kind="stable")
    per_subtask = []
    for subtask in ("reply+tr-es", "reply+tr-fr", "reply+tr-de"):
        da = ex_a.loc[ex_a["subtask"] == subtask, "weighted_rouge"].to_numpy()
        db = ex_b.loc[ex_b["subtask"] == subtask, "weighted_rouge"].to_numpy()
        idx = by_hand_indices(4, subtask, len(da), 300)
        resampled = np.array([(da[row] - db[row]).mean() for row in idx])  # the same rows of A and of B
        per_subtask.append(resampled)
        low, high = by_hand_interval(resampled)
        assert comparison.subtasks[subtask].ci.low == pytest.approx(low, abs=2e-4)
        assert comparison.subtasks[subtask].ci.high == pytest.approx(high, abs=2e-4)
    family = np.array([np.mean([d[r] for d in per_subtask]) for r in range(300)])  # resample r of each sub-task
    low, high = by_hand_interval(family)
    assert comparison.families["reply+tr"].ci.low == pytest.approx(low, abs=2e-4)
    assert comparison.families["reply+tr"].ci.high == pytest.approx(high, abs=2e-4)


# ---------------------------------------------------------------- bug: the last example is never drawn
def test_resample_indices_cover_every_example():
    for n in (1, 2, 3, 10):
        idx = resample_indices(0, "sum+tr-es", n, 2000)
        assert idx.shape == (2000, n) and idx.min() == 0 and idx.max() == n - 1
        assert np.array_equal(idx, by_hand_indices(0, "sum+tr-es", n, 2000))


def test_an_interval_sees_the_last_example(tmp_path):
    """Ten examples, only the last scores 1: roughly a third of the resamples miss it and 97.5% of them hold it at
    most 3 times, so the interval is [0, 30]; indices that never reach the last example would give [0, 0]."""
    refs = [{"id": f"x{i}", "subtask": "sum+tr-fr", "reference": f"le train part à midi {i}"} for i in range(10)]
    preds = [{"id": f"x{i}", "prediction": "nada" if i < 9 else f"le train part à midi {i}"} for i in range(10)]
    report = score(write_jsonl(tmp_path / "p.jsonl", preds), references=write_jsonl(tmp_path / "r.jsonl", refs),
                   bootstrap=1000)
    ci = report.results.subtasks["sum+tr-fr"].ci["rougeL"]
    assert report.examples["rougeL"].tolist() == [0.0] * 9 + [1.0]
    assert ci.low == 0.0 and ci.high == pytest.approx(30.0)
    assert subtask_bootstrap(np.array([0.0] * 9 + [1.0]), 0, "sum+tr-fr", 1000).max() > 0


# ---------------------------------------------------------------- bug: family resamples misaligned
def test_family_resample_r_is_the_mean_of_each_subtasks_resample_r():
    rng = np.random.default_rng(2)
    per_subtask = {s: rng.random((50, 5)) for s in ("x", "y", "z")}
    family = family_bootstrap(per_subtask)
    for r in range(50):
        assert np.allclose(family[r], np.mean([per_subtask[s][r] for s in per_subtask], axis=0), rtol=0, atol=1e-15)


def test_misaligned_family_resamples_change_the_interval():
    """Two sub-tasks whose resample means move in opposite directions: aligned, the family value is the same in
    every resample (an interval of width 0); sorted or shuffled independently, it spreads over most of [0, 999]."""
    up = np.arange(1000, dtype=float)
    down = up[::-1].copy()
    family = family_bootstrap({"x": up, "y": down})
    assert np.all(family == 499.5)
    low, high = percentile_interval(family)
    assert low == high == 499.5


def test_score_family_interval_equals_the_aligned_computation_by_hand(tmp_path):
    refs, preds, _ = write_inputs(tmp_path, {"sum+tone-casual": 30, "sum+tone-witty": 33, "sum+tone-paraphrase": 35})
    report = score(preds, references=refs, bootstrap=400, seed=9)
    examples = report.examples
    per_subtask = []
    for subtask in ("sum+tone-casual", "sum+tone-witty", "sum+tone-paraphrase"):
        values = examples.loc[examples["subtask"] == subtask, "rougeL"].to_numpy()
        per_subtask.append(np.array([values[row].mean() for row in by_hand_indices(9, subtask, len(values), 400)]))
        low, high = by_hand_interval(per_subtask[-1])
        assert report.results.subtasks[subtask].ci["rougeL"].low == pytest.approx(low, abs=2e-4)
        assert report.results.subtasks[subtask].ci["rougeL"].high == pytest.approx(high, abs=2e-4)
    low, high = by_hand_interval(np.mean(per_subtask, axis=0))
    family = report.results.families["sum+tone"]
    assert family.ci["rougeL"].low == pytest.approx(low, abs=2e-4)
    assert family.ci["rougeL"].high == pytest.approx(high, abs=2e-4)
    assert set(family.ci) == set(METRIC_KEYS)


def test_compare_reads_the_documents_it_was_given(tmp_path):
    refs, preds_a, _ = write_inputs(tmp_path, {"sum+tr-de": 12})
    a = score_to(tmp_path, "a", preds_a, refs, bootstrap=100)
    assert json.loads(a.read_text())["per_example"] == "a.examples.parquet"
    assert compare(a, a).subtasks["sum+tr-de"].difference == 0.0
