"""Baselines of Table 2: the base model alone, one single-task LoRA, and in-context learning."""

from __future__ import annotations

from compbench.methods.spec import MethodSpec

SPECS = (
    MethodSpec("zero-shot", "Zero-shot", "Zero-shot", "baselines"),
    MethodSpec("main-lora", "Main-task LoRA", "Main LoRA", "baselines", adapters=("main",), combine="adapter"),
    MethodSpec("aux-lora", "Auxiliary-task LoRA", "Aux LoRA", "baselines", adapters=("aux",), combine="adapter"),
    MethodSpec("icl", "In-context learning", "ICL", "baselines", prompt="icl"),
)
