"""What scoring and comparing promise beyond the numbers: no sub-task dropped silently, no family average over a
different set of sub-tasks than each side was scored on, no interval shown where too few examples back it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.compare import compare
from compbench.metrics.bootstrap import MIN_N_FOR_INTERVAL, RELIABLE_N
from compbench.scoring import score
from tests.support.release_factory import row, write_jsonl, write_release

WORDS = "the report moved to friday because everyone wanted more time for lunch and coffee".split()


def sentences(n: int, seed: int, length: int = 8) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, length)) for _ in range(n)]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def three_languages(tmp_path):
    """A release with the whole sum+tr family, 30 inputs per language (enough for an unflagged interval)."""
    rows = [row(subtask, f"s{i:02d}", text)
            for k, subtask in enumerate(("sum+tr-es", "sum+tr-fr", "sum+tr-de"))
            for i, text in enumerate(sentences(30, seed=k))]
    return write_release(tmp_path / "release", rows), rows


def predictions(tmp_path, name, rows, seed):
    hyp = sentences(len(rows), seed)
    return write_jsonl(tmp_path / f"{name}.jsonl", [{"id": r["id"], "prediction": h} for r, h in zip(rows, hyp, strict=True)])


# ------------------------------------------------------------------------------------------ missing sub-tasks
def test_a_subtask_without_any_prediction_is_an_error(tmp_path, three_languages):
    root, rows = three_languages
    preds = predictions(tmp_path, "p", [r for r in rows if r["subtask"] != "sum+tr-de"], seed=9)
    out = tmp_path / "out" / "results.json"
    result = invoke("score", preds, "--data", root, "--out", out)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {preds}")
    assert "sum+tr-de" in lines[0] and "sum+tr-es" not in lines[0]
    assert "--subtask" in lines[0] and "--allow-missing" in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_missing_subtask_is_an_error_with_a_references_file_too(tmp_path):
    refs = write_jsonl(tmp_path / "refs.jsonl", [
        {"id": "a", "subtask": "reply+tr-es", "reference": "claro que sí"},
        {"id": "b", "subtask": "reply+tr-fr", "reference": "bien sûr"},
    ])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prediction": "claro"}])
    result = invoke("score", preds, "--references", refs)
    assert result.exit_code == 2 and "reply+tr-fr" in result.output and "--allow-missing" in result.output


def test_narrowing_or_allow_missing_scores_it(tmp_path, three_languages):
    root, rows = three_languages
    preds = predictions(tmp_path, "p", [r for r in rows if r["subtask"] != "sum+tr-de"], seed=9)
    narrowed = score(preds, data=str(root), subtasks=["sum+tr-es", "sum+tr-fr"], bootstrap=0)
    assert set(narrowed.results.subtasks) == {"sum+tr-es", "sum+tr-fr"}
    assert narrowed.results.families["sum+tr"].complete is False
    allowed = invoke("score", preds, "--data", root, "--allow-missing", "--bootstrap", 50,
                     "--out", tmp_path / "r.json")
    assert allowed.exit_code == 0, allowed.output
    doc = json.loads((tmp_path / "r.json").read_text())
    de = doc["subtasks"]["sum+tr-de"]
    assert de["n"] == de["missing"] == 30 and de["main"] == 0.0
    assert doc["families"]["sum+tr"]["complete"] is True and doc["families"]["sum+tr"]["missing"] == 30
    assert "sum+tr-de" in allowed.output and "(no predictions)" in allowed.output


# ------------------------------------------------------------------------------------ compare: family subsets
@pytest.fixture()
def scored_pair(tmp_path, three_languages):
    """A scored on all three languages, B on two (narrowed with --subtask)."""
    root, rows = three_languages
    for name, seed, narrow in (("a", 1, []), ("b", 2, ["--subtask", "sum+tr-es", "--subtask", "sum+tr-fr"])):
        preds = predictions(tmp_path, name, rows if not narrow else [r for r in rows if r["subtask"] != "sum+tr-de"],
                            seed)
        result = invoke("score", preds, "--data", root, "--out", tmp_path / f"{name}.json", "--bootstrap", 200, *narrow)
        assert result.exit_code == 0, result.output
    return tmp_path / "a.json", tmp_path / "b.json"


def test_compare_marks_a_family_averaged_over_a_shared_subset(scored_pair):
    a, b = scored_pair
    doc_a, doc_b = (json.loads(p.read_text()) for p in (a, b))
    comparison = compare(a, b)
    family = comparison.families["sum+tr"]
    assert family.shared_subset is True and family.subtasks == ["sum+tr-es", "sum+tr-fr"]
    # Each side's own average, exactly as its results file reports it, beside the shared-subset one.
    assert family.a_reported == doc_a["families"]["sum+tr"]["main"]
    assert family.b_reported == doc_b["families"]["sum+tr"]["main"]
    assert family.a_subtasks == ["sum+tr-es", "sum+tr-fr", "sum+tr-de"] and family.b_subtasks == family.subtasks
    shared_a = np.mean([doc_a["subtasks"][s]["main"] for s in family.subtasks])
    assert family.a == pytest.approx(shared_a, abs=1e-3) and family.a != family.a_reported
    assert comparison.only_in_a == ["sum+tr-de"] and comparison.only_in_b == []
    assert "shared" in family.warnings[0] and f"{family.a_reported:.2f}" in family.warnings[0]
    table = invoke("compare", a, b).output
    assert "[sum+tr] (shared subset)" in table and "not compared (scored in A only): sum+tr-de" in table
    assert f"{family.a_reported:.2f}" in table and f"{family.b_reported:.2f}" in table


def test_compare_of_the_same_sets_reports_each_sides_own_averages(tmp_path, scored_pair):
    a, _ = scored_pair
    doc = json.loads(a.read_text())
    comparison = compare(a, a)
    family = comparison.families["sum+tr"]
    assert family.shared_subset is False and family.a_reported is None and family.warnings == []
    assert family.a == family.b == doc["families"]["sum+tr"]["main"]  # the same number, not a recomputed one
    for subtask, difference in comparison.subtasks.items():
        assert difference.a == doc["subtasks"][subtask]["main"]


# ------------------------------------------------------------------------------------------------ small n
def small_references(tmp_path, sizes: dict[str, int]):
    lines, preds = [], []
    for k, (subtask, n) in enumerate(sizes.items()):
        for i, (ref, hyp) in enumerate(zip(sentences(n, seed=k), sentences(n, seed=k + 50), strict=True)):
            lines.append({"id": f"{subtask}/{i}", "subtask": subtask, "reference": ref})
            preds.append({"id": f"{subtask}/{i}", "prediction": hyp})
    return write_jsonl(tmp_path / "refs.jsonl", lines), write_jsonl(tmp_path / "preds.jsonl", preds)


def test_small_n_withholds_or_flags_the_interval(tmp_path):
    refs, preds = small_references(tmp_path, {"reply+tr-es": 1, "reply+tr-fr": 12, "reply+tr-de": 40})
    out = tmp_path / "r.json"
    result = invoke("score", preds, "--references", refs, "--out", out)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    one, twelve, forty = (doc["subtasks"][s] for s in ("reply+tr-es", "reply+tr-fr", "reply+tr-de"))
    assert one["ci"] == {} and "n=1" in one["warnings"][0] and "none reported" in one["warnings"][0]
    assert twelve["ci"] and f"fewer than {RELIABLE_N}" in twelve["warnings"][0]
    assert forty["ci"] and forty["warnings"] == []
    family = doc["families"]["reply+tr"]
    assert family["ci"] == {} and any("reply+tr-es: n=1" in w for w in family["warnings"])
    assert "(no interval) !" in result.output and "! reply+tr-es: n=1" in result.output


def test_small_n_in_compare_gives_no_p_value(tmp_path):
    refs, preds = small_references(tmp_path, {"reply+tr-es": 1, "reply+tr-fr": MIN_N_FOR_INTERVAL})
    alt = write_jsonl(tmp_path / "alt.jsonl", [{"id": line["id"], "prediction": "more time for coffee"}
                                               for line in map(json.loads, refs.read_text().splitlines())])
    for name, p in (("a", preds), ("b", alt)):
        assert invoke("score", p, "--references", refs, "--out", tmp_path / f"{name}.json").exit_code == 0
    comparison = compare(tmp_path / "a.json", tmp_path / "b.json")
    one, ten = comparison.subtasks["reply+tr-es"], comparison.subtasks["reply+tr-fr"]
    assert one.ci is None and one.p_value is None and "n=1" in one.warnings[0]
    assert ten.ci is not None and ten.p_value is not None and ten.warnings
    assert comparison.families["reply+tr"].p_value is None
    table = invoke("compare", tmp_path / "a.json", tmp_path / "b.json").output
    assert "(none)" in table and "p 0.0020" not in table
