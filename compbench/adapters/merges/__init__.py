"""Merges of N single-task LoRAs into one LoRA, each defined explicitly on the factors or on ΔW.

Every merge is a function ``(adapters, **parameters) -> LoraAdapter`` in its own module, registered once in
:data:`MERGES` (name -> ``module:function``, imported on first use so the CLI starts fast); a new merge is
one module plus one line here. :func:`merge_adapters` checks the name and the parameters.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from compbench.errors import ConfigError

if TYPE_CHECKING:
    from compbench.adapters.lora_io import LoraAdapter

MergeFunction = Callable[..., "LoraAdapter"]

MERGES: dict[str, str] = {
    "linear": "linear:linear",  # factors: (Σ w B)(Σ w A), the paper's linear merge
    "linear-delta": "concat:concat",  # Σ w ΔW, exact at rank Σ r (the same update as concat)
    "concat": "concat:concat",
    "ties": "ties:ties",
    "dare": "dare:dare",
    "slerp": "slerp:slerp",
    "lorahub": "weighted:lorahub",
    "lm-cocktail": "weighted:lm_cocktail",
    "dam": "weighted:dam",  # DAM / ZipLoRA column-wise coefficients
}

# Public helpers other parts call (compbench.training applies searched weights and learned coefficients).
_HELPERS = {
    "linear_combination": "linear",
    "columnwise_combination": "weighted",
    "save_coefficients": "weighted",
    "load_coefficients": "weighted",
}


def get_merge(name: str) -> MergeFunction:
    try:
        module, function = MERGES[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown merge {name!r}; choose one of: {', '.join(MERGES)}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


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


def check_merge(name: str, adapters: Sequence[LoraAdapter], **parameters: Any) -> None:
    """Run merge ``name`` on the first module only: every name and parameter check at a fraction of the cost
    (TIES and DARE need an SVD per module), so a bad setting fails before anything is written or loaded."""
    from compbench.adapters.lora_io import LoraAdapter

    first = next(iter(adapters[0].modules), None) if adapters else None
    sliced = [LoraAdapter(a.base_model, a.config, {first: a.modules[first]} if first in a.modules else {})
              for a in adapters]
    if first is not None and isinstance(parameters.get("coefficients"), dict):
        parameters = {**parameters, "coefficients": {k: v for k, v in parameters["coefficients"].items() if k == first}}
    merge_adapters(name, sliced, **parameters)


def __getattr__(name: str) -> Any:
    module = _HELPERS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = ["MERGES", "check_merge", "get_merge", "merge_adapters", "merge_parameters", *_HELPERS]
