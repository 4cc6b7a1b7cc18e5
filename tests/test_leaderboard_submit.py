"""`compbench submit` trusts nothing: every hostile submission is rejected (exit 2, one line saying why, the store
byte-identical) or, where it is only text, accepted and rendered inert in every format."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.leaderboard.site import build_leaderboard
from compbench.leaderboard.store import (
    ENTRIES_DIR,
    EXAMPLES_NAME,
    METADATA_NAME,
    PREDICTIONS_NAME,
    RESULTS_NAME,
    init_store,
    load_store,
)
from compbench.leaderboard.submit import submit
from tests.support.leaderboard_factory import make_release, snapshot, write_results_dir

SUBTASKS = ("sum+tr-es", "sum+tr-fr", "sum+tr-de")
BOOTSTRAP = 50
SCRIPT = "<script>alert('x')</script>"
MARKUP = '<img src=x onerror="alert(1)"> **bold** | pipe \\textbf{tex} $math$ [link](javascript:alert(1))'


@pytest.fixture()
def setup(tmp_path):
    """A store holding one entry (lc on qwen), and a valid results directory for linear on qwen."""
    release, rows = make_release(tmp_path / "release", subtasks=SUBTASKS)
    store = tmp_path / "store"
    init_store(store, str(release), bootstrap=BOOTSTRAP)
    first = write_results_dir(tmp_path / "first", release, rows, "lc", "qwen2.5-1.5b", lambda s: 3,
                              bootstrap=BOOTSTRAP)
    submit(first, store, workers=1)
    good = write_results_dir(tmp_path / "good", release, rows, "linear", "qwen2.5-1.5b", lambda s: 2,
                             bootstrap=BOOTSTRAP)
    return tmp_path, release, rows, store, first, good


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def reject(store, results_dir, expected, *extra):
    """Submit through the CLI: exit 2, one line on stderr that says why, the store and the submission unchanged."""
    before, submitted = snapshot(store), snapshot(results_dir) if not results_dir.is_symlink() else None
    result = invoke("submit", results_dir, "--store", store, "--workers", 1, *extra)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(expected, lines[0]), lines[0]
    assert "Traceback" not in result.output
    assert snapshot(store) == before, "a rejected submission changed the store"
    if submitted is not None:
        assert snapshot(results_dir) == submitted
    return lines[0]


def edit_json(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def test_a_valid_submission_is_accepted(setup):
    tmp_path, _, _, store, _, good = setup
    result = invoke("submit", good, "--store", store, "--workers", 1, "--json")
    assert result.exit_code == 0, result.output
    accepted = json.loads(result.stdout)
    entry = store / ENTRIES_DIR / accepted["entry"]
    assert sorted(p.name for p in entry.iterdir()) == sorted([METADATA_NAME, RESULTS_NAME, EXAMPLES_NAME,
                                                              PREDICTIONS_NAME])
    assert (entry / RESULTS_NAME).read_bytes() == (good / RESULTS_NAME).read_bytes()
    assert (entry / PREDICTIONS_NAME).read_bytes() == (good / PREDICTIONS_NAME).read_bytes()
    stored = pq.read_table(entry / EXAMPLES_NAME).to_pandas()
    assert stored["rougeL"].tolist() == pq.read_table(good / EXAMPLES_NAME).to_pandas()["rougeL"].tolist()
    assert [e.method for e in load_store(store).entries] == ["lc", "linear"]
    assert not [p for p in (store / ENTRIES_DIR).iterdir() if p.name.startswith(".")]  # no staging left


def _symlink_predictions(d, tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes((d / PREDICTIONS_NAME).read_bytes())
    (d / PREDICTIONS_NAME).unlink()
    os.symlink(outside, d / PREDICTIONS_NAME)


def _symlink_metadata(d, tmp_path):
    (d / METADATA_NAME).unlink()
    os.symlink("/etc/passwd", d / METADATA_NAME)


def _tamper_subtask(d, tmp_path):
    def change(doc):
        doc["subtasks"]["sum+tr-es"]["rougeL"] += 1.0
        doc["subtasks"]["sum+tr-es"]["main"] += 1.0
    edit_json(d / RESULTS_NAME, change)


def _tamper_family(d, tmp_path):
    edit_json(d / RESULTS_NAME, lambda doc: doc["families"]["sum+tr"].update(main=doc["families"]["sum+tr"]["main"]
                                                                             + 0.01))


def _tamper_interval(d, tmp_path):
    edit_json(d / RESULTS_NAME, lambda doc: doc["subtasks"]["sum+tr-fr"]["ci"]["rougeL"].update(high=99.99))


def _tamper_examples(d, tmp_path):
    table = pq.read_table(d / EXAMPLES_NAME).to_pandas()
    table.loc[0, "rouge1"] = 1.0 - table.loc[0, "rouge1"]
    import pyarrow as pa

    from compbench.schemas import PER_EXAMPLE_SCHEMA

    pq.write_table(pa.Table.from_pandas(table, schema=PER_EXAMPLE_SCHEMA, preserve_index=False), d / EXAMPLES_NAME)


def _drop_prediction(d, tmp_path):
    lines = (d / PREDICTIONS_NAME).read_text().splitlines()
    (d / PREDICTIONS_NAME).write_text("\n".join(lines[1:]) + "\n")


def _unknown_prediction(d, tmp_path):
    with open(d / PREDICTIONS_NAME, "a") as handle:
        handle.write(json.dumps({"id": "not/in/the/release", "prediction": "x"}) + "\n")


def _per_example_escape(d, tmp_path):
    edit_json(d / RESULTS_NAME, lambda doc: doc.update(per_example="../../../evil.parquet"))


def _per_example_absolute(d, tmp_path):
    edit_json(d / RESULTS_NAME, lambda doc: doc.update(per_example="/tmp/evil.parquet"))


def _meta(**fields):
    return lambda d, tmp_path: edit_json(d / METADATA_NAME, lambda doc: doc.update(fields))


def _unknown_method(d, tmp_path):
    edit_json(d / METADATA_NAME, lambda doc: doc.update(method="my-method"))
    edit_json(d / RESULTS_NAME, lambda doc: doc.update(method="my-method"))


def _unknown_subtask(d, tmp_path):
    edit_json(d / RESULTS_NAME, lambda doc: doc["subtasks"].update({"sum+tr-xx": doc["subtasks"]["sum+tr-es"]}))


def _wrong_hash(d, tmp_path):
    edit_json(d / RESULTS_NAME, lambda doc: doc["benchmark"].update(release_hash="0" * 64))


def _missing_file(d, tmp_path):
    (d / METADATA_NAME).unlink()


def _not_json(d, tmp_path):
    (d / RESULTS_NAME).write_text("{not json")


@pytest.mark.parametrize("mutate, expected", [
    (_symlink_predictions, r"predictions\.jsonl: is a symbolic link"),
    (_symlink_metadata, r"metadata\.json: is a symbolic link"),
    (_tamper_subtask, r"claimed scores differ .*sub-task sum\+tr-es main: claimed 51\.00, recomputed 50\.00"),
    (_tamper_family, r"claimed scores differ .*family sum\+tr main: claimed 50\.01, recomputed 50\.00"),
    (_tamper_interval, r"claimed scores differ .*sum\+tr-fr rougeL interval"),
    (_tamper_examples, r"results\.examples\.parquet: per-example rouge1 of id .* claimed .* recomputed"),
    (_drop_prediction, r"predictions\.jsonl: 1 example\(s\) have no prediction"),
    (_unknown_prediction, r"predictions\.jsonl:\d+: id 'not/in/the/release' is not in the references"),
    (_per_example_escape, r"results\.json: per_example must be 'results\.examples\.parquet'"),
    (_per_example_absolute, r"results\.json: per_example must be"),
    (_meta(link="javascript:alert(1)"), r"metadata\.json: not a valid EntryMetadata: .*link must be an http"),
    (_meta(link="https://example.org/" + SCRIPT), r"link must be an http"),
    (_meta(authors=["Eve\u202egnp.exe"]), r"control or bidirectional-override character"),
    (_meta(authors=["Line\nbreak"]), r"control or bidirectional-override character"),
    (_meta(date="yesterday"), r"date must be YYYY-MM-DD"),
    (_meta(authors=[]), r"authors"),
    (_meta(extra="field"), r"Extra inputs are not permitted"),
    (_meta(method="lc"), r"metadata\.json: method is 'lc' here but 'linear' in results\.json"),
    (_meta(base_model="llama-3.2-1b"), r"base_model is 'llama-3\.2-1b' here but 'qwen2\.5-1\.5b'"),
    (_unknown_method, r"unknown method 'my-method'"),
    (_unknown_subtask, r"unknown sub-task 'sum\+tr-xx'"),
    (_wrong_hash, r"scored against release sha256 000000000000, but the store holds release sha256"),
    (_missing_file, r"metadata\.json: missing"),
    (_not_json, r"results\.json: not a valid Results"),
])
def test_hostile_submissions_are_rejected(setup, mutate, expected):
    tmp_path, _, _, store, _, good = setup
    mutate(good, tmp_path)
    reject(store, good, expected)


def test_duplicates_are_rejected(setup):
    tmp_path, _, _, store, first, good = setup
    reject(store, first, r"duplicate: entry lc__qwen2\.5-1\.5b__\w+ already holds lc on qwen2\.5-1\.5b")
    renamed = tmp_path / "same-model-by-hub-id"
    shutil.copytree(first, renamed)
    for name in (METADATA_NAME, RESULTS_NAME):  # the same model under its Hub id is the same model
        edit_json(renamed / name, lambda doc: doc.update(base_model="Qwen/Qwen2.5-1.5B"))
    reject(store, renamed, r"duplicate: .* already holds lc on qwen2\.5-1\.5b")


def test_wrong_release_and_links_to_the_directory(setup):
    tmp_path, _, _, store, _, good = setup
    other, _ = make_release(tmp_path / "other", subtasks=("sum+tr-es",))
    reject(store, good, r"this release's manifest has sha256 \w+, but the store pins", "--data", other)
    link = tmp_path / "link-to-good"
    os.symlink(good, link)
    reject(store, link, r"expected a results directory \(not a symbolic link\)")
    reject(store, tmp_path / "nope", r"expected a results directory")


def test_scores_against_another_release_are_rejected(setup):
    """Results honestly scored against a different release do not match the store's pin."""
    tmp_path, _, _, store, _, _ = setup
    other, other_rows = make_release(tmp_path / "other", subtasks=SUBTASKS, n=5)
    d = write_results_dir(tmp_path / "elsewhere", other, other_rows, "ties", "qwen2.5-1.5b", lambda s: 1,
                          bootstrap=BOOTSTRAP)
    reject(store, d, r"scored against release sha256 \w+, but the store holds release sha256")


