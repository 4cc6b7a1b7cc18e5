"""Leaderboard tables from a store of results with known scores (made by the real scorer, accepted by submit)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from compbench.compare import compare
from compbench.efficiency import method_efficiency
from compbench.leaderboard.layouts import group_tables, groups_of, paper_tables
from compbench.leaderboard.paper import paper_reference
from compbench.leaderboard.render import to_csv, to_latex, to_markdown
from compbench.leaderboard.site import build_leaderboard
from compbench.leaderboard.stats import Bootstrap, tied
from compbench.leaderboard.store import RESULTS_NAME, init_store, load_store
from compbench.leaderboard.submit import submit
from compbench.methods import METHODS
from compbench.schemas import JudgeMetrics, Results
from compbench.tasks import MAIN_FAMILIES, family_metric
from tests.support.leaderboard_factory import make_release, write_results_dir

QWEN, LLAMA = "qwen2.5-1.5b", "llama-3.2-1b"
SUM_TR = ("sum+tr-es", "sum+tr-fr")
# method -> model -> examples right in every block of BLOCK = 4 (N_EXAMPLES = 20 per sub-task): scores are 25 * k
# on every metric.
PLAN = {
    "zero-shot": {QWEN: 0, LLAMA: 0},
    "linear": {QWEN: 1, LLAMA: 3},  # 25 and 75: the average over the two models is 50
    "dare": {QWEN: 4},  # one model of two: partial
    "multi-step": {QWEN: 4, LLAMA: 4},  # the same per-example scores as lc++: tied with it
    "lc": {QWEN: 3, LLAMA: 3},
    "lc++": {QWEN: 4, LLAMA: 4},
    "lc-no-lora": {QWEN: 2, LLAMA: 2},  # two of sum+tr's three sub-tasks only: partial family
}
BOOTSTRAP = 200


def _with_judge(results_dir, score: float) -> None:
    """An LLM-J score for sum+tr, as the judge would add it (the leaderboard shows it as submitted)."""
    path = results_dir / RESULTS_NAME
    doc = Results.model_validate_json(path.read_text())
    doc.families["sum+tr"].judge = JudgeMetrics(model="judge-model", prompt_version="a1", n=24, score=score)
    path.write_text(doc.model_dump_json(indent=2))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("board")
    release, rows = make_release(tmp / "release")
    store = tmp / "store"
    init_store(store, str(release), bootstrap=BOOTSTRAP)
    dirs = {}
    for method, per_model in PLAN.items():
        for model, k in per_model.items():
            subtasks = SUM_TR if method == "lc-no-lora" else None
            d = write_results_dir(tmp / "runs" / f"{method}-{model}", release, rows, method, model,
                                  lambda s, k=k: k, subtasks=subtasks, bootstrap=BOOTSTRAP)
            if method == "lc":
                _with_judge(d, 40.0 if model == QWEN else 60.0)
            submit(d, store, workers=1)
            dirs[(method, model)] = d
    site = build_leaderboard(store, tmp / "site")
    return store, site, dirs


def _tables(store):
    (group,) = groups_of(load_store(store))
    return group, {t.id: t for t in group_tables(group)}


def test_table2_golden(built):
    store, site, _ = built
    (slug,) = site.groups
    text = (site.out / "tables" / slug / "table2.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows == [
        "| Method | Sum. + translation R-L | Sum. + translation LLM-J | Sum. + tone adj. R-L | Reply + translation W-R"
        " | Reply + tone adj. W-R |",
        "| *Baselines* |  |  |  |  |  |",
        "| Zero-shot | 0.00 [0.00, 0.00] | – | 0.00 [0.00, 0.00] | 0.00 [0.00, 0.00] | 0.00 [0.00, 0.00] |",
        "| *Merges of the single-task LoRAs* |  |  |  |  |  |",
        "| Linear merge | 50.00 [39.98, 58.33] | – | 50.00 [43.73, 58.75] | 50.00 [41.67, 58.35] | 50.00 "
        "[42.50, 56.89] |",
        "| DARE merge | 100.00 † | – | 100.00 † | 100.00 † | 100.00 † |",
        "| *Inefficient baselines* |  |  |  |  |  |",
        "| Multi-step LoRA usage | **100.00** [100.00, 100.00] | – | **100.00** [100.00, 100.00] | **100.00** "
        "[100.00, 100.00] | **100.00** [100.00, 100.00] |",
        "| *Learnable Calibration* |  |  |  |  |  |",
        # LC differs from the leader on one example in four: with 20 examples per sub-task, a resample that
        # misses all of them has probability (3/4)**(20 * sub-tasks), so the paired interval excludes 0.
        "| Learnable Calibration | 75.00 [63.33, 85.00] | 50.00 | 75.00 [66.25, 83.75] | 75.00 [64.96, 85.00] "
        "| 75.00 [65.00, 83.75] |",
        "| Learnable Calibration++ | 100.00 [100.00, 100.00] ≈ | – | 100.00 [100.00, 100.00] ≈ | 100.00 "
        "[100.00, 100.00] ≈ | 100.00 [100.00, 100.00] ≈ |",
    ]
    assert "- Settings: release sha256 " in text and "tokenizer unicode, multi-ref each." in text
    assert f"- Averaged over base models ({LLAMA}, {QWEN}) and languages or tones." in text
    assert "†: partial" in text and "≈: tied with the leader" in text
    assert "- LLM-J: judge-model (prompt a1), as the results report it (not recomputed, not ranked)." in text


def test_family_average_over_models_and_subtasks_is_known(built):
    store, _, _ = built
    group, tables = _tables(store)
    table2 = tables["table2"]
    rows = {r.key: r for r in table2.rows}
    for family in MAIN_FAMILIES:
        key = f"{family}:{family_metric(family)}"
        assert rows["linear"].cell(key).value == pytest.approx(50.0)
        assert rows["lc"].cell(key).value == pytest.approx(75.0)
        assert rows["dare"].cell(key).partial and not rows["dare"].cell(key).leader
        assert rows["dare"].cell(key).ci is None
    assert "lc-no-lora" not in rows  # an ablation: Table 4
    table4 = {r.key: r for r in tables["table4"].rows}
    cell = table4["lc-no-lora"].cell("sum+tr:rougeL")
    assert cell.partial and cell.value == pytest.approx(50.0)  # 2 of 3 sub-tasks: never complete
    assert table4["lc-no-lora"].cell("sum+tone:rougeL").value is None
    assert [r.key for r in tables["table4"].rows] == ["lc", "lc-no-lora", "lc++"]  # the paper's Table 4 order


def test_per_model_and_per_subtask_breakdowns(built):
    store, _, _ = built
    _, tables = _tables(store)
    qwen = {r.key: r for r in tables[f"model-{QWEN}"].rows}
    assert qwen["linear"].cell("sum+tr:rougeL").value == pytest.approx(25.0)
    assert not qwen["dare"].cell("sum+tr:rougeL").partial  # complete for the one model of this table
    llama = {r.key: r for r in tables[f"model-{LLAMA}"].rows}
    assert llama["linear"].cell("sum+tr:rougeL").value == pytest.approx(75.0)
    assert "dare" not in llama
    per_language = tables["subtasks-sum-tr"]
    assert [c.title for c in per_language.columns] == ["Spanish R-L", "French R-L", "German R-L"]
    rows = {r.key: r for r in per_language.rows}
    assert rows["lc-no-lora"].cell("sum+tr-de:rougeL").value is None
    assert rows["lc-no-lora"].cell("sum+tr-es:rougeL").value == pytest.approx(50.0)
    assert not rows["lc-no-lora"].cell("sum+tr-es:rougeL").partial  # that sub-task is complete on both models
    tones = tables["subtasks-reply-tone"]
    assert [c.title for c in tones.columns] == ["professional W-R", "casual W-R", "witty W-R", "paraphrase W-R"]
    assert {r.key: r for r in tables["table6"].rows}["lc"].cell("sum+tone+tr:rougeL").value == pytest.approx(75.0)
    ood = {r.key: r for r in tables["table5"].rows}["linear"]
    assert ood.cell("sum+tr-es:rougeL").value == ood.cell("samsum+sum+tr-es:rougeL").value == pytest.approx(50.0)


def test_efficiency_table_is_computed_from_the_registry(built):
    store, _, _ = built
    _, tables = _tables(store)
    rows = {r.key: r for r in tables["table3"].rows}
    assert rows["multi-step"].cell("passes").value == 2
    expected = [method_efficiency("lc", m).additional_params for m in (LLAMA, QWEN)]
    assert expected == [23_552, 23_040]  # sum of d_out over q, k, v, o, gate, up, down
    assert rows["lc"].cell("params").value == pytest.approx(23_296)
    assert not rows["lc"].cell("params").declared
    text = to_markdown(tables["table3"])
    assert "| Learnable Calibration | 1x | 23.3K | 0.04 |" in text


def test_difference_from_the_paper(built):
    store, _, _ = built
    _, tables = _tables(store)
    diff = {r.key: r for r in tables["vs-paper-table2"].rows}
    assert diff["lc"].cell("sum+tr:rougeL").value == pytest.approx(75.0 - 25.40)
    assert diff["lc"].cell("sum+tr:judge").value == pytest.approx(50.0 - 59.23)
    assert diff["dare"].cell("sum+tr:rougeL").partial
    notes = " ".join(tables["vs-paper-table2"].notes)
    assert "The base models differ from the paper's" in notes and "not reproduced here" in notes
    assert "| Learnable Calibration | +49.60 | -9.23 |" in to_markdown(tables["vs-paper-table2"])


def test_ties_are_the_paired_bootstrap_of_compare(built):
    """For one model the tie test's interval is exactly `compbench compare`'s family interval (same indices)."""
    store, _, dirs = built
    loaded = load_store(store)
    entries = {(e.method, e.model): e for e in loaded.entries}
    boot = Bootstrap(0, BOOTSTRAP)
    a, b = entries[("linear", LLAMA)], entries[("lc", LLAMA)]
    tree = lambda e: [[(e, s.id) for s in _family_tasks("sum+tr")]]  # noqa: E731
    sa, sb = boot.score(tree(a)), boot.score(tree(b))
    from compbench.metrics.bootstrap import percentile_interval

    low, high = percentile_interval(sa.distribution - sb.distribution)
    comparison = compare(dirs[("linear", LLAMA)] / RESULTS_NAME, dirs[("lc", LLAMA)] / RESULTS_NAME)
    assert comparison.families["sum+tr"].ci.low == pytest.approx(round(low, 4), abs=1e-4)
    assert comparison.families["sum+tr"].ci.high == pytest.approx(round(high, 4), abs=1e-4)
    assert tied(sa, sb) == (low <= 0 <= high)
    same = boot.score(tree(entries[("multi-step", LLAMA)]))
    assert tied(same, boot.score(tree(entries[("lc++", LLAMA)])))


def _family_tasks(family):
    from compbench.tasks import tasks_in_family

    return tasks_in_family(family)


def test_linear_interval_is_the_scorers(built):
    """A single-model cell's interval equals the one `compbench score` wrote for that family (seed 0)."""
    store, _, dirs = built
    _, tables = _tables(store)
    row = {r.key: r for r in tables[f"model-{LLAMA}"].rows}["linear"]
    doc = Results.model_validate_json((dirs[("linear", LLAMA)] / RESULTS_NAME).read_text())
    ci = doc.families["reply+tone"].ci["weighted_rouge"]
    low, high = row.cell("reply+tone:weighted_rouge").ci
    assert (round(low, 2), round(high, 2)) == (round(ci.low, 2), round(ci.high, 2))


