"""Efficiency accounting for the methods of the paper's Table 2: inference passes, additional parameters and
additional bytes at 16 bits, from a model's architecture alone (no weights are loaded).

"Additional" means beyond the base model and the single-task LoRAs a device already stores. Per module type
(q, k, v, o, gate, up, down) with input/output sizes ``d_in``/``d_out`` and ``L`` layers:

- joint-expert LoRA of rank ``r``: ``L * Σ_types r (d_in + d_out)`` (a new adapter per compositional task);
- LC: ``Σ_types d_out`` (one vector per module type, shared by all layers);
- LC++ of rank ``c``: ``Σ_types c (d_in + d_out)``;
- DAM / ZipLoRA: ``N * L * Σ_types d_out`` (a coefficient per output channel, adapter and layer);
- LoraHub / LM-Cocktail: ``N`` weights; the other merges and single-LoRA baselines: 0;
- multi-step: one inference pass per task (``N``), everything else one pass.

The formulas live with the methods (:mod:`compbench.methods`, :mod:`compbench.architectures`); this module
resolves an architecture and tabulates them.

Shared variants count the same parameters, but one set serves all four families. Bytes are ``2 * params``;
the paper's "MB" is 2**20 bytes (MiB): see docs/methods.md for the Table 3 check.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from compbench.architectures import (  # noqa: F401  (re-exported: the names efficiency callers use)
    ARCHITECTURES,
    HUB_IDS,
    MODULE_TYPES,
    PAPER_MODELS,
    Architecture,
    Settings,
    joint_expert_params,
)
from compbench.errors import ConfigError, InputError
from compbench.fileio import read_json_strict
from compbench.hub_access import hub_access
from compbench.methods import METHODS, get_method
from compbench.schemas import Efficiency

BYTES_PER_PARAM_16BIT = 2


def architecture_from_config(config: Any, name: str) -> Architecture:
    """Read the sizes from a config: a ``config.json`` mapping or a transformers config object (its
    ``text_config`` for multimodal ones)."""

    def get(source: Any, key: str) -> Any:
        return source.get(key) if isinstance(source, dict) else getattr(source, key, None)

    config = get(config, "text_config") or config
    try:
        hidden, heads = int(get(config, "hidden_size")), int(get(config, "num_attention_heads"))
        return Architecture(
            name=name,
            layers=int(get(config, "num_hidden_layers")),
            hidden=hidden,
            intermediate=int(get(config, "intermediate_size")),
            heads=heads,
            kv_heads=int(get(config, "num_key_value_heads") or heads),
            head_dim=int(get(config, "head_dim") or hidden // heads),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: not a Llama-style decoder config ({exc})") from None


def resolve_architecture(model: str) -> Architecture:
    """``model`` is a name from :data:`ARCHITECTURES`, a local config directory, or a Hub id.

    Only ``config.json`` is read (as JSON: no model code runs); a Hub id downloads that one file.
    """
    if model in ARCHITECTURES:
        return ARCHITECTURES[model]
    path = Path(model)
    if not path.exists() and "/" not in model:
        raise ConfigError(f"unknown model {model!r}; give one of {', '.join(ARCHITECTURES)}, "
                          "a local config directory or a Hub id")
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{model}: no config.json in this directory")
        config_path = path / "config.json"
    else:
        from huggingface_hub import hf_hub_download

        with hub_access(f"the config of {model}", "use a named architecture or a local config directory"):
            config_path = Path(hf_hub_download(model, "config.json"))
    config = read_json_strict(config_path)
    if not isinstance(config, dict):
        raise InputError("expected a JSON object", config_path)
    return architecture_from_config(config, model)


TABLE3_METHODS = ("multi-step", "joint-expert", "lc", "lc++")


@dataclass(frozen=True)
class EfficiencyReport:
    model: str
    architecture: Architecture
    settings: Settings
    methods: dict[str, Efficiency]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "architecture": asdict(self.architecture),
            "settings": asdict(self.settings),
            "methods": {name: {**cost.model_dump(), "label": METHODS[name].label, "scope": METHODS[name].scope}
                        for name, cost in self.methods.items()},
        }


def efficiency(model: str | Architecture, rank: int = 32, calibration_rank: int = 4,
               tasks: int = 2) -> EfficiencyReport:
    """Inference passes, additional parameters and bytes (16 bit) of every Table 2 method for ``model``."""
    for label, value, low in (("rank", rank, 1), ("calibration rank", calibration_rank, 1), ("tasks", tasks, 2)):
        if int(value) != value or value < low:
            raise ConfigError(f"{label} must be an integer >= {low}, got {value}")
    arch = model if isinstance(model, Architecture) else resolve_architecture(model)
    settings = Settings(rank=int(rank), calibration_rank=int(calibration_rank), tasks=int(tasks))
    methods = {}
    for name, cost in METHODS.items():
        params = cost.params(arch, settings)
        methods[name] = Efficiency(inference_passes=cost.passes(settings), additional_params=params,
                                   additional_bytes=params * BYTES_PER_PARAM_16BIT)
    return EfficiencyReport(model=arch.name, architecture=arch, settings=settings, methods=methods)


def method_efficiency(method: str, model: str | Architecture, rank: int = 32, calibration_rank: int = 4,
                      tasks: int = 2) -> Efficiency:
    """The :class:`~compbench.schemas.Efficiency` a results document records for ``method`` on ``model``."""
    get_method(method)
    return efficiency(model, rank=rank, calibration_rank=calibration_rank, tasks=tasks).methods[method]


def average(reports: Iterable[EfficiencyReport]) -> dict[str, dict[str, float]]:
    """The mean of each method's figures over ``reports`` (Table 3 averages over three models)."""
    reports = list(reports)
    if not reports:
        raise ConfigError("nothing to average")
    keys = ("inference_passes", "additional_params", "additional_bytes")
    return {name: {key: sum(getattr(r.methods[name], key) for r in reports) / len(reports) for key in keys}
            for name in reports[0].methods}


