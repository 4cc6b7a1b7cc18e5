"""The method registry: every row of the paper's Table 2 (and Table 4's ablation), in the paper's order.

Each family of methods is one small module holding its :class:`~compbench.methods.spec.MethodSpec` rows;
:data:`FAMILY_MODULES` is the one place that lists them. A new method is a new spec in one of those modules
(or a new module added to that tuple). Nothing here imports torch: listing methods, accounting their cost and
building the leaderboard load no backend.
"""

from __future__ import annotations

import difflib
import importlib

from compbench.errors import ConfigError
from compbench.methods.spec import BLOCK_TITLES, BLOCKS, MethodSpec

#: The modules that define methods, in the order of the paper's tables.
FAMILY_MODULES: tuple[str, ...] = ("baselines", "merges", "inefficient", "calibration")


def _load() -> dict[str, MethodSpec]:
    specs: dict[str, MethodSpec] = {}
    for name in FAMILY_MODULES:
        for spec in importlib.import_module(f"{__name__}.{name}").SPECS:
            if spec.id in specs:
                raise ValueError(f"method id {spec.id!r} is registered twice")
            specs[spec.id] = spec
    order = {block: i for i, block in enumerate(BLOCKS)}
    return dict(sorted(specs.items(), key=lambda item: order[item[1].block]))  # stable: module order within


METHODS: dict[str, MethodSpec] = _load()


def get_method(method_id: str) -> MethodSpec:
    """The spec of ``method_id``, or a :class:`ConfigError` naming the closest known ids."""
    try:
        return METHODS[method_id]
    except KeyError:
        close = difflib.get_close_matches(method_id, list(METHODS), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown method {method_id!r}{hint}; known methods: {', '.join(METHODS)}") from None


def methods_in_block(block: str) -> list[MethodSpec]:
    return [spec for spec in METHODS.values() if spec.block == block]


__all__ = ["BLOCKS", "BLOCK_TITLES", "METHODS", "MethodSpec", "get_method", "methods_in_block"]
