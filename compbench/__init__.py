"""compbench: build, score and publish the compositional multi-tasking benchmark for on-device LLMs.

The public functions are imported lazily so that ``import compbench`` stays cheap (no torch at import time).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "score": "compbench.scoring",
    "compare": "compbench.compare",
    "judge": "compbench.judging",
    "get_task": "compbench.tasks",
    "REGISTRY": "compbench.tasks",
    "efficiency": "compbench.efficiency",
    "load_lora": "compbench.adapters.lora_io",
    "save_lora": "compbench.adapters.lora_io",
    "read_bundle": "compbench.bundle",
    "train_lora_bundle": "compbench.training.bundles",
    "train_calibration_bundle": "compbench.training.bundles",
    "train_merge_bundle": "compbench.training.bundles",
    "load_calibrated_bundle": "compbench.training.bundles",
    "build_leaderboard": "compbench.leaderboard.site",
    "submit": "compbench.leaderboard.submit",
    "evaluate": "compbench.evaluation.runner",
    "run_grid": "compbench.evaluation.grid",
    "METHODS": "compbench.methods",
}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'compbench' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["__version__", *_PUBLIC]
