"""Suite-wide settings: tests that need the Hugging Face Hub run only with COMPBENCH_NETWORK_TESTS=1."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's cache: generations, conversions and downloads go to a temp dir."""
    monkeypatch.setenv("COMPBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "compbench-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", os.environ.get("HF_HUB_OFFLINE", "1"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("COMPBENCH_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the Hugging Face Hub; set COMPBENCH_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
