"""Offline (``HF_HUB_OFFLINE=1``) or with no network, every command that would reach the Hub exits 2 with one
line naming what it tried to reach, and sends nothing: the stand-in is up and counts every request."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compbench.hub_access import HubUnreachable, _reason, hub_access
from tests.support.hub_checks import error_line, invoke, make_repo_dir, release_rows
from tests.support.release_factory import write_jsonl, write_release
from tests.support.source_hub_copies import serve_sources


@pytest.fixture
def workspace(hub, tmp_path):
    """A release directory, a results directory and a predictions file, all made before going offline."""
    make_repo_dir(tmp_path / "repo")
    write_release(tmp_path / "release", release_rows())
    run = tmp_path / "run"
    run.mkdir()
    preds = write_jsonl(run / "predictions.jsonl", [{"id": r["id"], "prediction": "el gato"}
                                                    for r in release_rows() if r["split"] == "test"])
    assert invoke("score", preds, "--data", tmp_path / "release", "--out", run / "results.json", "--bootstrap", 0,
                  "--workers", 1).exit_code == 0
    serve_sources(hub)
    return tmp_path


COMMANDS = {
    "push": lambda ws: ["push", ws / "repo", "--repo-id", "bench/compbench", "--tag"],
    "push-results": lambda ws: ["push-results", ws / "run", "--repo-id", "bench/results"],
    "pull-results": lambda ws: ["pull-results", "--repo-id", "bench/results", "--out", ws / "store"],
    "score": lambda ws: ["score", ws / "run" / "predictions.jsonl", "--data", "bench/compbench@v1", "--out",
                         ws / "scored.json"],
    "train": lambda ws: ["train", "lora", "--task", "sum", "--base-model", ws / "no-model-needed", "--data",
                         "bench/compbench", "--out", ws / "bundle", "--no-progress"],
    "build": lambda ws: ["build", "--subtask", "sum+tr-es", "--split", "test", "--out", ws / "built",
                         "--cache-dir", ws / "cache"],
}
HINTS = {"push": "--dry-run", "push-results": "--dry-run", "pull-results": "stay usable", "score": "--data",
         "train": "--data", "build": "--sources-dir"}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_offline_mode_refuses_in_one_line_and_sends_nothing(hub, workspace, monkeypatch, command):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.requests.clear()
    line = error_line(invoke(*COMMANDS[command](workspace)))
    assert "cannot reach the Hugging Face Hub" in line and "offline mode is on" in line and HINTS[command] in line
    assert hub.requests == []
    assert not any((workspace / name).exists() for name in ("store", "scored.json", "bundle", "built"))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_network_refuses_in_one_line(hub, workspace, command):
    hub.stop()  # nothing listens on the endpoint any more: connections are refused
    line = error_line(invoke(*COMMANDS[command](workspace)))
    assert "cannot reach the Hugging Face Hub" in line and "no connection" in line and HINTS[command] in line
    assert not any((workspace / name).exists() for name in ("store", "scored.json", "bundle", "built"))


def test_dry_run_works_offline(hub, workspace, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert invoke("push", workspace / "repo", "--repo-id", "bench/compbench", "--dry-run").exit_code == 0
    assert invoke("push-results", workspace / "run", "--repo-id", "bench/results", "--dry-run").exit_code == 0


def test_a_fresh_process_offline_exits_2_with_one_line(tmp_path):
    """As a user runs it: a new interpreter with HF_HUB_OFFLINE=1 set before anything is imported."""
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prediction": "b"}])
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin",
           "COMPBENCH_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "compbench", "score", str(preds), "--data", "bench/compbench"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: cannot reach the Hugging Face Hub for dataset bench/compbench (offline mode is on (HF_HUB_OFFLINE=1)); "
        "no directory 'bench/compbench' exists here; give --data a local release directory, or check the id"]


def test_reason_finds_a_refused_connection_under_library_errors(monkeypatch):
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(variable, "0")

    class LocalEntryNotFoundError(Exception):
        pass

    try:
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionRefusedError as cause:
            raise LocalEntryNotFoundError("cannot find the requested files in the disk cache") from cause
    except LocalEntryNotFoundError as exc:
        assert _reason(exc).startswith("no connection")
    expected = r"^cannot reach the Hugging Face Hub for x \(no connection[^)]*\); y$"
    with pytest.raises(HubUnreachable, match=expected), hub_access("x", "y"):
        raise ConnectionRefusedError("refused")
