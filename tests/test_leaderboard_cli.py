"""`compbench leaderboard init|build` through the CLI, bad stores, and the leaderboard staying torch-free."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from compbench.cli import main
from compbench.leaderboard.store import STORE_CONFIG
from tests.support.leaderboard_factory import make_release, snapshot


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_init_then_build(tmp_path):
    release, _ = make_release(tmp_path / "release", subtasks=("sum+tr-es",))
    store = tmp_path / "store"
    result = invoke("leaderboard", "init", "--data", release, "--store", store, "--bootstrap", 300)
    assert result.exit_code == 0, result.output
    config = json.loads((store / STORE_CONFIG).read_text())
    assert config["release"] == str(release) and len(config["release_hash"]) == 64 and config["bootstrap"] == 300
    before = snapshot(store)
    again = invoke("leaderboard", "init", "--data", release, "--store", store)
    assert again.exit_code == 2 and "already pins release" in again.stderr and snapshot(store) == before
    result = invoke("leaderboard", "build", "--store", store)
    assert result.exit_code == 0, result.output
    assert "0 entries" in result.output and (store / "site" / "index.html").is_file()
    assert invoke("leaderboard", "build", "--store", store).exit_code == 0  # a previous build is replaced
    missing = invoke("leaderboard", "init", "--data", tmp_path / "no-release", "--store", tmp_path / "s2")
    assert missing.exit_code == 2 and missing.stderr.startswith("error: ") and not (tmp_path / "s2").exists()


def test_a_broken_store_is_one_clear_error(tmp_path):
    store = tmp_path / "store"
    (store / "entries" / "lc__x__00000000").mkdir(parents=True)
    out = tmp_path / "site"
    result = invoke("leaderboard", "build", "--store", store, "--out", out)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {store}/entries/lc__x__00000000/metadata.json: file not found"
    assert not out.exists() and not list(tmp_path.glob(".site*"))


def test_the_leaderboard_imports_no_torch(tmp_path):
    """Building the leaderboard and checking a submission run on the core install (no torch, no transformers)."""
    code = ("import sys; from compbench.cli import main; import compbench.leaderboard.submit; "
            "from compbench.leaderboard.site import build_leaderboard; "
            f"build_leaderboard({str(tmp_path / 'store')!r}, {str(tmp_path / 'site')!r}); "
            "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
