"""Suite-wide settings: private caches, the Hub stand-in fixture, and tests that need the real Hub (run only with
COMPBENCH_NETWORK_TESTS=1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hub_standin import TOKEN, HubStandin, isolate_hf_home, point_clients_at


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's cache: generations, conversions and downloads go to a temp dir."""
    monkeypatch.setenv("COMPBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "compbench-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", os.environ.get("HF_HUB_OFFLINE", "1"))
    isolate_hf_home(tmp_path_factory.getbasetemp() / "hf-home", monkeypatch)  # nor the Hugging Face caches or token


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
