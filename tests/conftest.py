"""Suite-wide isolation and settings.

No test reads or writes the user's home or caches: before any test module is imported (libraries such as
huggingface_hub and datasets read their settings at import time), every home and cache directory is pointed
into one temporary sandbox, removed at the end of the session, and the Hub is offline. Tests that need the real
Hugging Face Hub run only with COMPBENCH_NETWORK_TESTS=1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("COMPBENCH_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the Hugging Face Hub; set COMPBENCH_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)

