"""What a method of the paper's Table 2 (or Table 4's ablation) is: :class:`MethodSpec`.

A spec is plain data (no torch): the leaderboard, ``compbench efficiency`` and ``compbench methods`` read it
without loading any backend. How a bundle of the method runs at inference is described by ``adapters``
(the roles the bundle must hold), ``combine`` (how they are combined) and ``prompt`` (which prompt the model
sees); ``compbench.evaluation`` turns that into model calls.
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

    def to_dict(self) -> dict[str, object]:
        """The spec as JSON-ready data (the formulas left out)."""
        return {"id": self.id, "label": self.label, "short": self.short, "block": self.block,
                "adapters": list(self.adapters), "combine": self.combine, "prompt": self.prompt,
                "merge": self.merge, "calibration": self.calibration, "shared": self.shared,
                "trained_on_compositional": self.trained_on_compositional, "scope": self.scope,
                "reference": self.reference}
