"""Suite-wide isolation and settings.

No test reads or writes the user's home or caches: before any test module is imported (libraries such as
huggingface_hub and datasets read their settings at import time), every home and cache directory is pointed
into one temporary sandbox, removed at the end of the session, and the Hub is offline (the ``hub`` fixture
serves a stand-in on loopback for the tests of Hub code paths). Tests that need the real
Hugging Face Hub run only with COMPBENCH_NETWORK_TESTS=1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SANDBOX = Path(tempfile.mkdtemp(prefix="compbench-tests-"))
ISOLATED = {
    "HOME": SANDBOX / "home",
    "XDG_CACHE_HOME": SANDBOX / "xdg-cache",
    "XDG_CONFIG_HOME": SANDBOX / "xdg-config",
    "XDG_DATA_HOME": SANDBOX / "xdg-data",
    "COMPBENCH_CACHE_DIR": SANDBOX / "compbench-cache",
    "HF_HOME": SANDBOX / "hf",
    "HF_HUB_CACHE": SANDBOX / "hf" / "hub",
    "HF_DATASETS_CACHE": SANDBOX / "hf" / "datasets",
    "HF_MODULES_CACHE": SANDBOX / "hf" / "modules",
    "HF_TOKEN_PATH": SANDBOX / "hf" / "token",
    "HF_XET_CACHE": SANDBOX / "hf" / "xet",
    "HF_ASSETS_CACHE": SANDBOX / "hf" / "assets",
    "TORCH_HOME": SANDBOX / "torch",
    "MPLCONFIGDIR": SANDBOX / "matplotlib",
    "PIP_CACHE_DIR": SANDBOX / "pip-cache",
}
for _name, _path in ISOLATED.items():
    _path.mkdir(parents=True, exist_ok=True) if _name != "HF_TOKEN_PATH" else None
    os.environ[_name] = str(_path)
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)
if os.environ.get("COMPBENCH_NETWORK_TESTS") != "1":
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(SANDBOX, ignore_errors=True)


from tests.support.hub_standin import TOKEN, HubStandin, point_clients_at  # noqa: E402  (after the isolation)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStandin]:
    """A Hub stand-in on 127.0.0.1 for this test (tests/support/hub_standin.py), with huggingface_hub and datasets
    pointed at it, their caches and token file under ``tmp_path``, and ``HF_TOKEN`` set to the token it accepts."""
    standin = HubStandin(token=TOKEN).start()
    try:
        point_clients_at(standin.url, tmp_path / "hf-home", monkeypatch)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield standin
    finally:
        standin.stop()
        from huggingface_hub import HfFileSystem

        HfFileSystem.clear_instance_cache()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("COMPBENCH_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the Hugging Face Hub; set COMPBENCH_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)