def test_csv_and_latex(built):
    store, _, _ = built
    _, tables = _tables(store)
    table2 = tables["table2"]
    rows = list(csv.reader(io.StringIO(to_csv(table2))))
    header = rows[0]
    assert header[:4] == ["block", "Method", "Sum. + translation R-L", "Sum. + translation R-L CI low"]
    by_label = {r[1]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_label["Linear merge"]["Sum. + translation R-L"] == "50.00"
    assert by_label["DARE merge"]["Sum. + translation R-L mark"] == "partial"
    assert by_label["Learnable Calibration++"]["Sum. + translation R-L mark"] == "tied"
    assert by_label["Multi-step LoRA usage"]["Sum. + translation R-L mark"] == "leader"
    tex = to_latex(table2)
    assert r"\multicolumn{2}{c}{Sum. + translation}" in tex
    assert r"Multi-step LoRA usage & \textbf{100.00} {\scriptsize [100.00, 100.00]}" in tex
    assert r"DARE merge & 100.00$^{\dagger}$" in tex
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    assert tex.count("{") == tex.count("}")


def test_paper_reference_rows_render_with_the_papers_numbers():
    tables = {t.id: t for t in paper_tables()}
    table2 = to_markdown(tables["paper-table2"])
    assert "| Learnable Calibration++ | 28.64 | 65.15 | 26.96 | 34.34 | 12.14 | 63.81 | 13.54 | 45.40 |" in table2
    assert "| Zero-shot | 7.49 | 0.44 | 13.93 | 6.52 | 2.03 | 4.11 | 3.53 | 33.66 |" in table2
    assert "reported by the paper, not reproduced here" in table2
    a1 = to_markdown(tables["paper-tableA1"])
    assert "| DAM/ZipLoRA merge | 20.38 | 4.38 | 16.19 | 20.36 | 4.14 | 15.68 | 4.62 | 8.00 |" in a1
    assert "| Joint-expert LoRA | 1x | 30M | 57.10 |" in to_markdown(tables["paper-table3"])
    table4 = to_markdown(tables["paper-table4"])
    assert "| Shared LC++ w/o LoRAs | 17.70 | 35.66 | 21.53 | 16.28 | 9.51 | 54.79 | 10.90 | 42.17 |" in table4
    assert "| Multi-step LoRA usage | 21.71 | 75.51 | 26.81 | 76.35 |" in to_markdown(tables["paper-table5"])
    table6 = to_markdown(tables["paper-table6"])
    assert "| Translation LoRA | 10.95 | 0.00 |" in table6 and "| Tone adj. LoRA | 8.39 | 0.01 |" in table6
    assert all(t.source == "paper" for t in tables.values())


def test_paper_reference_is_consistent():
    """Typing checks: Table 4 repeats Table 2's calibration rows; every row names a registry method."""
    ref = paper_reference()
    t2 = {r.method: r.scores for r in ref.table("table2").rows}
    t4 = {r.method: r.scores for r in ref.table("table4").rows}
    for method in ("lc", "lc++", "lc-shared", "lc++-shared"):
        assert t4[method] == t2[method]
    assert list(t2) == [m for m in METHODS if METHODS[m].block != "ablation"]  # Table 2 is the registry's order
    assert set(ref.models) == {"llama-3.2-1b", "qwen2.5-1.5b", "stablelm-2-1.6b"}


def test_settings_never_share_a_table(tmp_path):
    """Results scored with another tokenizer form their own group: own tables, own settings line."""
    release, rows = make_release(tmp_path / "release", subtasks=("sum+tr-es",))
    store = tmp_path / "store"
    init_store(store, str(release), bootstrap=50)
    a = write_results_dir(tmp_path / "a", release, rows, "lc", QWEN, lambda s: 2, bootstrap=50)
    submit(a, store, workers=1)
    b = tmp_path / "b"
    b.mkdir()
    from compbench.scoring import score

    for name in ("predictions.jsonl", "metadata.json"):
        (b / name).write_bytes((a / name).read_bytes())
    scored = sorted(json.loads((a / RESULTS_NAME).read_text())["subtasks"])
    score(b / "predictions.jsonl", data=str(release), method="lc", base_model=QWEN, tokenizer="compat",
          bootstrap=50, workers=1, subtasks=scored).write(out=b / RESULTS_NAME)
    submit(b, store, workers=1)  # same method and model, other settings: not a duplicate
    site = build_leaderboard(store, tmp_path / "site")
    assert len(site.groups) == 2 and {g.split("-")[-2] for g in site.groups} == {"unicode", "compat"}
    for slug in site.groups:
        text = (site.out / "tables" / slug / "table2.md").read_text()
        tokenizer = slug.split("-")[-2]
        assert f"tokenizer {tokenizer}, multi-ref each" in text
        assert text.count("| Learnable Calibration |") == 1


def test_build_is_deterministic_and_all_or_nothing(built, tmp_path):
    store, site, _ = built
    again = build_leaderboard(store, tmp_path / "again")
    assert again.files == site.files
    for name in site.files:
        assert (site.out / name).read_bytes() == (again.out / name).read_bytes(), name
    assert {"index.html", "leaderboard.json", "figures/pareto-paper.png", "figures/pareto-paper.svg"} <= set(
        site.files)
    document = json.loads((site.out / "leaderboard.json").read_text())
    assert document["generator"] == "compbench leaderboard" and len(document["groups"]) == 1


def test_build_refuses_to_replace_a_foreign_directory(tmp_path):
    from compbench.errors import ConfigError

    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not written by"):
        build_leaderboard(tmp_path / "store", foreign)
    assert (foreign / "keep.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


def test_empty_store_builds_the_paper_tables(tmp_path):
    report = build_leaderboard(tmp_path / "nothing-here", tmp_path / "site")
    assert report.entries == 0 and report.groups == []
    assert (tmp_path / "site" / "tables" / "paper" / "paper-table2.md").is_file()
    assert not (tmp_path / "nothing-here").exists()  # reading a store writes nothing into it


def test_names_from_results_never_make_paths():
    from compbench.leaderboard.store import SettingsKey, model_slug

    slug = SettingsKey("../../etc/passwd", "../test", "unicode", "each").slug
    assert "/" not in slug and not slug.startswith(".") and slug.startswith("e")  # hex digits of the hash only
    assert model_slug("a/b") != model_slug("a-b") and "/" not in model_slug("../../x")
    assert model_slug(QWEN) == QWEN


def test_too_few_examples_give_values_but_no_interval_and_no_tie(tmp_path):
    """The scorer's small-sample rule: below MIN_N_FOR_INTERVAL examples a cell shows its value only."""
    from compbench.metrics.bootstrap import MIN_N_FOR_INTERVAL

    release, rows = make_release(tmp_path / "release", subtasks=SUM_TR, n=MIN_N_FOR_INTERVAL - 1)
    store = tmp_path / "store"
    init_store(store, str(release), bootstrap=BOOTSTRAP)
    for method in ("multi-step", "lc++"):  # identical per-example scores: tied, if an interval existed
        submit(write_results_dir(tmp_path / method, release, rows, method, QWEN, lambda s: 4, bootstrap=BOOTSTRAP),
               store, workers=1)
    (group,) = groups_of(load_store(store))
    table2 = {t.id: t for t in group_tables(group)}["table2"]
    for key in ("multi-step", "lc++"):
        cell = {r.key: r for r in table2.rows}[key].cell("sum+tr:rougeL")
        assert cell.value == pytest.approx(100.0) and cell.partial  # two of three sub-tasks
    bootstrap = Bootstrap(0, BOOTSTRAP)
    entries = {e.method: e for e in load_store(store).entries}
    scores = [bootstrap.score([[(entries[m], s) for s in SUM_TR]]) for m in ("multi-step", "lc++")]
    assert all(s.complete and s.value == pytest.approx(100.0) and s.ci is None for s in scores)
    assert not tied(*scores)