def test_a_store_without_a_release_refuses(tmp_path, setup):
    _, _, _, _, _, good = setup
    empty = tmp_path / "empty-store"
    reject(empty, good, r"store\.json: the store pins no release yet; run `compbench leaderboard init")
    assert not empty.exists()


HOSTILE_BASE_MODEL = "../../../tmp/" + SCRIPT
HOSTILE_AUTHORS = ["=HYPERLINK(\"https://evil.example\",\"click\")", SCRIPT, MARKUP]


def test_hostile_text_is_accepted_and_rendered_inert(setup):
    tmp_path, release, rows, store, _, _ = setup
    d = write_results_dir(tmp_path / "hostile", release, rows, "ties", HOSTILE_BASE_MODEL, lambda s: 1,
                          bootstrap=BOOTSTRAP, authors=HOSTILE_AUTHORS, description=SCRIPT + MARKUP)
    edit_json(d / RESULTS_NAME, lambda doc: doc["inputs"]["predictions"].update(path="/etc/passwd"))  # inert
    outside = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("store/")}
    accepted = submit(d, store, workers=1)
    assert re.fullmatch(r"ties__[a-z0-9.+_-]+__[0-9a-f]{8}", accepted.entry_id) and ".." not in accepted.entry_id
    assert accepted.path.parent == store / ENTRIES_DIR
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("store/")}
    assert after == outside, "accepting a submission wrote outside the store"

    site = build_leaderboard(store, tmp_path / "site")
    (slug,) = site.groups
    texts = {name: (site.out / name).read_text() for name in site.files if name.endswith((".md", ".csv", ".tex",
                                                                                          ".html", ".json"))}
    entries_md = texts[f"tables/{slug}/entries.md"]
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in entries_md
    assert r"\*\*bold\*\* \| pipe" in entries_md
    entries_tex = texts[f"tables/{slug}/entries.tex"]
    assert r"\textless{}script\textgreater{}" in entries_tex and r"\textbackslash{}textbf\{tex\} \$math\$" in entries_tex
    entries_csv = texts[f"tables/{slug}/entries.csv"]
    (row,) = [r for r in csv.DictReader(io.StringIO(entries_csv)) if r["Entry"] == accepted.entry_id]
    assert row["Authors"].startswith("'=HYPERLINK(")  # a spreadsheet shows it as text, never runs it
    assert row["Base model"] == HOSTILE_BASE_MODEL  # CSV is data: the text itself, quoted, never markup
    for name, text in texts.items():
        if name.endswith((".md", ".tex")):
            assert "<script" not in text and "<img" not in text, name
    html = texts["index.html"]
    assert html.count("<script") == 2  # the JSON data block and the page's own script; nothing injected
    assert "<img" not in html and "onerror=\"alert" not in html
    assert "\\u003cscript\\u003ealert('x')\\u003c/script\\u003e" in html  # inside the JSON payload
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html  # in the static tables
    assert "javascript:" not in html.replace("[link](javascript:alert(1))", "")
    table2 = texts[f"tables/{slug}/table2.md"]
    assert "../../../tmp/&lt;script&gt;" in table2  # the model name, in the notes, escaped


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_guards_every_formula_prefix(text):
    from compbench.leaderboard.render import csv_text

    assert csv_text(text).startswith("'")
    assert csv_text("Ada " + text) == "Ada " + " ".join(text.split())
