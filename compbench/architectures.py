"""Architecture facts of the base models, for offline efficiency accounting (no weights are loaded).

The sizes that decide adapter parameter counts of a Llama-style decoder, for the paper's models and two more
Qwen sizes (the design's architecture table), and the parameter formulas the method registry refers to.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Settings:
    """What the efficiency formulas depend on besides the architecture."""

    rank: int = 32  # LoRA rank of a joint-expert adapter
    calibration_rank: int = 4  # LC++'s rank
    tasks: int = 2  # single-task LoRAs composed (2, or 3 for the three-way family)


# ------------------------------------------------------------------------------------------ formulas
def joint_expert_params(arch: Architecture, rank: int) -> int:
    """A new LoRA of rank ``rank`` on every adapted module of every layer."""
    return arch.layers * sum(rank * (d_in + d_out) for d_in, d_out in arch.module_shapes().values())


def lc_params(arch: Architecture) -> int:
    """LC: one vector of size ``d_out`` per module type, shared by all layers."""
    return sum(d_out for _, d_out in arch.module_shapes().values())


def lc_plus_params(arch: Architecture, calibration_rank: int) -> int:
    """LC++: ``P2 P1`` of rank ``c`` per module type, shared by all layers."""
    return sum(calibration_rank * (d_in + d_out) for d_in, d_out in arch.module_shapes().values())


def columnwise_params(arch: Architecture, adapters: int) -> int:
    """DAM / ZipLoRA: a coefficient per output channel, adapter and layer."""
    return adapters * arch.layers * lc_params(arch)
