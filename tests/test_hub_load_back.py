"""``--data ORG/NAME[@REVISION]``: a release pushed to the Hub stand-in and read back by ``score``, training and
``datasets``, with the manifest's sha256 checked after download as for a local directory."""

from __future__ import annotations

import json

import pytest

from compbench.references import release_hash, resolve_release
from compbench.schemas import ReleaseManifest
from compbench.training.data import load_examples
from tests.support.hub_checks import error_line, invoke, make_repo_dir, release_rows
from tests.support.release_factory import write_jsonl


@pytest.fixture
def pushed(hub, tmp_path):
    """Release 1 pushed and tagged on main, then release 2 (other references) pushed and tagged on top."""
    one = make_repo_dir(tmp_path / "one")
    assert invoke("push", one, "--repo-id", "bench/compbench", "--tag").exit_code == 0
    two = make_repo_dir(tmp_path / "two", name="compbench-test-2", tag=" hoy")
    assert invoke("push", two, "--repo-id", "bench/compbench", "--tag").exit_code == 0
    hub.requests.clear()
    return one, two


def score(tmp_path, data, name):
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": r["id"], "prediction": "el gato duerme"}
                                              for r in release_rows() if r["split"] == "test"])
    result = invoke("score", preds, "--data", data, "--out", tmp_path / f"{name}.json", "--bootstrap", 20,
                    "--workers", 1)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_score_reads_the_hub_copy_exactly_as_the_local_release(hub, pushed, tmp_path):
    _, two = pushed
    remote, local = score(tmp_path, "bench/compbench", "remote"), score(tmp_path, two, "local")
    assert remote["benchmark"]["release_hash"] == local["benchmark"]["release_hash"] == release_hash(two)
    assert remote["benchmark"]["release"] == "bench/compbench"
    assert remote["subtasks"] == local["subtasks"] and remote["families"] == local["families"]
    downloaded = sorted(r.split("/resolve/", 1)[1].split("/", 1)[1] for r in hub.requests if r.startswith("GET")
                        and "/resolve/" in r)
    assert downloaded == ["data/reply_tone_witty/test-00000-of-00001.parquet",
                          "data/sum_tr_es/test-00000-of-00001.parquet", "manifest.json"]  # only what scoring needs
    assert not hub.unhandled


def test_revisions_tags_and_commits(hub, pushed, tmp_path):
    one, two = pushed
    repo = hub.repo("bench/compbench")
    for revision, release in ((repo.tags["compbench-test-1"], one), ("compbench-test-1", one),
                              ("compbench-test-2", two), ("main", two)):
        result = score(tmp_path, f"bench/compbench@{revision}", revision)
        assert result["benchmark"]["release_hash"] == release_hash(release), revision
    result = invoke("score", tmp_path / "p.jsonl", "--data", "bench/compbench@no-such-tag")
    assert "revision not found" in error_line(result)
    result = invoke("score", tmp_path / "p.jsonl", "--data", "bench/nothing-here")
    assert "repository not found" in error_line(result)


def test_files_are_checked_against_the_manifest_after_download(hub, tmp_path):
    repo_dir = make_repo_dir(tmp_path / "repo")
    files = {p.relative_to(repo_dir).as_posix(): p.read_bytes() for p in repo_dir.rglob("*") if p.is_file()}
    manifest = ReleaseManifest.model_validate_json(files["manifest.json"])
    target = next(f.path for f in manifest.files if f.split == "test")
    files[target] = (make_repo_dir(tmp_path / "other", tag=" x") / target).read_bytes()  # valid Parquet, other rows
    hub.add_repo("bench/tampered", files)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "x", "prediction": "y"}])
    message = error_line(invoke("score", preds, "--data", "bench/tampered"))
    assert "sha256 differs from the manifest" in message and target in message


def test_training_reads_a_hub_release(hub, pushed, tmp_path):
    one, _ = pushed
    from_hub = load_examples("bench/compbench@compbench-test-1", ["sum+tr-es"], split="train")
    assert from_hub == load_examples(one, ["sum+tr-es"], split="train") and len(from_hub) == 1
    downloaded = [r for r in hub.requests if r.startswith("GET") and "/resolve/" in r]
    assert len(downloaded) == 2 and all("manifest.json" in r or "/sum_tr_es/train-" in r for r in downloaded)


def test_a_downloaded_revision_is_read_from_the_cache_offline(hub, pushed, tmp_path, monkeypatch):
    online = score(tmp_path, "bench/compbench@compbench-test-1", "online")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.requests.clear()
    offline = score(tmp_path, "bench/compbench@compbench-test-1", "offline")
    assert offline["subtasks"] == online["subtasks"] and hub.requests == []
    assert "offline mode is on" in error_line(invoke("score", tmp_path / "p.jsonl", "--data", "bench/other"))


def test_datasets_loads_the_hub_repository_by_id(hub, pushed):
    import datasets

    dataset = datasets.load_dataset("bench/compbench", "sum_tr_es", split="test")
    assert dataset.to_list() == [r for r in release_rows(" hoy") if r["subtask"] == "sum+tr-es"
                                 and r["split"] == "test"]
    assert datasets.load_dataset("bench/compbench", "sum_tr_es", revision="compbench-test-1",
                                 split="test")[0]["reference"] == "el gato duerme en la casa"


def test_resolve_release_downloads_only_the_selected_split_and_subtasks(hub, pushed):
    local = resolve_release("bench/compbench", "train", ["sum+tr-es"])
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()) == [
        "data/sum_tr_es/train-00000-of-00001.parquet", "manifest.json"]


@pytest.mark.slow
def test_train_cli_with_a_hub_release(hub, tmp_path):
    from compbench.build.release import write_hub_repo
    from compbench.bundle import validate_bundle
    from tests.support.split_fixtures import write_split
    from tests.support.tiny_chat import save_tiny_chat_model

    write_split(tmp_path / "release", "sum", "train", n=6)
    write_hub_repo(tmp_path / "release", tmp_path / "repo")
    assert invoke("push", tmp_path / "repo", "--repo-id", "bench/train-data").exit_code == 0
    model = save_tiny_chat_model(tmp_path / "model", seed=1)
    result = invoke("train", "lora", "--task", "sum", "--rank", "4", "--base-model", model, "--data",
                    "bench/train-data", "--out", tmp_path / "bundle", "--max-steps", 2, "--batch-size", 2,
                    "--max-length", 256, "--no-progress")
    assert result.exit_code == 0, result.output
    assert validate_bundle(tmp_path / "bundle").manifest.subtasks == ["sum"]