# ------------------------------------------------------------------------------------------- display
def format_count(value: float) -> str:
    """Parameter counts as the paper prints them: 0, 23K, 166K, 30M."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}K"
    return f"{value:g}"


def format_mib(value: float) -> str:
    return f"{value / 2**20:.2f} MB"


def table3_lines(title: str, methods: dict[str, dict[str, float]], names: Iterable[str]) -> list[str]:
    """The Table 3 layout: method, inference passes, additional parameters, additional storage (MiB)."""
    header = ("Method", "Inference passes", "Additional params", "Additional storage")
    rows = [header] + [(METHODS[n].label, f"{methods[n]['inference_passes']:g}x",
                        format_count(methods[n]["additional_params"]),
                        format_mib(methods[n]["additional_bytes"])) for n in names]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [title]
    for row in rows:
        lines.append("  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:],
                                                                                      strict=True)]))
    return lines


# ------------------------------------------------------------------------------------- files on disk
def safetensors_file_bytes(shapes: dict[str, tuple[int, ...]], dtype: str = "F16", bytes_per_value: int = 2,
                           metadata: dict[str, str] | None = None) -> int:
    """The exact size of the safetensors file holding tensors of ``shapes`` (header included), unwritten.

    The format: 8 bytes of header length, a compact JSON header (``__metadata__`` first, then tensors in
    name order with their byte offsets) padded with spaces to a multiple of 8, then the data.
    """
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name in sorted(shapes):
        size = bytes_per_value * math.prod(shapes[name])
        header[name] = {"dtype": dtype, "shape": list(shapes[name]), "data_offsets": [offset, offset + size]}
        offset += size
    length = len(json.dumps(header, separators=(",", ":")).encode())
    return 8 + length + (-length) % 8 + offset


def joint_expert_file_bytes(arch: Architecture, rank: int) -> int:
    """Size of a joint-expert LoRA's ``adapter_model.safetensors`` as PEFT names a Llama-style model's keys."""
    shapes = {}
    for layer in range(arch.layers):
        for module, (d_in, d_out) in arch.module_shapes().items():
            block = "mlp" if module in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            key = f"base_model.model.model.layers.{layer}.{block}.{module}"
            shapes[f"{key}.lora_A.weight"] = (rank, d_in)
            shapes[f"{key}.lora_B.weight"] = (d_out, rank)
    return safetensors_file_bytes(shapes, metadata={"format": "pt"})
