"""What a method of the paper's Table 2 (or Table 4's ablation) is: :class:`MethodSpec`.

A spec is plain data (no torch): the leaderboard, ``compbench efficiency`` and ``compbench methods`` read it
without loading any backend. How a bundle of the method runs at inference is declared by ``adapters`` (the
roles of the LoRAs it uses), ``combine`` (how they become the weights of each inference pass), ``prompt``
(which prompt the model sees) and ``learned`` (what else the bundle must carry). ``compbench.evaluation``
turns that into model calls: one function per ``combine`` kind (:data:`COMBINE_KINDS`), imported only when a
model runs (docs/evaluate.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from compbench.architectures import Architecture, Settings

#: The blocks of the paper's tables, in their order. ``ablation`` is Table 4 (calibration without LoRAs).
BLOCKS: tuple[str, ...] = ("baselines", "merges", "inefficient", "ours", "shared", "ablation")
BLOCK_TITLES: dict[str, str] = {
    "baselines": "Baselines",
    "merges": "Merges of the single-task LoRAs",
    "inefficient": "Inefficient baselines",
    "ours": "Learnable Calibration",
    "shared": "Learnable Calibration, shared by the four families",
    "ablation": "Learnable Calibration without LoRAs (Table 4)",
}

Combine = Literal["none", "adapter", "merge", "steps", "calibration"]
Prompt = Literal["compositional", "icl", "single-steps"]
Role = Literal["main", "aux", "joint"]
Learned = Literal["calibration", "coefficients", "weights"]

#: What each ``combine`` kind does at inference (``compbench methods`` prints it).
COMBINE_KINDS: dict[str, str] = {
    "none": "the base model alone",
    "adapter": "one LoRA folded into the base weights",
    "merge": "the LoRAs merged into one, folded into the base weights",
    "steps": "each LoRA in turn, one inference pass per task, each step's output the next step's input",
    "calibration": "mean of the LoRAs plus the calibration parameters, folded into the base weights",
}
#: What a bundle may have to carry beyond its LoRAs (``learned``).
LEARNED: dict[str, str] = {
    "calibration": "calibration.safetensors (LC / LC++ parameters)",
    "coefficients": "calibration.safetensors holding column-wise merge coefficients",
    "weights": "merge weights in bundle.json's parameters ('weights')",
}


def one_pass(_: Settings) -> int:
    return 1


def no_params(_: Architecture, __: Settings) -> int:
    return 0


@dataclass(frozen=True)
class MethodSpec:
    """One row of Table 2 / Table 4.

    - ``id``: what bundles, results and the CLI call it; ``label``: the paper's row label; ``short``: a
      compact label for narrow tables.
    - ``block``: one of :data:`BLOCKS`; the registry's order within a block is the paper's row order.
    - ``passes(settings)`` / ``params(arch, settings)``: inference passes per example and additional
      parameters beyond the base model and the single-task LoRAs a device already stores (Table 3);
      ``scope`` says what those parameters serve.
    - ``adapters``: the roles of the LoRAs a bundle holds (``main``: the main task's LoRA, ``aux``: the
      auxiliary task's, one per auxiliary step; ``joint``: a LoRA trained on compositional data).
    - ``combine``: ``none`` (the base model), ``adapter`` (the one LoRA active), ``merge`` (the LoRAs merged
      with :data:`compbench.adapters.merges.MERGES` entry ``merge``), ``steps`` (each LoRA in turn, one
      inference pass per task), ``calibration`` (mean of the LoRAs plus calibration parameters).
    - ``prompt``: ``compositional`` (the sub-task's prompt), ``icl`` (one solved training example, then the
      compositional prompt), ``single-steps`` (each step's single-task prompt).
    - ``learned``: what the bundle carries besides its LoRAs (:data:`LEARNED`), checked when it is written.
    - ``trained_on_compositional``: whether making a bundle needs compositional training data.
    """

    id: str
    label: str
    short: str
    block: str
    adapters: tuple[Role, ...] = ()
    combine: Combine = "none"
    prompt: Prompt = "compositional"
    merge: str | None = None
    calibration: str | None = None  # "lc" | "lc++"
    shared: bool = False  # one set of parameters for the four families
    learned: tuple[Learned, ...] = ()
    trained_on_compositional: bool = False
    passes: Callable[[Settings], int] = one_pass
    params: Callable[[Architecture, Settings], int] = no_params
    scope: str = "none"
    reference: str | None = None  # where the method comes from (paper or URL)

    def __post_init__(self) -> None:
        if self.block not in BLOCKS:
            raise ValueError(f"method {self.id}: unknown block {self.block!r}")
        if (self.combine == "merge") != (self.merge is not None):
            raise ValueError(f"method {self.id}: a merge names its merge function, and only a merge does")
        if (self.combine == "calibration") != (self.calibration is not None):
            raise ValueError(f"method {self.id}: calibration methods name their kind, and only they do")
        if (self.combine == "none" and self.adapters) or (self.combine in ("adapter", "merge", "steps")
                                                          and not self.adapters):
            raise ValueError(f"method {self.id}: combine {self.combine!r} does not fit adapters {self.adapters}")
        if self.combine == "calibration" and "calibration" not in self.learned:
            raise ValueError(f"method {self.id}: a calibration method carries its calibration")

    @property
    def needs_adapters(self) -> bool:
        """Whether a bundle of this method holds LoRAs (zero-shot, ICL and the ablation hold none)."""
        return bool(self.adapters)

    def describe(self) -> str:
        """How a bundle of this method runs, in one line (``compbench methods``)."""
        roles = {("main",): "the main task's LoRA", ("aux",): "the auxiliary task's LoRA",
                 ("joint",): "the joint-expert LoRA", ("main", "aux"): "the main and auxiliary tasks' LoRAs"}
        what = COMBINE_KINDS[self.combine]
        if self.merge:
            what += f" (merge {self.merge!r})"
        if self.calibration:
            what = f"{self.calibration.upper()}: " + (what if self.adapters else "the calibration alone, "
                                                      "folded into the base weights")
        uses = f"{roles[self.adapters]}; " if self.adapters else ""
        prompt = {"compositional": "compositional prompt", "icl": "one training example, then the compositional "
                  "prompt", "single-steps": "each step's single-task prompt"}[self.prompt]
        return f"{uses}{what}; {prompt}"

    def to_dict(self) -> dict[str, object]:
        """The spec as JSON-ready data (the formulas left out)."""
        return {"id": self.id, "label": self.label, "short": self.short, "block": self.block,
                "adapters": list(self.adapters), "combine": self.combine, "prompt": self.prompt,
                "merge": self.merge, "calibration": self.calibration, "shared": self.shared,
                "learned": list(self.learned), "trained_on_compositional": self.trained_on_compositional,
                "scope": self.scope, "reference": self.reference, "inference": self.describe()}
