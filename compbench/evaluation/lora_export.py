"""A pass's weight update written out once as a plain PEFT LoRA directory, for engines that serve LoRAs (vLLM).

Every ``combine`` kind that changes weights already turns into one plain LoRA whose ``ΔW`` is exactly the method's
update (:func:`compbench.evaluation.updates.build_update`: the LoRA itself, the merged LoRA, or the calibration's
plain-LoRA export of rank ``r+1`` / ``r+s``). :func:`export_update` writes that LoRA to
``$COMPBENCH_CACHE/lora-exports/<combine>-<key>`` the first time a plan needs it and reuses it afterwards: the key
is a hash of the base model's identity and the update's identity (combine kind, merge or calibration kind,
parameters, the content hashes of its LoRAs and calibration file), so a merge is computed once, not per run. The
directory appears complete or not at all.

The written LoRA is put in the one form every LoRA loader reads the same way (:func:`servable_lora`): one rank
for every module (lower-rank modules padded with zero rows and columns, which add nothing), the scaling folded
into ``B`` and ``lora_alpha = r`` (scaling 1), no ``rank_pattern`` / ``alpha_pattern``, no bias, no DoRA, no
``modules_to_save``. Its ``ΔW`` equals the folded path's up to float rounding (tested through PEFT).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compbench.errors import ConfigError
from compbench.evaluation.plan import ModelPlan, sha256_of
from compbench.fileio import cache_root, make_staging_dir, read_json_strict, write_json

if TYPE_CHECKING:
    from compbench.adapters.lora_io import LoraAdapter

EXPORT_FORMAT = "compbench-lora-export/1"
PROVENANCE_FILE = "compbench-export.json"


@dataclass(frozen=True)
class ExportedLora:
    """A plan's update as a PEFT LoRA directory: its path, its rank and its content hash."""

    path: Path
    rank: int
    sha256: str  # compbench.adapters.lora_io.adapter_sha256 of the directory


def export_key(plan: ModelPlan) -> str:
    """What decides the exported LoRA: the base model (module paths) and the update, never where files lie."""
    if plan.update is None:
        raise ConfigError("the base model alone has no LoRA to export")
    return sha256_of({"format": EXPORT_FORMAT, "base": plan.base.identity, "update": plan.update.identity()})


def export_dir(plan: ModelPlan, cache_dir: str | Path | None = None) -> Path:
    """Where ``plan``'s LoRA is (or will be) written."""
    root = Path(cache_dir) if cache_dir is not None else cache_root() / "lora-exports"
    return root / f"{plan.update.combine if plan.update else 'none'}-{export_key(plan)[:24]}"


def export_update(plan: ModelPlan, cache_dir: str | Path | None = None) -> ExportedLora:
    """``plan``'s update as a PEFT LoRA directory: written on first use (checked against the base model's shapes,
    computed on the CPU from a weightless copy of the model), then read back from the cache."""
    from compbench.adapters.lora_io import adapter_sha256, save_lora
    from compbench.evaluation.base_model import linear_shapes, weightless_model
    from compbench.evaluation.updates import build_update, check_fits

    target = export_dir(plan, cache_dir)
    if not (target / PROVENANCE_FILE).is_file():
        model = weightless_model(plan.base)
        lora = servable_lora(build_update(plan.update, model), base_model=plan.base.name)
        check_fits(lora, linear_shapes(model), f"the {plan.update.combine} update")
        staging = make_staging_dir(target)
        try:
            save_lora(lora, staging / "adapter")
            write_json(staging / "adapter" / PROVENANCE_FILE, {
                "format": EXPORT_FORMAT, "key": export_key(plan), "base": plan.base.identity,
                "update": plan.update.identity(), "rank": lora.config["r"]})
            with contextlib.suppress(OSError):  # another process (a Ray actor) wrote the same export first
                os.replace(staging / "adapter", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    provenance = read_json_strict(target / PROVENANCE_FILE)
    return ExportedLora(path=target, rank=int(provenance["rank"]), sha256=adapter_sha256(target))


def servable_lora(adapter: LoraAdapter, base_model: str | None = None) -> LoraAdapter:
    """The same ``ΔW`` as one uniform LoRA: every module at the largest rank (zero-padded) with its scaling folded
    into ``B``, written with ``lora_alpha = r``; a clean config that carries nothing of the source's."""
    import torch

    from compbench.adapters.lora_io import LoraAdapter, LoraFactors

    if not adapter.modules:
        raise ConfigError("the update has no modules to export")
    rank = max(f.rank for f in adapter.modules.values())
    modules = {}
    for name, f in adapter.modules.items():
        pad = rank - f.rank
        A = torch.cat([f.A, f.A.new_zeros(pad, f.in_features)]) if pad else f.A
        B = f.B * f.scaling if f.scaling != 1.0 else f.B
        B = torch.cat([B, B.new_zeros(f.out_features, pad)], dim=1) if pad else B
        modules[name] = LoraFactors(A=A.contiguous(), B=B.contiguous(), scaling=1.0)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": rank, "lora_dropout": 0.0,
              "bias": "none"}
    return LoraAdapter(base_model=base_model, config=config, modules=modules)
