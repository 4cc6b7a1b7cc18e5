"""`compbench score` and `compbench compare` end to end, through the CLI and the library."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from rouge_score import rouge_scorer

from compbench.cli import main
from compbench.scoring import score
from tests.support.release_factory import row, write_jsonl, write_release

REFS = {
    "d1": ["el gato duerme en la casa", "un gato duerme en casa", "el gato está dormido"],
    "d2": ["la niña come pan con queso", "una niña come pan", "la chica come"],
}
REPLIES = {"r1": "Oh sure, because Mondays are famous for their charm.", "r2": "Count me in, coffee is on me!"}


@pytest.fixture()
def release(tmp_path):
    rows = [row("sum+tr-es", sid, ref, index=i) for sid, refs in REFS.items() for i, ref in enumerate(refs)]
    rows += [row("reply+tone-witty", sid, ref) for sid, ref in REPLIES.items()]
    rows += [row("sum+tr-fr", "d1", "le chat dort à la maison")]
    return write_release(tmp_path / "release", rows), rows


@pytest.fixture()
def larger_release(tmp_path):
    """Enough examples per sub-task (12) for intervals to be reported."""
    words = "el gato come pan la niña duerme en casa hoy con su perro".split()
    rng = np.random.default_rng(1)
    rows = [row("sum+tr-es", f"d{i:02d}", " ".join(rng.choice(words, 6))) for i in range(12)]
    return write_release(tmp_path / "larger-release", rows), rows


def preds_for(rows, text_of=lambda r: "el gato duerme en la casa"):
    return [{"id": r["id"], "prediction": text_of(r)} for r in rows]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_score_release_faithful_mode_equals_rouge_score_mean(tmp_path, release):
    root, rows = release
    preds = write_jsonl(tmp_path / "p.jsonl", preds_for(rows))
    out = tmp_path / "results.json"
    result = invoke("score", preds, "--data", root, "--tokenizer", "compat", "--out", out, "--bootstrap", 200)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    sub = doc["subtasks"]["sum+tr-es"]
    assert sub["n"] == 6  # every (input, reference) row, as the paper's 1,500-row DialogSum test
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = np.mean([scorer.score(r, "el gato duerme en la casa")["rougeL"].fmeasure
                        for refs in REFS.values() for r in refs])
    assert sub["rougeL"] == pytest.approx(100 * expected, abs=1e-4)
    assert sub["main_metric"] == "rougeL" and sub["main"] == sub["rougeL"]
    assert set(doc["subtasks"]) == {"sum+tr-es", "sum+tr-fr", "reply+tone-witty"}
    assert doc["subtasks"]["reply+tone-witty"]["main_metric"] == "weighted_rouge"
    for key in ("n", "rouge1", "rouge2", "rouge3", "rougeL", "weighted_rouge"):
        assert key in sub
    fam = doc["families"]["sum+tr"]
    assert fam["subtasks"] == ["sum+tr-es", "sum+tr-fr"] and fam["complete"] is False
    assert fam["rougeL"] == pytest.approx((sub["rougeL"] + doc["subtasks"]["sum+tr-fr"]["rougeL"]) / 2, abs=1e-3)
    assert doc["scoring"] == {"tokenizer": "compat", "multi_ref": "each", "seed": 0, "bootstrap": 200,
                              "confidence": 0.95}
    assert len(doc["inputs"]["predictions"]["sha256"]) == 64 and len(doc["benchmark"]["release_hash"]) == 64
    assert doc["provenance"]["command"].startswith("compbench score")
    examples = pq.read_table(tmp_path / doc["per_example"]).to_pandas()
    assert len(examples) == 6 + 2 + 1
    assert "sum+tr-es" in result.output and "rougeL" in result.output


def test_multi_ref_max_scores_each_input_once_against_best(tmp_path, release):
    root, rows = release
    preds = write_jsonl(tmp_path / "p.jsonl", preds_for(rows))
    report = score(preds, data=str(root), subtasks=["sum+tr-es"], multi_ref="max", bootstrap=0)
    sub = report.results.subtasks["sum+tr-es"]
    assert sub.n == 2
    # d1's first reference equals the prediction: its best ROUGE-L is 100.
    best = report.examples.set_index("group")["rougeL"]
    assert max(best) == pytest.approx(1.0)
    assert report.results.ignored_predictions == 3


def test_references_jsonl_multi_reference(tmp_path):
    refs = write_jsonl(tmp_path / "refs.jsonl", [
        {"id": "x1", "subtask": "sum+tr-de", "reference": "Die Katze schläft"},
        {"id": "x1", "subtask": "sum+tr-de", "reference": "Eine Katze schläft im Haus"},
        {"id": "x2", "subtask": "sum+tr-de", "reference": "Der Hund bellt laut"},
    ])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "x1", "prediction": "Die Katze schläft"},
                                               {"id": "x2", "prediction": "Der Hund schläft"}])
    each = score(preds, references=refs, bootstrap=0)
    assert each.results.subtasks["sum+tr-de"].n == 3
    best = score(preds, references=refs, bootstrap=0, multi_ref="max")
    assert best.results.subtasks["sum+tr-de"].n == 2
    assert best.results.subtasks["sum+tr-de"].rougeL == pytest.approx(100 * (1.0 + 4 / 7) / 2, abs=1e-3)  # LCS 2 of 3 vs 4 tokens: F = 4/7


def test_json_output_and_same_seed_same_intervals(tmp_path, larger_release):
    root, rows = larger_release
    preds = write_jsonl(tmp_path / "p.jsonl", preds_for(rows, lambda r: "el gato come pan"))
    first = invoke("score", preds, "--data", root, "--json", "--seed", 5)
    second = invoke("score", preds, "--data", root, "--json", "--seed", 5)
    other = invoke("score", preds, "--data", root, "--json", "--seed", 6)
    a, b, c = (json.loads(r.output)["subtasks"]["sum+tr-es"]["ci"] for r in (first, second, other))
    assert a and a == b
    assert a != c


def test_allow_missing_scores_empty_and_reports_coverage(tmp_path, release):
    root, rows = release
    preds = write_jsonl(tmp_path / "p.jsonl", preds_for(rows[1:]))
    result = invoke("score", preds, "--data", root)
    assert result.exit_code == 2 and "no prediction" in result.output and "--allow-missing" in result.output
    report = score(preds, data=str(root), allow_missing=True, bootstrap=0)
    assert report.results.subtasks["sum+tr-es"].missing == 1
    assert report.examples["missing"].sum() == 1


def test_parquet_predictions(tmp_path, release):
    import pandas as pd

    root, rows = release
    path = tmp_path / "p.parquet"
    pd.DataFrame(preds_for(rows)).to_parquet(path)
    assert score(path, data=str(root), bootstrap=0).results.subtasks["sum+tr-es"].n == 6


def test_compare_paired(tmp_path, larger_release):
    root, rows = larger_release
    good = write_jsonl(tmp_path / "good.jsonl", preds_for(rows, lambda r: r["reference"]))
    bad = write_jsonl(tmp_path / "bad.jsonl", preds_for(rows, lambda r: "nada que ver"))
    for name, preds in (("a", good), ("b", bad)):
        assert invoke("score", preds, "--data", root, "--out", tmp_path / f"{name}.json").exit_code == 0
    result = invoke("compare", tmp_path / "a.json", tmp_path / "b.json", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    diff = doc["subtasks"]["sum+tr-es"]
    assert diff["difference"] == pytest.approx(diff["a"] - diff["b"], abs=1e-3)
    assert diff["a"] == pytest.approx(100.0) and diff["ci"]["low"] > 0
    assert diff["p_value"] < 0.05
    same = json.loads(invoke("compare", tmp_path / "a.json", tmp_path / "a.json", "--json").output)
    assert same["subtasks"]["sum+tr-es"]["difference"] == 0 and same["subtasks"]["sum+tr-es"]["p_value"] == 1.0
    assert set(doc["families"]) == {"sum+tr"} and doc["families"]["sum+tr"]["complete"] is False


def test_compare_refuses_mixed_tokenizers(tmp_path, release):
    root, rows = release
    preds = write_jsonl(tmp_path / "p.jsonl", preds_for(rows))
    invoke("score", preds, "--data", root, "--out", tmp_path / "u.json")
    invoke("score", preds, "--data", root, "--out", tmp_path / "c.json", "--tokenizer", "compat")
    result = invoke("compare", tmp_path / "u.json", tmp_path / "c.json")
    assert result.exit_code == 2 and "tokenizer" in result.output


def test_parallel_scoring_gives_the_same_document(tmp_path):
    rng = np.random.default_rng(0)
    words = "el gato come pan la niña duerme en casa hoy".split()
    refs, preds = [], []
    for subtask in ("sum+tr-es", "reply+tr-es", "sum+tone-witty"):
        for i in range(900):
            refs.append({"id": f"{subtask}-{i}", "subtask": subtask, "reference": " ".join(rng.choice(words, 8))})
            preds.append({"id": f"{subtask}-{i}", "prediction": " ".join(rng.choice(words, 6))})
    ref_path, pred_path = write_jsonl(tmp_path / "r.jsonl", refs), write_jsonl(tmp_path / "p.jsonl", preds)
    serial = score(pred_path, references=ref_path, workers=1, bootstrap=100)
    parallel = score(pred_path, references=ref_path, workers=2, bootstrap=100)
    assert serial.results.subtasks == parallel.results.subtasks
    assert serial.results.families == parallel.results.families
    assert serial.examples.equals(parallel.examples)


def test_best_per_group_picks_first_maximum():
    from compbench.metrics.subtask_jobs import best_per_group

    keep = best_per_group(["a", "a", "a", "b", "c", "c"], np.array([0.2, 0.5, 0.5, 0.1, 0.0, 0.3]))
    assert keep.tolist() == [1, 3, 5]


def test_quick_start_example_scores(tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "examples"
    report = score(examples / "predictions.jsonl", references=examples / "references.jsonl", bootstrap=50)
    assert report.results.subtasks["sum+tr-es"].n == 3  # ex-sum-es-1 has two references
    assert 0 < report.results.families["sum+tr"].main < 100


def test_method_and_base_model_record_efficiency(tmp_path, release):
    root, rows = release
    preds = write_jsonl(tmp_path / "p.jsonl", preds_for(rows))
    report = score(preds, data=str(root), bootstrap=0, method="lc", base_model="llama-3.2-1b")
    assert report.results.method == "lc" and report.results.base_model == "llama-3.2-1b"
    # LC on Llama 3.2 1B: one vector per module type, sum of output sizes = 2048+512+512+2048+8192+8192+2048.
    assert report.results.efficiency.inference_passes == 1
    assert report.results.efficiency.additional_params == 23_552
    assert report.results.efficiency.additional_bytes == 2 * 23_552
    unknown = score(preds, data=str(root), bootstrap=0, method="my-own-method", base_model="llama-3.2-1b")
    assert unknown.results.efficiency.additional_params is None


def test_bench_score_quick_runs_and_agrees():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_score", "--quick", "--bootstrap", "50"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    assert "ratio (naive / compbench)" in out
    assert "equal to rouge-score's: 875 of 875 pairs (agree)" in out
