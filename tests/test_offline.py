"""Every command that would reach the Hub, offline (HF_HUB_OFFLINE=1) or with no network, exits 2 with one line
naming what it tried to reach and the local option that avoids it. Evaluate, score --data and the Hub commands
have their own offline tests beside them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compbench.cli import main
from tests.support.fake_generators import FIXTURE_SOURCES
from tests.support.split_fixtures import write_split


@pytest.fixture
def release(tmp_path):
    write_split(tmp_path / "release", "sum", "train", n=2)
    return tmp_path / "release"


def commands(tmp_path: Path, release: Path) -> dict[str, tuple[list[str], str, str]]:
    """name -> (arguments, what it tries to reach, the local option the message names)."""
    out = str(tmp_path / "out")
    return {
        "build": (["build", "--subtask", "sum", "--out", out],
                  "dataset knkarthick/dialogsum@f6bf536de697", "--sources-dir"),
        "build --plan": (["build", "--plan", "--subtask", "sum+tr-es"],
                         "dataset knkarthick/dialogsum@f6bf536de697", "--sources-dir"),
        "build (generator)": (["build", "--sources-dir", str(FIXTURE_SOURCES), "--subtask", "sum+tr-es",
                               "--out", out], "model Helsinki-NLP/opus-mt-en-es", "local directory"),
        "efficiency": (["efficiency", "--base-model", "someorg/some-model"],
                       "the config of someorg/some-model", "named architecture or a local config directory"),
        "train": (["train", "lora", "--task", "sum", "--base-model", "someorg/some-model", "--data", str(release),
                   "--out", out, "--no-progress"], "base model someorg/some-model", "--base-model DIR"),
    }


def check(code: int, output: str, what: str, avoid: str, tmp_path: Path) -> None:
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Hugging Face Hub for "), output
    assert what in lines[0] and avoid in lines[0], lines[0]
    assert "Traceback" not in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["build", "build --plan", "build (generator)", "efficiency", "train"])
def test_offline_mode_exits_2_with_one_line(name, tmp_path, release, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args, what, avoid = commands(tmp_path, release)[name]
    result = CliRunner().invoke(main, args)
    check(result.exit_code, result.output, what, avoid, tmp_path)
    assert "offline mode is on" in result.output


@pytest.mark.parametrize("name", ["efficiency", "train"])
def test_no_network_exits_2_with_one_line(name, tmp_path, release, monkeypatch):
    """Offline mode off and the Hub unreachable: a closed port on loopback stands for a machine with no network
    (huggingface_hub's retry pauses are skipped to keep the test fast)."""
    import huggingface_hub.constants
    import huggingface_hub.utils._http

    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(variable, "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(huggingface_hub.utils._http.time, "sleep", lambda _seconds: None)
    args, what, avoid = commands(tmp_path, release)[name]
    result = CliRunner().invoke(main, args)
    check(result.exit_code, result.output, what, avoid, tmp_path)
    assert "no connection to the Hub" in result.output
