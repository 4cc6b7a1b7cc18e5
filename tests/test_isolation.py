"""The suite never touches the user's home or caches (see tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import ISOLATED, SANDBOX


def test_the_suite_is_isolated_from_the_users_home_and_caches():
    """The settings libraries read at import time point into the sandbox."""
    import datasets.config
    import huggingface_hub.constants

    from compbench.fileio import cache_root

    assert Path.home() == ISOLATED["HOME"]
    assert cache_root() == ISOLATED["COMPBENCH_CACHE_DIR"]
    for path in (huggingface_hub.constants.HF_HUB_CACHE, datasets.config.HF_DATASETS_CACHE):
        assert Path(path).is_relative_to(SANDBOX), path
    assert huggingface_hub.constants.HF_HUB_OFFLINE or os.environ.get("COMPBENCH_NETWORK_TESTS") == "1"
