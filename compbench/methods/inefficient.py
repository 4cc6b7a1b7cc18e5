"""The inefficient baselines of Table 2: multi-step LoRA usage (one pass per task) and a joint-expert LoRA."""

from __future__ import annotations

from compbench.architectures import Architecture, Settings, joint_expert_params
from compbench.methods.spec import MethodSpec


def _steps(s: Settings) -> int:
    return s.tasks


def _joint(arch: Architecture, s: Settings) -> int:
    return joint_expert_params(arch, s.rank)


SPECS = (
    MethodSpec("multi-step", "Multi-step LoRA usage", "Multi-step", "inefficient", adapters=("main", "aux"),
               combine="steps", prompt="single-steps", passes=_steps),
    MethodSpec("joint-expert", "Joint-expert LoRA", "Joint-expert", "inefficient", adapters=("joint",),
               combine="adapter", trained_on_compositional=True, params=_joint, scope="per compositional task"),
)
