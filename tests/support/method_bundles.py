"""A bundle of every method of the registry for a tiny base model, and small releases to evaluate them on.

The LoRAs and calibration parameters are random (seeded), written with the package's own writers
(``write_bundle``, ``save_calibration``, ``save_coefficients``): what a trained bundle looks like on disk.
"""

from __future__ import annotations

from pathlib import Path

import torch

from compbench.adapters.calibration import init_calibration, mean_factors, save_calibration
from compbench.bundle import write_bundle
from compbench.methods import get_method
from compbench.methods.roles import chain
from tests.support.release_factory import write_release
from tests.support.split_fixtures import split_rows
from tests.support.tiny_peft import random_adapter


def write_eval_release(root: Path, subtasks: list[str], test: int = 3, train: int = 4) -> Path:
    """A release with ``test`` test rows and ``train`` train rows per sub-task, and its manifest.

    Every input and reference names its split and row (``[train 2]``), so a prompt shows where its text came from.
    """
    rows = []
    for subtask in subtasks:
        for split, n in (("test", test), ("train", train)):
            for i, row in enumerate(split_rows(subtask, split, n)):
                rows.append({**row.model_dump(), "input": f"{row.input} [{split} input {i}]",
                             "reference": f"{row.reference} [{split} reference {i}]"})
    return write_release(root, rows)


def lora_for(model: torch.nn.Module, task: str, scale: float = 0.3):
    """A seeded random rank-4 LoRA standing for ``task``'s single-task adapter."""
    seed = sum(task.encode()) % 1000
    adapter = random_adapter(model, seed=seed, r=4, alpha=8, base_model="tiny")
    for factors in adapter.modules.values():
        factors.B.mul_(scale / 0.3)
    return adapter


def random_calibration(model: torch.nn.Module, kind: str, adapters: list, seed: int = 7):
    merged = mean_factors(adapters) if adapters else None
    calibration = init_calibration(model, kind, rank=2, merged=merged, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in calibration.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    return calibration


def method_bundle(directory: Path, method: str, model: torch.nn.Module, base_model: str,
                  subtask: str = "sum+tr-es") -> Path:
    """Write a bundle of ``method`` for ``subtask`` whose base model is ``base_model`` (shapes from ``model``)."""
    spec = get_method(method)
    tasks = chain(subtask)
    loras = {task: lora_for(model, task) for task in tasks}
    adapters: dict = {}
    names: dict = {}
    parameters: dict = {}
    calibration = None
    if spec.combine == "adapter":
        role = spec.adapters[0]
        if role == "joint":
            adapters = {"joint-expert": lora_for(model, subtask)}
        else:
            task = tasks[0] if role == "main" else tasks[1]
            adapters, names = {task: loras[task]}, {task: task}
    elif spec.needs_adapters:
        adapters, names = dict(loras), {task: task for task in tasks}
    if "weights" in spec.learned:
        parameters["weights"] = [0.7, 0.4, 0.2][:len(tasks)]
    if "coefficients" in spec.learned:
        calibration = {name: torch.rand(len(tasks), f.out_features, generator=torch.Generator().manual_seed(3))
                       for name, f in next(iter(loras.values())).modules.items()}
    if "calibration" in spec.learned:
        kind = spec.calibration
        learned = random_calibration(model, kind, list(loras.values()) if spec.needs_adapters else [])
        calibration = directory.parent / f".{directory.name}.calibration.safetensors"
        save_calibration(learned, calibration)
    trained = [subtask] if spec.trained_on_compositional else list(names) if spec.combine == "adapter" else []
    write_bundle(directory, base_model=base_model, method=method, adapters=adapters, tasks=names,
                 parameters=parameters, calibration=calibration, subtasks=trained)
    return directory
