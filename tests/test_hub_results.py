"""``compbench push-results`` and ``pull-results`` against the Hub stand-in: one entry per results directory,
a store that mirrors the repository's layout, and every file checked against the entry's metadata."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from compbench.fileio import sha256_file
from compbench.hub import read_entry
from compbench.schemas import ENTRY_FILES, EntryMetadata, Results
from tests.support.hub_checks import assert_token_nowhere, error_line, hub_debug_log, invoke, release_rows
from tests.support.release_factory import write_jsonl, write_release


@pytest.fixture
def results_dir(tmp_path):
    """What an evaluation run leaves: predictions.jsonl, results.json and results.examples.parquet."""
    return make_results(tmp_path, "run", method="lc")


def make_results(tmp_path, name, method, prediction="el gato duerme"):
    release = tmp_path / "release"
    if not release.exists():
        write_release(release, release_rows())
    run = tmp_path / name
    run.mkdir()
    preds = write_jsonl(run / "predictions.jsonl", [{"id": r["id"], "prediction": prediction}
                                                    for r in release_rows() if r["split"] == "test"])
    result = invoke("score", preds, "--data", release, "--out", run / "results.json", "--bootstrap", 20,
                    "--workers", 1, "--method", method, "--base-model", "llama-3.2-1b")
    assert result.exit_code == 0, result.output
    return run


def entry_paths(commit):
    return sorted(commit.added)


def test_push_then_pull_round_trip(hub, tmp_path, results_dir, monkeypatch):
    with hub_debug_log(monkeypatch) as log:
        pushed = invoke("push-results", results_dir, "--repo-id", "bench/results")
    assert pushed.exit_code == 0, pushed.output
    [commit] = hub.commits
    entry = f"lc__llama-3.2-1b__{sha256_file(results_dir / 'results.json')[:12]}"
    assert entry_paths(commit) == ["README.md", *sorted(f"entries/{entry}/{name}" for name in
                                                       (*ENTRY_FILES, "metadata.json"))]
    for name in ENTRY_FILES:
        assert commit.added[f"entries/{entry}/{name}"] == (results_dir / name).read_bytes()
    metadata = EntryMetadata.model_validate_json(commit.added[f"entries/{entry}/metadata.json"])
    results = Results.model_validate_json((results_dir / "results.json").read_text())
    assert metadata.entry == entry and metadata.method == "lc" and metadata.base_model == "llama-3.2-1b"
    assert metadata.release_hash == results.benchmark.release_hash and metadata.tokenizer == "unicode"
    assert metadata.files == {name: sha256_file(results_dir / name) for name in ENTRY_FILES}

    store = tmp_path / "store"
    with hub_debug_log(monkeypatch) as pull_log:
        pulled = invoke("pull-results", "--repo-id", "bench/results", "--out", store)
    assert pulled.exit_code == 0, pulled.output
    assert f"+ {entry}" in pulled.output and "1 new" in pulled.output
    stored = store / "entries" / entry
    assert sorted(p.name for p in stored.iterdir()) == sorted((*ENTRY_FILES, "metadata.json"))
    for name in ENTRY_FILES:
        assert (stored / name).read_bytes() == (results_dir / name).read_bytes()
    assert read_entry(stored).metadata == metadata  # what the leaderboard reads
    assert not hub.unhandled and len(hub.requests) <= 25
    assert_token_nowhere(hub, pushed.output, pulled.output, log.getvalue(), pull_log.getvalue(), under=tmp_path)


def test_pushing_again_changes_nothing_and_new_results_add_an_entry(hub, tmp_path, results_dir):
    assert invoke("push-results", results_dir, "--repo-id", "bench/results").exit_code == 0
    again = invoke("push-results", results_dir, "--repo-id", "bench/results")
    assert again.exit_code == 0, again.output
    assert len(hub.commits) == 1 and "nothing to push" in again.output  # the entry is already there
    store = tmp_path / "store"
    assert invoke("pull-results", "--repo-id", "bench/results", "--out", store).exit_code == 0
    other = make_results(tmp_path, "other", method="linear", prediction="la niña come")
    assert invoke("push-results", other, "--repo-id", "bench/results").exit_code == 0
    assert len(hub.commits) == 2 and "README.md" not in hub.commits[1].added  # the card is written once
    pulled = invoke("pull-results", "--repo-id", "bench/results", "--out", store)
    assert "2 entries in bench/results; 1 new" in pulled.output
    assert sorted(p.name.split("__")[0] for p in (store / "entries").iterdir()) == ["lc", "linear"]


def test_dry_run_lists_the_entry_and_reaches_nothing(hub, results_dir):
    result = invoke("push-results", results_dir, "--repo-id", "bench/results", "--dry-run")
    assert result.exit_code == 0, result.output
    listed = re.findall(r"^  (entries/\S+)\s+[\d,]+ bytes$", result.output, flags=re.M)
    assert sorted(path.rsplit("/", 1)[1] for path in listed) == sorted((*ENTRY_FILES, "metadata.json"))
    assert hub.requests == []


def test_a_tampered_entry_on_the_hub_is_refused_and_the_store_untouched(hub, tmp_path, results_dir):
    assert invoke("push-results", results_dir, "--repo-id", "bench/results").exit_code == 0
    repo = hub.repo("bench/results")
    head = repo.commits[repo.branches["main"]]
    path = next(p for p in head.files if p.endswith("/predictions.jsonl"))
    head.files[path] = head.files[path].replace(b"el gato", b"el perro")
    result = invoke("pull-results", "--repo-id", "bench/results", "--out", tmp_path / "store")
    assert "sha256 differs from the entry's metadata.json" in error_line(result)
    assert not (tmp_path / "store").exists()


def test_a_damaged_entry_in_the_store_is_replaced(hub, tmp_path, results_dir):
    assert invoke("push-results", results_dir, "--repo-id", "bench/results").exit_code == 0
    store = tmp_path / "store"
    assert invoke("pull-results", "--repo-id", "bench/results", "--out", store).exit_code == 0
    [stored] = (store / "entries").iterdir()
    (stored / "results.json").write_text("{}")
    result = invoke("pull-results", "--repo-id", "bench/results", "--out", store)
    assert result.exit_code == 0 and "1 new" in result.output
    assert read_entry(stored).entry == stored.name


@pytest.mark.parametrize("damage, message", [
    (lambda run: (run / "predictions.jsonl").unlink(), "missing predictions.jsonl"),
    (lambda run: write_jsonl(run / "predictions.jsonl", [{"id": "x", "prediction": "other"}]),
     "not the predictions the results were scored from"),
    (lambda run: (run / "results.json").write_text(json.dumps({"schema_version": "1.1"})),
     "not a valid results document"),
    (lambda run: shutil.copy(run / "predictions.jsonl", run / "results.examples.parquet"), "cannot read Parquet"),
])
def test_a_bad_results_directory_is_refused_before_the_hub(hub, results_dir, damage, message):
    damage(results_dir)
    result = invoke("push-results", results_dir, "--repo-id", "bench/results")
    assert message in error_line(result) and hub.requests == []
