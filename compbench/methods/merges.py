"""Merges of the two single-task LoRAs (Table 2's second block): one inference pass with one merged LoRA.

Each row names its merge function in :data:`compbench.adapters.merges.MERGES`. LoraHub, LM-Cocktail and
DAM / ZipLoRA learn their weights on compositional data (``compbench train merge-coefficients``).
"""

from __future__ import annotations

from compbench.architectures import Architecture, Settings, columnwise_params
from compbench.methods.spec import MethodSpec


def _weights(_: Architecture, s: Settings) -> int:
    return s.tasks


def _columnwise(arch: Architecture, s: Settings) -> int:
    return columnwise_params(arch, s.tasks)


def _merge(method_id: str, label: str, short: str, **extra) -> MethodSpec:
    return MethodSpec(method_id, label, short, "merges", adapters=("main", "aux"), combine="merge",
                      merge=method_id, **extra)


_LEARNED = {"trained_on_compositional": True, "scope": "per compositional task"}
_WEIGHTS = {**_LEARNED, "learned": ("weights",)}

SPECS = (
    _merge("linear", "Linear merge", "Linear"),
    _merge("concat", "Concat merge", "Concat"),
    _merge("ties", "TIES merge", "TIES", reference="Yadav et al. 2023"),
    _merge("dare", "DARE merge", "DARE", reference="Yu et al. 2024"),
    _merge("slerp", "Slerp merge", "Slerp"),
    _merge("lorahub", "LoraHub merge", "LoraHub", params=_weights, reference="Huang et al. 2024", **_WEIGHTS),
    _merge("lm-cocktail", "LM-Cocktail merge", "LM-Cocktail", params=_weights, reference="Xiao et al. 2024",
           **_WEIGHTS),
    _merge("dam", "DAM/ZipLoRA merge", "DAM/ZipLoRA", params=_columnwise, learned=("coefficients",),
           reference="Gauthier-Caron et al. 2024; Shah et al. 2024", **_LEARNED),
)
