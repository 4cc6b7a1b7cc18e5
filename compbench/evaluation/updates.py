"""The torch side of the method registry: one function per ``combine`` kind that changes weights.

Each turns a :class:`~compbench.evaluation.plan.WeightUpdate` into one plain LoRA (a
:class:`~compbench.adapters.lora_io.LoraAdapter`) whose ``ΔW`` is exactly the method's update:

- ``adapter``: the LoRA itself;
- ``merge``: :func:`compbench.adapters.merges.merge_adapters` with the bundle's merge parameters (DAM's
  coefficients from the bundle's ``calibration.safetensors``);
- ``calibration``: :func:`compbench.adapters.calibration.calibration_to_lora` of the mean factors plus the
  calibration (rank ``r+1`` for LC, ``r+s`` for LC++; the calibration alone without LoRAs).

``steps`` (multi-step) is a sequence of ``adapter`` passes and ``none`` is the base model: neither needs a
function of its own. :func:`fold_lora` then adds ``ΔW`` into the base weights, so every single-pass method
generates at the base model's cost; the same LoRA is what a LoRA-serving engine would load instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from compbench.errors import ConfigError, InputError

if TYPE_CHECKING:
    from torch import nn

    from compbench.adapters.lora_io import LoraAdapter
    from compbench.evaluation.plan import WeightUpdate


def _adapter(update: WeightUpdate, model: nn.Module) -> LoraAdapter:
    from compbench.adapters.lora_io import load_lora

    return load_lora(update.adapters[0].path)


def merge_arguments(update: WeightUpdate) -> dict:
    """The keyword arguments of the merge function: the bundle's parameters, DAM's coefficients file."""
    from compbench.adapters.merges import load_coefficients, merge_parameters

    arguments = dict(update.parameters)
    if "coefficients" in merge_parameters(update.merge or "") and update.file is not None:
        arguments["coefficients"] = load_coefficients(update.file.path)
    return arguments


def _merge(update: WeightUpdate, model: nn.Module) -> LoraAdapter:
    from compbench.adapters.lora_io import load_lora
    from compbench.adapters.merges import merge_adapters

    device = next(model.parameters()).device
    adapters = [load_lora(a.path) for a in update.adapters]
    if device.type not in ("cpu", "meta"):
        adapters = [a.to(device) for a in adapters]  # TIES / DARE run an SVD per module: use the GPU
    return merge_adapters(update.merge or "", adapters, **merge_arguments(update))


def _calibration(update: WeightUpdate, model: nn.Module) -> LoraAdapter:
    from compbench.adapters.calibration import calibration_to_lora, load_calibration, mean_factors
    from compbench.adapters.lora_io import load_lora

    if update.file is None:
        raise ConfigError("a calibration method needs its calibration file")
    calibration = load_calibration(update.file.path)
    if calibration.kind != update.calibration:
        raise InputError(f"the calibration file holds {calibration.kind} parameters, but the method is "
                         f"{update.calibration}", update.file.path)
    merged = mean_factors([load_lora(a.path) for a in update.adapters]) if update.adapters else None
    return calibration_to_lora(model, calibration, merged)


#: combine kind -> the function building its LoRA (the registry's ``combine`` values that change weights).
UPDATES: dict[str, Callable[[WeightUpdate, nn.Module], LoraAdapter]] = {
    "adapter": _adapter,
    "merge": _merge,
    "calibration": _calibration,
}


def build_update(update: WeightUpdate, model: nn.Module) -> LoraAdapter:
    """The LoRA of ``update`` for ``model`` (which may be a weightless ``meta`` copy: only names are read)."""
    try:
        function = UPDATES[update.combine]
    except KeyError:
        raise ConfigError(f"no weight update for combine kind {update.combine!r}") from None
    return function(update, model)


def check_fits(adapter: LoraAdapter, shapes: dict[str, tuple[int, int]], what: str, where: str | None = None) -> None:
    """Refuse a LoRA whose modules the base model lacks or whose shapes differ from the base model's."""
    for name, factors in adapter.modules.items():
        if name not in shapes:
            raise InputError(f"{what} adapts {name!r}, which the base model does not have as a Linear layer "
                             "(a LoRA for another model?)", where)
        if (factors.out_features, factors.in_features) != shapes[name]:
            raise InputError(f"{what}: module {name!r} is (out, in) = {(factors.out_features, factors.in_features)} "
                             f"but the base model's is {shapes[name]} (a LoRA for another model?)", where)


def fold_lora(model: nn.Module, adapter: LoraAdapter) -> None:
    """``W += scaling * B @ A`` for every module of ``adapter``, computed in float32 on the weight's device."""
    import torch

    with torch.no_grad():
        for name, factors in adapter.modules.items():
            weight = model.get_submodule(name).weight
            delta = factors.B.to(weight.device, torch.float32) @ factors.A.to(weight.device, torch.float32)
            weight.copy_((weight.float() + factors.scaling * delta).to(weight.dtype))
