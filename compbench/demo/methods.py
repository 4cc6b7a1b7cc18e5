"""Every method of the registry (:data:`compbench.methods.METHODS`) made into adapter bundles from the demo's
single-task LoRAs, with the package's own tools, read off each method's spec (no method is named here):

- ``combine="none"`` (zero-shot, ICL): no bundle; the base model is evaluated by method id;
- one LoRA of role ``main`` / ``aux``: the single-task bundles themselves (``compbench train lora`` writes them
  as ``main-lora`` / ``aux-lora`` bundles), each on the sub-tasks whose main or auxiliary task it learned;
- fixed merges: one bundle per compositional sub-task holding its two single-task LoRAs
  (``compbench adapters merge ... --bundle``);
- multi-step: one bundle holding the nine single-task LoRAs with their tasks (:func:`compbench.bundle.write_bundle`);
  each sub-task runs the LoRAs of its chain;
- methods trained on compositional data: one bundle per compositional sub-task (the paper's "per compositional
  task"), or one for the four families when ``shared``: joint-expert LoRAs (``train_lora_bundle``), learned
  merge weights (``train_merge_bundle``), Learnable Calibration with or without the LoRAs
  (``train_calibration_bundle``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compbench.methods import MethodSpec
from compbench.methods.roles import chain
from compbench.tasks import MAIN_FAMILIES, MAIN_SUBTASKS


@dataclass(frozen=True)
class Unit:
    """One bundle of a method (or none) and the sub-tasks it is evaluated on.

    ``make(directory, context)`` writes the bundle into an empty directory; ``None`` when the method needs no
    bundle of its own (``bundle`` then names the single-task bundle to use, or is ``None`` for the base model).
    """

    method: str
    label: str
    subtasks: tuple[str, ...]
    make: Callable[[Path, TrainingContext], dict] | None = None
    bundle: str | None = None  # a single-task LoRA's task, whose bundle this unit uses
    inputs: tuple[str, ...] = ()  # the single-task LoRAs (tasks) the bundle is made from


@dataclass(frozen=True)
class TrainingContext:
    """What making a bundle needs: the base model, the release, the single-task bundles, the settings."""

    base_model: str
    release: str
    loras: dict[str, Path]  # single task -> its bundle
    settings: object  # compbench.demo.pipeline.DemoSettings
    seed: int
    progress: bool


def single_tasks() -> list[str]:
    """The single tasks the compositional sub-tasks of Table 2 chain, in registry order."""
    return list(dict.fromkeys(task for subtask in MAIN_SUBTASKS for task in chain(subtask)))


def units(spec: MethodSpec) -> list[Unit]:
    """The bundles of ``spec`` that the demo makes and evaluates, covering the 14 sub-tasks of Table 2."""
    if spec.combine == "none":
        return [Unit(spec.id, spec.id, MAIN_SUBTASKS)]
    if spec.combine == "adapter" and spec.adapters[0] in ("main", "aux"):
        position = 0 if spec.adapters[0] == "main" else 1
        by_task: dict[str, list[str]] = {}
        for subtask in MAIN_SUBTASKS:
            by_task.setdefault(chain(subtask)[position], []).append(subtask)
        return [Unit(spec.id, task, tuple(subtasks), bundle=task) for task, subtasks in by_task.items()]
    if spec.combine == "steps":
        tasks = tuple(single_tasks())
        return [Unit(spec.id, "all-loras", MAIN_SUBTASKS, make=_untrained(spec, tasks), inputs=tasks)]
    if spec.shared and spec.trained_on_compositional:
        tasks = tuple(single_tasks()) if spec.needs_adapters else ()
        return [Unit(spec.id, "shared", MAIN_SUBTASKS, make=_trained(spec, list(MAIN_FAMILIES), tasks), inputs=tasks)]
    made = []
    for subtask in MAIN_SUBTASKS:
        tasks = chain(subtask) if spec.needs_adapters and spec.combine != "adapter" else ()
        make = _trained(spec, [subtask], tasks) if spec.trained_on_compositional else _untrained(spec, tasks)
        made.append(Unit(spec.id, subtask, (subtask,), make=make, inputs=tasks))
    return made


def _untrained(spec: MethodSpec, tasks: tuple[str, ...]) -> Callable[[Path, TrainingContext], dict]:
    """Fixed merges (``adapters merge --bundle``) and multi-step (a bundle of the LoRAs with their tasks)."""

    def make(directory: Path, context: TrainingContext) -> dict:
        from compbench.bundle import load_input_adapter, write_bundle

        inputs = [context.loras[task] for task in tasks]
        if spec.combine == "merge":
            from compbench.adapters.operations import merge_adapter_dirs

            merge_adapter_dirs(spec.id, inputs, directory, bundle=True, base_model=context.base_model)
        else:
            loaded = [load_input_adapter(path) for path in inputs]
            write_bundle(directory, base_model=context.base_model, method=spec.id,
                         adapters={item.name: item.adapter for item in loaded},
                         tasks={item.name: item.task for item in loaded})
        return {}

    return make


def _trained(spec: MethodSpec, data: list[str], tasks: tuple[str, ...]) -> Callable[[Path, TrainingContext], dict]:
    """Joint-expert LoRAs, learned merges and Learnable Calibration, trained on compositional ``data``."""

    def make(directory: Path, context: TrainingContext) -> dict:
        from compbench.training.bundles import train_calibration_bundle, train_lora_bundle, train_merge_bundle
        from compbench.training.loop import TrainConfig
        from compbench.training.lora import LoraSettings

        s = context.settings
        adapters = [context.loras[task] for task in tasks]
        common = dict(progress=context.progress, max_length=s.max_length, checkpoint_dir=directory.with_name(
            directory.name + ".checkpoints"))
        if spec.combine == "adapter":
            config = TrainConfig(learning_rate=s.lora_lr, batch_size=s.batch_size, max_steps=s.joint_steps,
                                 seed=context.seed, checkpoint_every=0)
            bundle = train_lora_bundle(context.base_model, context.release, data, directory,
                                       settings=LoraSettings(r=s.lora_rank, alpha=s.lora_alpha, dropout=0.0),
                                       config=config, examples=s.joint_steps * s.batch_size, **common)
        elif spec.combine == "merge":
            steps = s.coefficient_steps
            config = TrainConfig(learning_rate=s.coefficient_lr, batch_size=s.batch_size, max_steps=steps,
                                 seed=context.seed, checkpoint_every=0)
            examples = steps * s.batch_size if "coefficients" in spec.learned else s.few_examples
            bundle = train_merge_bundle(context.base_model, context.release, data, adapters, directory,
                                        method=spec.id, examples=examples, config=config, budget=s.lorahub_budget,
                                        **common)
        else:
            steps = s.calibration_steps * (2 if spec.shared else 1)
            config = TrainConfig(learning_rate=s.calibration_lr, batch_size=s.batch_size, max_steps=steps,
                                 seed=context.seed, checkpoint_every=0)
            bundle = train_calibration_bundle(context.base_model, context.release, data, adapters, directory,
                                              kind=spec.calibration or "", rank=s.calibration_rank,
                                              examples=steps * s.batch_size, config=config, **common)
        if bundle.manifest.method != spec.id:
            raise RuntimeError(f"made a {bundle.manifest.method!r} bundle for method {spec.id!r}")
        parameters = bundle.manifest.parameters
        return {key: parameters[key] for key in ("first_loss", "last_loss", "weights", "loss") if key in parameters}

    return make
