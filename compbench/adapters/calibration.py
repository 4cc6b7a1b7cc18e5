"""Learnable Calibration (LC) and LC++: a few parameters per module type that correct merged LoRAs.

Both start from the mean of N single-task LoRAs, ``B' = mean(s_i B_i)`` and ``A' = mean(A_i)`` (``s_i`` is
LoRA ``i``'s scaling ``alpha/r``, folded into ``B`` so that ``B'A'`` is the update; with equal scalings this is
``s * mean(B_i) @ mean(A_i)``), and add one set of calibration parameters per module type (q_proj, k_proj, ...),
shared by every layer:

- LC:   ``ΔW = B'A' + p 1ᵀ`` with ``p ∈ R^{d_out}`` starting at 0, so the output gains ``p * sum(x)``;
- LC++: ``ΔW = B'A' + P2 P1`` with ``P2 ∈ R^{d_out x s}`` at 0 and ``P1 ∈ R^{s x d_in}`` initialised like
  PEFT's ``lora_A`` (Kaiming-uniform, ``a = sqrt(5)``); the paper uses ``s = 4``.

Without the LoRAs (the paper's ablation) ``ΔW`` is the calibration term alone.

:func:`apply_calibration` wraps each target ``nn.Linear`` in a :class:`CalibratedLinear` that reads the shared
parameters (for training and for checking); :func:`fold_calibration` adds ``ΔW`` into the base weights so that
generation costs nothing extra; :func:`calibration_to_lora` turns it all into a plain LoRA of rank ``r+1`` /
``r+s`` that any LoRA runtime loads; :func:`save_calibration` / :func:`load_calibration` keep the parameters in
their own safetensors file (one tensor per module type, never per layer).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from compbench.adapters.lora_io import LoraAdapter, LoraFactors
from compbench.errors import ConfigError, InputError
from compbench.fileio import atomic_path

MODULE_TYPES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
KINDS: tuple[str, ...] = ("lc", "lc++")
DEFAULT_RANK = 4  # LC++ rank used by the paper
FORMAT = "compbench-calibration/1"


def module_type(name: str) -> str:
    """The module type of a module path: its last component (``model.layers.3.mlp.up_proj`` -> ``up_proj``)."""
    return name.rsplit(".", 1)[-1]


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ConfigError(f"unknown calibration kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def count_calibration_parameters(shapes: dict[str, tuple[int, int]], kind: str, rank: int = DEFAULT_RANK) -> int:
    """Parameters of a calibration with these ``{type: (d_out, d_in)}`` shapes: ``Σ d_out`` for LC,
    ``Σ rank (d_out + d_in)`` for LC++."""
    check_kind(kind)
    if kind == "lc":
        return sum(d_out for d_out, _ in shapes.values())
    return sum(rank * (d_out + d_in) for d_out, d_in in shapes.values())


# ------------------------------------------------------------------------------------------- parameters
class Calibration(nn.Module):
    """One set of calibration parameters per module type, shared by all layers of the model."""

    def __init__(self, kind: str, shapes: dict[str, tuple[int, int]], rank: int = DEFAULT_RANK,
                 seed: int | None = 0):
        super().__init__()
        self.kind = check_kind(kind)
        self.rank = rank if kind == "lc++" else 1
        if kind == "lc++" and rank < 1:
            raise ConfigError(f"LC++ rank must be at least 1, got {rank}")
        unknown = sorted(set(shapes) - set(MODULE_TYPES))
        if unknown:
            raise ConfigError(f"unknown module types {unknown}; expected some of {', '.join(MODULE_TYPES)}")
        self.shapes = {t: (int(o), int(i)) for t, (o, i) in shapes.items()}
        self.params = nn.ParameterDict()
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        for mtype, (d_out, d_in) in self.shapes.items():
            if kind == "lc":
                self.params[f"{mtype}__p"] = nn.Parameter(torch.zeros(d_out))
            else:
                self.params[f"{mtype}__P2"] = nn.Parameter(torch.zeros(d_out, rank))
                P1 = torch.empty(rank, d_in)
                _kaiming_uniform_like_lora_a(P1, generator)
                self.params[f"{mtype}__P1"] = nn.Parameter(P1)

    @property
    def module_types(self) -> list[str]:
        return list(self.shapes)

    def tensor(self, mtype: str, name: str) -> torch.Tensor:
        return self.params[f"{mtype}__{name}"]

    def factors(self, mtype: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B_c, A_c)`` with ``B_c @ A_c`` = the calibration term: ``(p, 1ᵀ)`` for LC, ``(P2, P1)`` for LC++."""
        if self.kind == "lc":
            p = self.tensor(mtype, "p")
            return p[:, None], torch.ones(1, self.shapes[mtype][1], dtype=p.dtype, device=p.device)
        return self.tensor(mtype, "P2"), self.tensor(mtype, "P1")

    def delta(self, mtype: str) -> torch.Tensor:
        """The calibration part of ``ΔW`` for this module type, shape ``(d_out, d_in)``."""
        B, A = self.factors(mtype)
        return B @ A

    def project(self, mtype: str, x: torch.Tensor) -> torch.Tensor:
        """``(calibration ΔW) x`` without building ``ΔW``: ``p * sum(x)`` or ``P2 (P1 x)``."""
        if self.kind == "lc":
            p = self.tensor(mtype, "p").to(x.dtype)
            return x.sum(dim=-1, keepdim=True) * p
        P2, P1 = self.tensor(mtype, "P2").to(x.dtype), self.tensor(mtype, "P1").to(x.dtype)
        return (x @ P1.T) @ P2.T

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """``{"q_proj.p": ...}`` or ``{"q_proj.P2": ..., "q_proj.P1": ...}``: what the safetensors file holds."""
        return {key.replace("__", "."): value.detach().contiguous().cpu() for key, value in self.params.items()}


