"""Learnable Calibration (LC) and LC++ (the paper's method), their shared variants, and Table 4's ablation
without LoRAs. The calibration parameters fold into the base weights: one inference pass at the base cost."""

from __future__ import annotations

from compbench.architectures import Architecture, Settings, lc_params, lc_plus_params
from compbench.methods.spec import MethodSpec

_PAPER = "Bohdal et al., Efficient Compositional Multi-tasking for On-device LLMs"


def _lc(arch: Architecture, _: Settings) -> int:
    return lc_params(arch)


def _lc_plus(arch: Architecture, s: Settings) -> int:
    return lc_plus_params(arch, s.calibration_rank)


def _calibration(kind: str, shared: bool, loras: bool) -> MethodSpec:
    name = "Learnable Calibration" + ("++" if kind == "lc++" else "")
    method_id = kind + ("-shared" if shared else "") + ("" if loras else "-no-lora")
    label = ("Shared " if shared else "") + name + ("" if loras else " without LoRAs")
    short = ("Shared " if shared else "") + kind.upper() + ("" if loras else " w/o LoRAs")
    block = "ablation" if not loras else ("shared" if shared else "ours")
    return MethodSpec(method_id, label, short, block, adapters=("main", "aux") if loras else (),
                      combine="calibration", calibration=kind, shared=shared,
                      learned=("calibration",), trained_on_compositional=True,
                      params=_lc if kind == "lc" else _lc_plus,
                      scope="shared by the four families" if shared else "per compositional task",
                      reference=_PAPER)


SPECS = tuple(_calibration(kind, shared, loras) for loras in (True, False) for shared in (False, True)
              for kind in ("lc", "lc++"))
