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
from compbench.methods.spec import BLOCK_TITLES, BLOCKS, COMBINE_KINDS, MethodSpec, Role

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


def find_method(**facts: object) -> MethodSpec:
    """The one registered method whose fields equal ``facts`` (e.g. ``combine="adapter", adapters=("main",)``)."""
    found = [spec for spec in METHODS.values() if all(getattr(spec, key) == value for key, value in facts.items())]
    if len(found) != 1:
        wanted = ", ".join(f"{key}={value!r}" for key, value in facts.items())
        raise ConfigError(f"the method registry has {len(found)} methods with {wanted}; expected exactly one")
    return found[0]


def adapter_method(role: Role) -> str:
    """The id of the method that runs one LoRA of ``role``: main-lora, aux-lora or joint-expert."""
    return find_method(combine="adapter", adapters=(role,)).id


def calibration_method(kind: str, shared: bool, with_loras: bool) -> str:
    """The id of a Learnable Calibration method: ``lc`` / ``lc++``, ``-shared``, ``-no-lora``."""
    return find_method(combine="calibration", calibration=kind, shared=shared,
                       adapters=("main", "aux") if with_loras else ()).id


def learned_merges() -> tuple[str, ...]:
    """Merges whose weights are learned on compositional data (``compbench train merge-coefficients``)."""
    return tuple(spec.id for spec in METHODS.values() if spec.combine == "merge" and spec.trained_on_compositional)


__all__ = ["BLOCKS", "BLOCK_TITLES", "COMBINE_KINDS", "METHODS", "MethodSpec", "adapter_method",
           "calibration_method", "find_method", "get_method", "learned_merges", "methods_in_block"]
