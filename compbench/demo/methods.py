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
from functools import partial
from pathlib import Path

from compbench.methods import MethodSpec
from compbench.methods.roles import chain
from compbench.tasks import MAIN_SUBTASKS, get_task, tasks_in_family


@dataclass(frozen=True)
class Unit:
    """One bundle of a method (or none) and the sub-tasks it is evaluated on.

    ``make(directory, context)`` writes the bundle into an empty directory (picklable: it may run in a worker);
    ``None`` when the method needs no bundle of its own (``bundle`` then names the single-task bundle to use, or
    is ``None`` for the base model).
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


def single_tasks(subtasks: tuple[str, ...] = MAIN_SUBTASKS) -> list[str]:
    """The single tasks that ``subtasks`` chain (default: the 14 of Table 2), main tasks first."""
    tasks = list(dict.fromkeys(task for subtask in subtasks for task in chain(subtask)))
    return sorted(tasks, key=lambda task: get_task(task).main not in ("sum", "reply"))


def units(spec: MethodSpec, subtasks: tuple[str, ...] = MAIN_SUBTASKS) -> list[Unit]:
    """The bundles of ``spec`` that the demo makes and evaluates, covering ``subtasks`` (default: the 14
    sub-tasks of Table 2)."""
    if spec.combine == "none":
        return [Unit(spec.id, spec.id, subtasks)]
    if spec.combine == "adapter" and spec.adapters[0] in ("main", "aux"):
        position = 0 if spec.adapters[0] == "main" else 1
        by_task: dict[str, list[str]] = {}
        for subtask in subtasks:
            by_task.setdefault(chain(subtask)[position], []).append(subtask)
        return [Unit(spec.id, task, tuple(served), bundle=task) for task, served in by_task.items()]
    if spec.combine == "steps":
        tasks = tuple(single_tasks(subtasks))
        return [Unit(spec.id, "all-loras", subtasks, make=partial(make_bundle, method=spec.id, data=(), tasks=tasks),
                     inputs=tasks)]
    if spec.trained_on_compositional and not per_adapter(spec):
        groups: dict[str, list[str]] = {}
        for subtask in subtasks:  # one per family, the paper's "compositional task"; or one for all of them
            groups.setdefault("shared" if spec.shared else get_task(subtask).family, []).append(subtask)
        made = []
        for label, served in groups.items():
            tasks = tuple(single_tasks(tuple(served))) if spec.combine == "calibration" and spec.needs_adapters else ()
            made.append(Unit(spec.id, label, tuple(served), inputs=tasks,
                             make=partial(make_bundle, method=spec.id, data=_data(served), tasks=tasks)))
        return made
    made = []
    for subtask in subtasks:
        tasks = chain(subtask) if spec.needs_adapters else ()
        made.append(Unit(spec.id, subtask, (subtask,), inputs=tasks,
                         make=partial(make_bundle, method=spec.id, data=(subtask,), tasks=tasks)))
    return made


def per_adapter(spec: MethodSpec) -> bool:
    """Whether what the method learns is one value per input LoRA (merge weights, column-wise coefficients): it is
    then learned for each sub-task's own pair of LoRAs; what is not (a joint-expert LoRA, calibration parameters)
    is learned per family, or once for all families when ``shared``."""
    return bool({"weights", "coefficients"} & set(spec.learned))


def _data(subtasks: list[str]) -> tuple[str, ...]:
    """The families whose every sub-task is in ``subtasks`` by family name, the others sub-task by sub-task."""
    families = list(dict.fromkeys(get_task(s).family for s in subtasks))
    whole = [f for f in families if {t.id for t in tasks_in_family(f)} <= set(subtasks)]
    return (*whole, *(s for s in subtasks if get_task(s).family not in whole))


def make_bundle(directory: Path, context: TrainingContext, *, method: str, data: tuple[str, ...],
                tasks: tuple[str, ...]) -> dict:
    """Write the bundle of ``method`` from the single-task LoRAs of ``tasks``, trained on the compositional
    sub-tasks or families ``data`` when the method learns anything."""
    from compbench.methods import get_method

    spec = get_method(method)
    inputs = [context.loras[task] for task in tasks]
    if not spec.trained_on_compositional:
        _untrained(spec, directory, context, inputs)
        return {}
    bundle = _trained(spec, directory, context, list(data), inputs)
    if bundle.manifest.method != spec.id:
        raise RuntimeError(f"made a {bundle.manifest.method!r} bundle for method {spec.id!r}")
    parameters = bundle.manifest.parameters
    return {key: parameters[key] for key in ("first_loss", "last_loss", "weights", "loss") if key in parameters}


def _untrained(spec: MethodSpec, directory: Path, context: TrainingContext, inputs: list[Path]) -> None:
    """Fixed merges (``adapters merge --bundle``) and multi-step (a bundle of the LoRAs with their tasks)."""
    from compbench.bundle import load_input_adapter, write_bundle

    if spec.combine == "merge":
        from compbench.adapters.operations import merge_adapter_dirs

        merge_adapter_dirs(spec.id, inputs, directory, bundle=True, base_model=context.base_model)
        return
    loaded = [load_input_adapter(path) for path in inputs]
    write_bundle(directory, base_model=context.base_model, method=spec.id,
                 adapters={item.name: item.adapter for item in loaded}, tasks={item.name: item.task for item in loaded})


def _trained(spec: MethodSpec, directory: Path, context: TrainingContext, data: list[str], adapters: list[Path]):
    """Joint-expert LoRAs, learned merges and Learnable Calibration, trained on compositional ``data``."""
    from compbench.training.bundles import train_calibration_bundle, train_lora_bundle, train_merge_bundle
    from compbench.training.lora import LoraSettings

    s = context.settings
    common = dict(progress=context.progress, max_length=s.max_length,
                  checkpoint_dir=directory.with_name(directory.name + ".checkpoints"))
    if spec.combine == "adapter":
        return train_lora_bundle(context.base_model, context.release, data, directory,
                                 settings=LoraSettings(r=s.lora_rank, alpha=s.lora_alpha, dropout=0.0),
                                 config=steps_config(s.lora_lr, s.batch_size, s.joint_steps, context.seed), **common)
    if spec.combine == "merge":
        config = steps_config(s.coefficient_lr, s.batch_size, s.coefficient_steps, context.seed)
        examples = None if "coefficients" in spec.learned else s.few_examples  # DAM: every row
        return train_merge_bundle(context.base_model, context.release, data, adapters, directory, method=spec.id,
                                  examples=examples, config=config, budget=s.lorahub_budget, **common)
    config = steps_config(s.calibration_lr, s.batch_size, s.calibration_steps * (2 if spec.shared else 1), context.seed)
    return train_calibration_bundle(context.base_model, context.release, data, adapters, directory,
                                    kind=spec.calibration or "", rank=s.calibration_rank, examples=None,
                                    config=config, **common)


def steps_config(learning_rate: float, batch_size: int, steps: int, seed: int):
    """Adam for exactly ``steps`` steps over every row of the (small) training splits, as many passes as that
    takes: ``epochs`` only bounds the seeded batch order, ``max_steps`` stops it."""
    from compbench.training.loop import TrainConfig

    return TrainConfig(learning_rate=learning_rate, batch_size=batch_size, epochs=steps, max_steps=steps, seed=seed,
                       checkpoint_every=0)