def _kaiming_uniform_like_lora_a(tensor: torch.Tensor, generator: torch.Generator | None) -> None:
    """PEFT's default ``lora_A`` init: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    nn.init.kaiming_uniform_(tensor, a=math.sqrt(5), generator=generator)


# ------------------------------------------------------------------------------------------- merged LoRA
@dataclass
class MergedLora:
    """The starting point ``(B', A')`` per module, with the scaling folded into ``B'`` (``ΔW' = B' @ A'``)."""

    modules: dict[str, tuple[torch.Tensor, torch.Tensor]]

    def module_types(self) -> list[str]:
        return list(dict.fromkeys(module_type(name) for name in self.modules))

    @classmethod
    def from_adapter(cls, adapter: LoraAdapter) -> MergedLora:
        """Any LoRA as ``(scaling * B, A)`` factors, e.g. to run a merge through :class:`CalibratedLinear`."""
        return cls({name: (f.scaling * f.B.float(), f.A.float()) for name, f in adapter.modules.items()})


def mean_factors(adapters: Sequence[LoraAdapter]) -> MergedLora:
    """``B' = mean(s_i B_i)``, ``A' = mean(A_i)`` over ``adapters`` for every module they all adapt."""
    if not adapters:
        raise ConfigError("calibration needs at least one LoRA adapter (or use the variant without LoRAs)")
    names = set(adapters[0].modules)
    for adapter in adapters[1:]:
        if set(adapter.modules) != names:
            diff = sorted(names.symmetric_difference(adapter.modules))[:3]
            raise ConfigError(f"the adapters do not adapt the same modules (e.g. {', '.join(diff)})")
    merged: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name in adapters[0].modules:
        factors: list[LoraFactors] = [a.modules[name] for a in adapters]
        ranks = {f.rank for f in factors}
        if len(ranks) != 1:
            raise ConfigError(f"module {name!r}: the adapters have different ranks {sorted(ranks)}; "
                              "mean factors need equal ranks")
        B = torch.stack([f.scaling * f.B.float() for f in factors]).mean(dim=0)
        A = torch.stack([f.A.float() for f in factors]).mean(dim=0)
        merged[name] = (B, A)
    return MergedLora(merged)


# ---------------------------------------------------------------------------------------------- wrapping
class CalibratedLinear(nn.Module):
    """``base(x) + B'(A' x) + calibration(x)`` around a frozen ``nn.Linear``.

    The calibration is referenced, not registered as a submodule, so the wrapped model's ``state_dict`` stays
    the base model's plus the (frozen) merged factors; train ``calibration.parameters()`` directly.
    """

    def __init__(self, base: nn.Linear, mtype: str, calibration: Calibration | None,
                 merged: tuple[torch.Tensor, torch.Tensor] | None):
        super().__init__()
        self.base = base
        self.mtype = mtype
        self._calibration = (calibration,)  # a tuple hides it from nn.Module registration
        if merged is not None:
            B, A = merged
            self.register_buffer("merged_B", B.to(base.weight.device, base.weight.dtype), persistent=False)
            self.register_buffer("merged_A", A.to(base.weight.device, base.weight.dtype), persistent=False)
        else:
            self.merged_B = self.merged_A = None

    @property
    def calibration(self) -> Calibration | None:
        return self._calibration[0]

    @property
    def weight(self) -> torch.Tensor:  # some model code reads ``.weight`` of projections (dtype checks)
        return self.base.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.merged_A is not None:
            out = out + (x @ self.merged_A.T) @ self.merged_B.T
        if self.calibration is not None and self.mtype in self.calibration.shapes:
            out = out + self.calibration.project(self.mtype, x)
        return out


def target_linears(model: nn.Module, module_types: Iterable[str] = MODULE_TYPES) -> dict[str, nn.Linear]:
    """Every ``nn.Linear`` (or already-wrapped one) of ``model`` whose last name is one of ``module_types``."""
    wanted = set(module_types)
    found: dict[str, nn.Linear] = {}
    for name, module in model.named_modules():
        if module_type(name) not in wanted:
            continue
        if isinstance(module, CalibratedLinear):
            found[name] = module.base
        elif isinstance(module, nn.Linear):
            found[name] = module
    return found


def module_shapes(model: nn.Module, module_types: Iterable[str] = MODULE_TYPES) -> dict[str, tuple[int, int]]:
    """``{type: (d_out, d_in)}`` of the model's target Linears; all layers must agree per type."""
    shapes: dict[str, tuple[int, int]] = {}
    for name, linear in target_linears(model, module_types).items():
        mtype = module_type(name)
        shape = (linear.out_features, linear.in_features)
        if shapes.setdefault(mtype, shape) != shape:
            raise ConfigError(f"{mtype} has shape {shape} at {name} but {shapes[mtype]} elsewhere; "
                              "calibration shared across layers needs one shape per module type")
    if not shapes:
        raise ConfigError(f"the model has no Linear modules named {', '.join(sorted(set(module_types)))}")
    return shapes


