"""LoRA adapters in PEFT's on-disk format, as plain tensors.

A PEFT LoRA directory holds ``adapter_config.json`` and ``adapter_model.safetensors`` whose keys look like
``base_model.model.<module path>.lora_A.weight`` (shape ``(r, in)``) and ``...lora_B.weight`` (``(out, r)``).
:func:`load_lora` reads such a directory into a :class:`LoraAdapter` (one :class:`LoraFactors` per module,
keyed by the module's path in the base model); :func:`save_lora` writes one back so that
``PeftModel.from_pretrained`` loads it. Pickled ``adapter_model.bin`` files are refused: convert them once with
:func:`convert_bin_to_safetensors` (``torch.load(weights_only=True)``, which never runs pickled code).

Saved adapters always use the plain scaling ``lora_alpha / r`` (``use_rslora`` off): each module's scaling is
kept exactly by writing ``lora_alpha = scaling * r``, with ``rank_pattern`` / ``alpha_pattern`` entries
(exact, escaped module paths) for modules whose rank or scaling differ from the most common one.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from compbench.errors import InputError
from compbench.fileio import atomic_path, make_staging_dir, read_json_strict, sha256_file, write_json
from compbench.safe_weights import pickled_state_to_safetensors

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
PICKLE_WEIGHTS_NAME = "adapter_model.bin"
_PEFT_PREFIX = "base_model.model."
_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<which>[AB])\.weight$")


@dataclass
class LoraFactors:
    """One module's LoRA: ``ΔW = scaling * B @ A``."""

    A: torch.Tensor  # (r, in_features) == PEFT lora_A.weight
    B: torch.Tensor  # (out_features, r) == PEFT lora_B.weight
    scaling: float  # alpha / r (or alpha / sqrt(r) with rslora)

    @property
    def rank(self) -> int:
        return int(self.A.shape[0])

    @property
    def in_features(self) -> int:
        return int(self.A.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.B.shape[0])

    def delta(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The weight update ``scaling * B @ A``, shape ``(out, in)``."""
        A, B = (self.A, self.B) if dtype is None else (self.A.to(dtype), self.B.to(dtype))
        return self.scaling * (B @ A)


@dataclass
class LoraAdapter:
    """A LoRA adapter: its base model, its PEFT config and one :class:`LoraFactors` per adapted module."""

    base_model: str | None
    config: dict[str, Any]
    modules: dict[str, LoraFactors] = field(default_factory=dict)

    def delta(self, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``scaling * B @ A`` of module ``name`` (a path in the base model), shape ``(out, in)``."""
        return self.modules[name].delta(dtype)

    @property
    def module_types(self) -> list[str]:
        """The last path component of every adapted module (q_proj, ...), in first-seen order."""
        return list(dict.fromkeys(name.rsplit(".", 1)[-1] for name in self.modules))

    @property
    def ranks(self) -> dict[str, int]:
        return {name: f.rank for name, f in self.modules.items()}

    def to(self, device: str | torch.device) -> LoraAdapter:
        """A copy with every factor on ``device`` (merges compute where the factors are)."""
        modules = {n: LoraFactors(A=f.A.to(device), B=f.B.to(device), scaling=f.scaling)
                   for n, f in self.modules.items()}
        return LoraAdapter(base_model=self.base_model, config=dict(self.config), modules=modules)

    def num_parameters(self) -> int:
        return sum(f.A.numel() + f.B.numel() for f in self.modules.values())

    def num_bytes(self) -> int:
        return sum(f.A.numel() * f.A.element_size() + f.B.numel() * f.B.element_size()
                   for f in self.modules.values())


# ---------------------------------------------------------------------------------------------- reading
def read_adapter_config(directory: str | Path) -> dict[str, Any]:
    """Read and check ``adapter_config.json`` of a PEFT LoRA directory."""
    path = Path(directory) / CONFIG_NAME
    if not path.exists():
        raise InputError(f"no {CONFIG_NAME}: not a PEFT adapter directory", directory)
    config = read_json_strict(path)
    if not isinstance(config, dict):
        raise InputError("expected a JSON object", path)
    peft_type = str(config.get("peft_type", "LORA")).upper()
    if peft_type != "LORA":
        raise InputError(f"peft_type is {peft_type!r}; only LoRA adapters are supported", path)
    for key in ("r", "lora_alpha"):
        value = config.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise InputError(f"{key!r} must be a positive number, found {value!r}", path)
    if config.get("use_dora"):
        raise InputError("DoRA adapters (use_dora) are not supported; use a plain LoRA", path)
    return config


def _scaling(config: dict[str, Any], module: str, rank: int, config_path: Path) -> float:
    """The scaling PEFT gives ``module``: alpha (from alpha_pattern if one matches) over r or sqrt(r)."""
    alpha = config["lora_alpha"]
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        try:
            matched = re.match(rf"(.*\.)?({pattern})$", module)
        except re.error as exc:
            raise InputError(f"alpha_pattern key {pattern!r} is not a valid regular expression ({exc})",
                             config_path) from None
        if matched:
            alpha = value
            break
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def load_lora(path: str | Path) -> LoraAdapter:
    """Load a PEFT LoRA directory (``adapter_config.json`` + ``adapter_model.safetensors``); refuses ``.bin``."""
    directory = Path(path)
    if not directory.is_dir():
        raise InputError("adapter directory not found" if not directory.exists() else
                         "expected an adapter directory, found a file", directory)
    config = read_adapter_config(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.exists():
        if (directory / PICKLE_WEIGHTS_NAME).exists():
            raise InputError(f"{PICKLE_WEIGHTS_NAME} is pickled and is not loaded; convert it once with "
                             f"`compbench adapters convert {directory}`", directory)
        raise InputError(f"no {WEIGHTS_NAME}", directory)
    try:
        # Read into memory rather than memory-map, so that rewriting the file later cannot break these tensors.
        tensors = load_safetensors_bytes(weights.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"cannot read safetensors ({exc})", weights) from None
    factors: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        name = key[len(_PEFT_PREFIX):] if key.startswith(_PEFT_PREFIX) else key
        match = _KEY.match(name)
        if match is None:
            raise InputError(f"unsupported tensor {key!r} (only lora_A/lora_B of Linear layers; no biases, "
                             "embeddings, DoRA or modules_to_save)", weights)
        if tensor.ndim != 2:
            raise InputError(f"{key!r} has shape {tuple(tensor.shape)}; only Linear LoRA layers are supported",
                             weights)
        factors.setdefault(match["module"], {})[match["which"]] = tensor
    if not factors:
        raise InputError("no LoRA tensors found", weights)
    modules: dict[str, LoraFactors] = {}
    for module, pair in factors.items():
        if set(pair) != {"A", "B"}:
            missing = "lora_B" if "A" in pair else "lora_A"
            raise InputError(f"module {module!r} has no {missing}.weight", weights)
        A, B = pair["A"], pair["B"]
        if A.shape[0] != B.shape[1]:
            raise InputError(f"module {module!r}: lora_A rank {A.shape[0]} != lora_B rank {B.shape[1]}", weights)
        modules[module] = LoraFactors(A=A, B=B, scaling=_scaling(config, module, int(A.shape[0]),
                                                                           directory / CONFIG_NAME))
    return LoraAdapter(base_model=config.get("base_model_name_or_path"), config=config, modules=modules)


def adapter_sha256(path: str | Path) -> str:
    """A content hash of a PEFT LoRA directory: of its config and its weights, the files that decide its effect."""
    directory = Path(path)
    digest = hashlib.sha256()
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        file = directory / name
        if not file.is_file():
            raise InputError(f"no {name}" + (" (adapter directory not found)" if not directory.is_dir() else ""),
                             directory)
        digest.update(f"{name}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- writing
def adapter_config_for(adapter: LoraAdapter) -> dict[str, Any]:
    """The ``adapter_config.json`` that makes PEFT rebuild ``adapter`` exactly (ranks and scalings)."""
    if not adapter.modules:
        raise InputError("cannot save an adapter without modules")
    ranks = {name: f.rank for name, f in adapter.modules.items()}
    alphas = {name: f.scaling * f.rank for name, f in adapter.modules.items()}
    r = Counter(ranks.values()).most_common(1)[0][0]
    alpha = Counter(alphas.values()).most_common(1)[0][0]
    config = {key: value for key, value in adapter.config.items()
              if key not in {"r", "lora_alpha", "rank_pattern", "alpha_pattern", "use_rslora", "use_dora",
                             "modules_to_save", "layers_to_transform", "layers_pattern", "target_modules",
                             "target_parameters", "trainable_token_indices", "layer_replication",
                             "exclude_modules"}}
    config.setdefault("peft_type", "LORA")
    config.setdefault("bias", "none")
    config.setdefault("lora_dropout", 0.0)
    config.setdefault("fan_in_fan_out", False)
    config.setdefault("inference_mode", True)
    config.update(
        base_model_name_or_path=adapter.base_model,
        r=r,
        lora_alpha=_plain_number(alpha),
        use_rslora=False,
        use_dora=False,
        target_modules=sorted(adapter.module_types),
        rank_pattern={re.escape(n): v for n, v in ranks.items() if v != r},
        alpha_pattern={re.escape(n): _plain_number(v) for n, v in alphas.items() if v != alpha},
    )
    return config


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def save_lora(adapter: LoraAdapter, path: str | Path) -> None:
    """Write ``adapter`` as a PEFT LoRA directory that ``PeftModel.from_pretrained`` loads.

    A new directory appears complete or not at all (written beside it, then renamed). In an existing
    directory each file is replaced atomically, the config last, so a config always has its weights.
    """
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise InputError("output exists and is not a directory", directory)
    config = adapter_config_for(adapter)
    tensors: dict[str, torch.Tensor] = {}
    for name, f in adapter.modules.items():
        if f.A.ndim != 2 or f.B.ndim != 2 or f.A.shape[0] != f.B.shape[1]:
            raise InputError(f"module {name!r}: A {tuple(f.A.shape)} and B {tuple(f.B.shape)} do not form a LoRA")
        tensors[f"{_PEFT_PREFIX}{name}.lora_A.weight"] = f.A.detach().contiguous().cpu()
        tensors[f"{_PEFT_PREFIX}{name}.lora_B.weight"] = f.B.detach().contiguous().cpu()
    if directory.exists():
        _write_files(directory, tensors, config)
        return
    # A new directory is assembled beside its final place and renamed in one step.
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = make_staging_dir(directory)
    try:
        _write_files(staging, tensors, config)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_files(directory: Path, tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    write_json(directory / CONFIG_NAME, config)


def lora_from_peft_model(model: torch.nn.Module, adapter_name: str = "default") -> LoraAdapter:
    """Read adapter ``adapter_name`` out of an in-memory ``PeftModel`` (factors are detached copies)."""
    from peft.tuners.lora import LoraLayer

    peft_config = model.peft_config[adapter_name]
    config = peft_config.to_dict()
    config = {k: (sorted(v) if isinstance(v, set) else v) for k, v in config.items()}
    modules: dict[str, LoraFactors] = {}
    base = model.get_base_model()
    for name, module in base.named_modules():
        if isinstance(module, LoraLayer) and adapter_name in module.lora_A:
            modules[name] = LoraFactors(
                A=module.lora_A[adapter_name].weight.detach().clone(),
                B=module.lora_B[adapter_name].weight.detach().clone(),
                scaling=float(module.scaling[adapter_name]),
            )
    return LoraAdapter(base_model=config.get("base_model_name_or_path"), config=config, modules=modules)


# ------------------------------------------------------------------------------------------- conversion
def convert_bin_to_safetensors(path: str | Path) -> Path:
    """Convert a pickled ``adapter_model.bin`` to ``adapter_model.safetensors`` beside it, safely.

    ``path`` is the adapter directory or the ``.bin`` file. The pickle is read with
    ``torch.load(weights_only=True)``, which only rebuilds tensors and plain containers and refuses any other
    object. The ``.bin`` is left in place; the new file is written atomically. Returns its path.
    """
    source = Path(path)
    if source.is_dir():
        source = source / PICKLE_WEIGHTS_NAME
    if not source.exists():
        raise InputError("no pickled weights to convert", source)
    return pickled_state_to_safetensors(source, source.with_name(WEIGHTS_NAME))
