"""Merges of N single-task LoRAs into one LoRA, each defined explicitly on the factors or on ΔW.

Every merge is a function ``(adapters, **parameters) -> LoraAdapter`` registered once in :data:`MERGES`; a
new merge is one module plus one line here. :func:`merge_adapters` checks the name and the parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from compbench.adapters.lora_io import LoraAdapter
from compbench.adapters.merges.concat import concat
from compbench.adapters.merges.dare import dare
from compbench.adapters.merges.linear import linear, linear_combination
from compbench.adapters.merges.slerp import slerp
from compbench.adapters.merges.ties import ties
from compbench.adapters.merges.weighted import (
    columnwise_combination,
    dam,
    lm_cocktail,
    load_coefficients,
    lorahub,
    save_coefficients,
)
from compbench.errors import ConfigError

MergeFunction = Callable[..., LoraAdapter]

MERGES: dict[str, MergeFunction] = {
    "linear": linear,  # factors: (Σ w B)(Σ w A), the paper's linear merge
    "linear-delta": concat,  # Σ w ΔW, exact at rank Σ r (identical to concat)
    "concat": concat,
    "ties": ties,
    "dare": dare,
    "slerp": slerp,
    "lorahub": lorahub,
    "lm-cocktail": lm_cocktail,
    "dam": dam,  # DAM / ZipLoRA column-wise coefficients
}


def get_merge(name: str) -> MergeFunction:
    try:
        return MERGES[name]
    except KeyError:
        raise ConfigError(f"unknown merge {name!r}; choose one of: {', '.join(MERGES)}") from None


def merge_parameters(name: str) -> dict[str, Any]:
    """The parameters merge ``name`` accepts, with their defaults (``None`` = required or derived)."""
    signature = inspect.signature(get_merge(name))
    return {p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in list(signature.parameters.values())[1:]}


def merge_adapters(name: str, adapters: Sequence[LoraAdapter], **parameters: Any) -> LoraAdapter:
    """Merge ``adapters`` with merge ``name``; unknown parameters are refused, not ignored."""
    accepted = merge_parameters(name)
    unknown = sorted(set(parameters) - set(accepted))
    if unknown:
        raise ConfigError(f"merge {name!r} does not take {', '.join(unknown)} "
                          f"(it takes: {', '.join(accepted) or 'nothing'})")
    return get_merge(name)(list(adapters), **parameters)


__all__ = ["MERGES", "columnwise_combination", "get_merge", "linear_combination", "load_coefficients",
           "merge_adapters", "merge_parameters", "save_coefficients"]
