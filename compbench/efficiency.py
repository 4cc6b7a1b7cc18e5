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

Shared variants count the same parameters, but one set serves all four families. Bytes are ``2 * params``;
the paper's "MB" is 2**20 bytes (MiB): see docs/methods.md for the Table 3 check.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError
from compbench.schemas import Efficiency

BYTES_PER_PARAM_16BIT = 2
MODULE_TYPES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Architecture:
    """The sizes that decide adapter parameter counts of a Llama-style decoder."""

    name: str
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int

    def module_shapes(self) -> dict[str, tuple[int, int]]:
        """``(d_in, d_out)`` of each adapted module type."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {
            "q_proj": (self.hidden, q),
            "k_proj": (self.hidden, kv),
            "v_proj": (self.hidden, kv),
            "o_proj": (q, self.hidden),
            "gate_proj": (self.hidden, self.intermediate),
            "up_proj": (self.hidden, self.intermediate),
            "down_proj": (self.intermediate, self.hidden),
        }


# The design's architecture table: offline accounting for the paper's models and two more Qwen sizes.
ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch for arch in (
        Architecture("llama-3.2-1b", layers=16, hidden=2048, intermediate=8192, heads=32, kv_heads=8, head_dim=64),
        Architecture("qwen2.5-0.5b", layers=24, hidden=896, intermediate=4864, heads=14, kv_heads=2, head_dim=64),
        Architecture("qwen2.5-1.5b", layers=28, hidden=1536, intermediate=8960, heads=12, kv_heads=2, head_dim=128),
        Architecture("qwen2.5-3b", layers=36, hidden=2048, intermediate=11008, heads=16, kv_heads=2, head_dim=128),
        Architecture("stablelm-2-1.6b", layers=24, hidden=2048, intermediate=5632, heads=32, kv_heads=32,
                     head_dim=64),
    )
}
# Where each named architecture's config lives on the Hub (Llama 3.2 is gated: its config needs a token).
HUB_IDS: dict[str, str] = {
    "llama-3.2-1b": "meta-llama/Llama-3.2-1B",
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B",
    "qwen2.5-3b": "Qwen/Qwen2.5-3B",
    "stablelm-2-1.6b": "stabilityai/stablelm-2-1_6b",
}
PAPER_MODELS = ("llama-3.2-1b", "qwen2.5-1.5b", "stablelm-2-1.6b")  # Table 3 averages over these


def architecture_from_config(config: Any, name: str) -> Architecture:
    """Read the sizes from a transformers config (its ``text_config`` for multimodal ones)."""
    config = getattr(config, "text_config", None) or config
    try:
        hidden, heads = int(config.hidden_size), int(config.num_attention_heads)
        return Architecture(
            name=name,
            layers=int(config.num_hidden_layers),
            hidden=hidden,
            intermediate=int(config.intermediate_size),
            heads=heads,
            kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
            head_dim=int(getattr(config, "head_dim", None) or hidden // heads),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: not a Llama-style decoder config ({exc})") from None


def resolve_architecture(model: str) -> Architecture:
    """``model`` is a name from :data:`ARCHITECTURES`, a local config directory, or a Hub id.

    Configs are read with ``AutoConfig`` and never with remote code. A Hub id needs the network.
    """
    if model in ARCHITECTURES:
        return ARCHITECTURES[model]
    path = Path(model)
    if not path.exists() and "/" not in model:
        raise ConfigError(f"unknown model {model!r}; give one of {', '.join(ARCHITECTURES)}, "
                          "a local config directory or a Hub id")
    if path.exists() and not (path / "config.json").is_file():
        raise ConfigError(f"{model}: no config.json in this directory")
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot load the config of {model!r} ({first_line})") from None
    return architecture_from_config(config, model)


# ------------------------------------------------------------------------------------------ formulas
def joint_expert_params(arch: Architecture, rank: int) -> int:
    return arch.layers * sum(rank * (d_in + d_out) for d_in, d_out in arch.module_shapes().values())


def lc_params(arch: Architecture) -> int:
    return sum(d_out for _, d_out in arch.module_shapes().values())


def lc_plus_params(arch: Architecture, calibration_rank: int) -> int:
    return sum(calibration_rank * (d_in + d_out) for d_in, d_out in arch.module_shapes().values())


def columnwise_params(arch: Architecture, adapters: int) -> int:
    return adapters * arch.layers * lc_params(arch)


@dataclass(frozen=True)
class Settings:
    rank: int = 32
    calibration_rank: int = 4
    tasks: int = 2  # single-task LoRAs composed (2, or 3 for the three-way family)


@dataclass(frozen=True)
class MethodCost:
    label: str  # as the paper's Table 2 / 3 names it
    passes: Callable[[Settings], int]
    params: Callable[[Architecture, Settings], int]
    scope: str = "per compositional task"


def _one(_: Settings) -> int:
    return 1


def _none(_: Architecture, __: Settings) -> int:
    return 0


def _lc(arch: Architecture, _: Settings) -> int:
    return lc_params(arch)


def _lc_plus(arch: Architecture, s: Settings) -> int:
    return lc_plus_params(arch, s.calibration_rank)


# Every row of Table 2, registered once. Method ids are the ones bundles and results use.
METHODS: dict[str, MethodCost] = {
    "zero-shot": MethodCost("Zero-shot", _one, _none, "none"),
    "main-lora": MethodCost("Main-task LoRA", _one, _none, "none"),
    "aux-lora": MethodCost("Auxiliary-task LoRA", _one, _none, "none"),
    "icl": MethodCost("In-context learning", _one, _none, "none"),
    "linear": MethodCost("Linear merge", _one, _none, "none"),
    "concat": MethodCost("Concatenation merge", _one, _none, "none"),
    "ties": MethodCost("TIES merge", _one, _none, "none"),
    "dare": MethodCost("DARE merge", _one, _none, "none"),
    "slerp": MethodCost("Slerp merge", _one, _none, "none"),
    "lorahub": MethodCost("LoraHub merge", _one, lambda a, s: s.tasks),
    "lm-cocktail": MethodCost("LM-Cocktail merge", _one, lambda a, s: s.tasks),
    "dam": MethodCost("DAM/ZipLoRA merge", _one, lambda a, s: columnwise_params(a, s.tasks)),
    "multi-step": MethodCost("Multi-step LoRAs", lambda s: s.tasks, _none, "none"),
    "joint-expert": MethodCost("Joint-expert LoRA", _one, lambda a, s: joint_expert_params(a, s.rank)),
    "lc": MethodCost("Learnable Calibration", _one, _lc),
    "lc++": MethodCost("Learnable Calibration++", _one, _lc_plus),
    "lc-shared": MethodCost("Learnable Calibration (shared)", _one, _lc, "shared by the four families"),
    "lc++-shared": MethodCost("Learnable Calibration++ (shared)", _one, _lc_plus, "shared by the four families"),
    "lc-no-lora": MethodCost("Learnable Calibration without LoRAs", _one, _lc),
    "lc++-no-lora": MethodCost("Learnable Calibration++ without LoRAs", _one, _lc_plus),
    "lc-shared-no-lora": MethodCost("Learnable Calibration (shared) without LoRAs", _one, _lc,
                                    "shared by the four families"),
    "lc++-shared-no-lora": MethodCost("Learnable Calibration++ (shared) without LoRAs", _one, _lc_plus,
                                      "shared by the four families"),
}
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
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
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