def init_calibration(model: nn.Module, kind: str, rank: int = DEFAULT_RANK, merged: MergedLora | None = None,
                     module_types: Iterable[str] | None = None, seed: int = 0) -> Calibration:
    """A fresh calibration for ``model``: for the module types the merged LoRA adapts (all seven without one)."""
    types = list(module_types) if module_types is not None else (
        merged.module_types() if merged is not None else list(MODULE_TYPES))
    return Calibration(kind, module_shapes(model, types), rank=rank, seed=seed)


def apply_calibration(model: nn.Module, calibration: Calibration | None,
                      merged: MergedLora | None = None) -> nn.Module:
    """Wrap every target Linear of ``model`` in place (the model's own weights are not copied or changed)."""
    remove_calibration(model)
    types = set(calibration.module_types if calibration is not None else [])
    if merged is not None:
        types |= set(merged.module_types())
    missing = set(merged.modules) - set(target_linears(model, types)) if merged is not None else set()
    if missing:
        raise ConfigError(f"the LoRAs adapt modules the model lacks (e.g. {sorted(missing)[0]})")
    for name, linear in target_linears(model, types).items():
        factors = merged.modules.get(name) if merged is not None else None
        replace_submodule(model, name, CalibratedLinear(linear, module_type(name), calibration, factors))
    return model


def remove_calibration(model: nn.Module) -> nn.Module:
    """Undo :func:`apply_calibration`: put the original Linears back."""
    for name, module in list(model.named_modules()):
        if isinstance(module, CalibratedLinear):
            replace_submodule(model, name, module.base)
    return model


@torch.no_grad()
def fold_calibration(model: nn.Module, calibration: Calibration | None, merged: MergedLora | None = None
                     ) -> nn.Module:
    """``W += B'A' + calibration ΔW`` for every target Linear of every layer, in place (computed in float32).

    Afterwards the model is a plain model of the base architecture: generation costs nothing extra.
    """
    remove_calibration(model)
    for name, delta in calibrated_deltas(model, calibration, merged).items():
        linear = model.get_submodule(name)
        linear.weight.copy_((linear.weight.float() + delta.to(linear.weight.device)).to(linear.weight.dtype))
    return model


@torch.no_grad()
def calibrated_deltas(model: nn.Module, calibration: Calibration | None, merged: MergedLora | None = None
                      ) -> dict[str, torch.Tensor]:
    """The full ``ΔW`` (float32) of every module the calibrated model changes."""
    types = set(calibration.module_types if calibration is not None else [])
    if merged is not None:
        types |= set(merged.module_types())
    deltas = {}
    for name in target_linears(model, types):
        mtype = module_type(name)
        delta = None
        if merged is not None and name in merged.modules:
            B, A = merged.modules[name]
            delta = B.float() @ A.float()
        if calibration is not None and mtype in calibration.shapes:
            cal = calibration.delta(mtype).float().cpu()
            delta = cal if delta is None else delta + cal
        if delta is not None:
            deltas[name] = delta
    return deltas


def replace_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


# ---------------------------------------------------------------------------------------------- export
def calibration_to_lora(model: nn.Module, calibration: Calibration | None, merged: MergedLora | None = None,
                        base_model: str | None = None) -> LoraAdapter:
    """A plain LoRA whose ``ΔW`` equals the calibrated model's, exactly.

    Per module: ``B = [B', B_c]``, ``A = [A'; A_c]`` (``B_c, A_c`` = ``p, 1ᵀ`` or ``P2, P1``), rank ``r+1`` for LC
    and ``r+s`` for LC++ (1 or ``s`` without the LoRAs). The scaling is already in ``B'``, so the adapter is
    written with scaling 1 (``lora_alpha = rank``). ``model`` gives the module paths (every layer).
    """
    types = set(calibration.module_types if calibration is not None else [])
    if merged is not None:
        types |= set(merged.module_types())
    modules: dict[str, LoraFactors] = {}
    for name in target_linears(model, types):
        mtype = module_type(name)
        Bs, As = [], []
        if merged is not None and name in merged.modules:
            B, A = merged.modules[name]
            Bs.append(B.float())
            As.append(A.float())
        if calibration is not None and mtype in calibration.shapes:
            B_c, A_c = calibration.factors(mtype)
            Bs.append(B_c.detach().float().cpu())
            As.append(A_c.detach().float().cpu())
        if Bs:
            modules[name] = LoraFactors(A=torch.cat(As, dim=0), B=torch.cat(Bs, dim=1), scaling=1.0)
    if not modules:
        raise ConfigError("nothing to export: no calibration and no merged LoRA")
    rank = max(f.rank for f in modules.values())
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": rank, "lora_dropout": 0.0,
              "bias": "none"}
    return LoraAdapter(base_model=base_model, config=config, modules=modules)


# ---------------------------------------------------------------------------------------------- storage
def save_calibration(calibration: Calibration, path: str | Path, extra: dict[str, str] | None = None) -> None:
    """Write the parameters (one tensor per module type) and their kind/rank/shapes to a safetensors file."""
    metadata = {"format": FORMAT, "kind": calibration.kind, "rank": str(calibration.rank),
                "shapes": json.dumps(calibration.shapes)}
    metadata.update(extra or {})
    with atomic_path(path) as tmp:
        save_file(calibration.state_tensors(), str(tmp), metadata=metadata)


def load_calibration(path: str | Path) -> Calibration:
    """Read a file written by :func:`save_calibration`; every problem is an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("calibration file not found", path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 -- not a dict
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"cannot read safetensors ({exc})", path) from None
    if metadata.get("format") != FORMAT:
        raise InputError(f"not a compbench calibration file (metadata format {metadata.get('format')!r})", path)
    try:
        kind = check_kind(metadata["kind"])
        rank = int(metadata["rank"])
        shapes = {t: tuple(s) for t, s in json.loads(metadata["shapes"]).items()}
    except (KeyError, ValueError, ConfigError) as exc:
        raise InputError(f"bad calibration metadata ({exc})", path) from None
    calibration = Calibration(kind, shapes, rank=rank if kind == "lc++" else DEFAULT_RANK, seed=None)
    expected = calibration.state_tensors()
    if set(tensors) != set(expected):
        raise InputError(f"tensors {sorted(tensors)} do not match the metadata (expected {sorted(expected)})", path)
    with torch.no_grad():
        for key, value in tensors.items():
            if tuple(value.shape) != tuple(expected[key].shape):
                raise InputError(f"tensor {key!r} has shape {tuple(value.shape)}, expected "
                                 f"{tuple(expected[key].shape)}", path)
            calibration.params[key.replace(".", "__")].copy_(value)
    return calibration
