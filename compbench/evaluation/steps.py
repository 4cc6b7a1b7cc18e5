"""From a bundle and a sub-task to the inference passes that produce its prediction (no torch here).

A :class:`Target` is what an evaluation runs: a registered method and the files of its bundle, hashed. For each
sub-task, :func:`steps_for` reads the method's registry entry and returns its passes:

- ``combine="none"``: one pass with the base model (zero-shot; ICL adds one training example to the prompt);
- ``adapter`` / ``merge`` / ``calibration``: one pass whose weights are changed by one :class:`WeightUpdate`;
- ``steps``: one pass per task of the sub-task's chain, each with that task's LoRA and single-task prompt.

Which LoRA plays which role comes from the adapters' tasks (``BundleAdapter.task``): the main task's LoRA is the
one whose task is the sub-task's main task (sum, reply), the auxiliary LoRAs those of its auxiliary tasks, in
chain order (the three-way family has two). Adapters without a task are taken in manifest order (main task
first); a joint-expert LoRA is the bundle's one adapter, or the one whose task is the sub-task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compbench import __version__
from compbench.errors import ConfigError, InputError
from compbench.evaluation.plan import FileRef, WeightUpdate, canonical_json
from compbench.methods import MethodSpec, get_method
from compbench.methods.roles import chain
from compbench.schemas import BundleManifest
from compbench.tasks import REGISTRY, get_task


@dataclass(frozen=True)
class Target:
    """A method and its bundle's files: every LoRA and the calibration file by content hash."""

    spec: MethodSpec
    manifest: BundleManifest
    path: Path | None  # None for an adapter-free method named without a bundle directory
    adapters: tuple[FileRef, ...] = ()
    file: FileRef | None = None

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else self.spec.id

    def trained_subtasks(self) -> list[str]:
        """The compositional sub-tasks the bundle was made for, if it says."""
        return [s for s in self.manifest.subtasks if s in REGISTRY and get_task(s).kind != "single"]


@dataclass(frozen=True)
class Step:
    """One inference pass: the weights (``update``, or the base model) and whose prompt the model sees.

    ``task`` is the sub-task itself (its compositional prompt) or, for a multi-step pass, the single task of
    the step. ``icl`` adds one solved training example of the sub-task before the prompt.
    """

    update: WeightUpdate | None
    task: str
    icl: bool = False


def resolve_target(bundle: str | Path | None, method: str | None = None, base_model: str | None = None) -> Target:
    """Read ``bundle`` (a directory), or name an adapter-free ``method`` (zero-shot, ICL) without one.

    Checks that the bundle's method is registered, that every file it names exists, and hashes them.
    """
    from compbench.adapters.lora_io import adapter_sha256
    from compbench.bundle import check_contents, read_bundle
    from compbench.fileio import sha256_file

    if bundle is None:
        if method is None or base_model is None:
            raise ConfigError("give a bundle directory, or --method with --base-model for a method without LoRAs")
        spec = get_method(method)
        if spec.needs_adapters or spec.learned:
            raise ConfigError(f"method {method!r} needs a bundle (its LoRAs or learned parameters); "
                              "only zero-shot and ICL run without one")
        return Target(spec, BundleManifest(base_model=base_model, method=method, compbench_version=__version__), None)
    read = read_bundle(bundle)
    manifest = read.manifest
    if method is not None and method != manifest.method:
        raise ConfigError(f"the bundle is a {manifest.method!r} bundle, not {method!r}; leave --method out")
    spec = get_method(manifest.method)
    check_contents(manifest.method, bool(manifest.adapters), manifest.calibration is not None, manifest.parameters)
    adapters = tuple(FileRef(a.name, str(read.adapter_path(a.name)), adapter_sha256(read.adapter_path(a.name)), a.task)
                     for a in manifest.adapters)
    file = None
    if read.calibration_path is not None:
        if not read.calibration_path.is_file():
            raise InputError("file not found (named by bundle.json)", read.calibration_path)
        file = FileRef(read.calibration_path.name, str(read.calibration_path), sha256_file(read.calibration_path))
    return Target(spec, manifest, read.path, adapters, file)


def compositional_subtasks() -> list[str]:
    """Every sub-task a method can be evaluated on: compositional and out-of-domain, in registry order."""
    return [t.id for t in REGISTRY.values() if t.kind != "single"]


def _pick(target: Target, subtask: str, tasks: tuple[str, ...]) -> tuple[FileRef, ...]:
    """The bundle's LoRAs for ``tasks`` (in that order), by their tasks or else by manifest order."""
    adapters = target.adapters
    if adapters and all(a.task for a in adapters):
        by_task = {a.task: a for a in adapters}
        missing = [t for t in tasks if t not in by_task]
        if missing:
            held = ", ".join(f"{a.name} ({a.task})" for a in adapters)
            raise ConfigError(f"sub-task {subtask} needs a LoRA for {', '.join(missing)}; the bundle holds {held}")
        return tuple(by_task[t] for t in tasks)
    if len(adapters) != len(tasks):
        raise ConfigError(f"sub-task {subtask} needs {len(tasks)} LoRA(s) ({', '.join(tasks)}); the bundle holds "
                          f"{len(adapters)} and does not name their tasks, so it cannot tell which is which")
    return adapters


def _single(target: Target, subtask: str) -> FileRef:
    """The one LoRA of a single-LoRA method for ``subtask`` (main, auxiliary or joint-expert)."""
    role = target.spec.adapters[0]
    steps = chain(subtask)
    if role == "joint":
        if len(target.adapters) == 1:
            return target.adapters[0]
        matching = [a for a in target.adapters if a.task in (subtask, get_task(subtask).family)]
        if len(matching) != 1:
            raise ConfigError(f"the bundle holds {len(target.adapters)} joint-expert LoRAs and none is named for "
                              f"{subtask}")
        return matching[0]
    if role == "main":
        return _pick(target, subtask, steps[:1])[0]
    if target.adapters and all(a.task for a in target.adapters):
        for task in steps[1:]:
            found = [a for a in target.adapters if a.task == task]
            if found:
                return found[0]
    return _pick(target, subtask, steps[1:2])[0]


def steps_for(target: Target, subtask: str) -> list[Step]:
    """The inference passes of ``target`` on ``subtask``, read from the method's registry entry."""
    spec = target.spec
    task = get_task(subtask)
    if task.kind == "single":
        raise ConfigError(f"{subtask} is a single task; evaluate compositional sub-tasks (compbench tasks)")
    if spec.combine == "none":
        return [Step(None, subtask, icl=spec.prompt == "icl")]
    if spec.combine == "adapter":
        return [Step(WeightUpdate("adapter", (_single(target, subtask),)), subtask)]
    if spec.combine == "steps":
        loras = _pick(target, subtask, chain(subtask))
        return [Step(WeightUpdate("adapter", (lora,)), step) for lora, step in zip(loras, chain(subtask), strict=True)]
    loras = _pick(target, subtask, chain(subtask)) if spec.needs_adapters else ()
    if spec.combine == "merge":
        return [Step(WeightUpdate("merge", loras, merge=spec.merge, parameters_json=canonical_json(
            merge_parameters_of(target)), file=target.file), subtask)]
    if spec.combine == "calibration":
        return [Step(WeightUpdate("calibration", loras, calibration=spec.calibration, file=target.file), subtask)]
    raise ConfigError(f"method {spec.id}: no way to run combine kind {spec.combine!r}")


def merge_parameters_of(target: Target) -> dict[str, object]:
    """The merge's own parameters from ``bundle.json`` (what it accepts; bookkeeping such as losses is left out)."""
    from compbench.adapters.merges import merge_parameters

    accepted = merge_parameters(target.spec.merge or "")
    return {key: value for key, value in target.manifest.parameters.items()
            if key in accepted and key != "coefficients"}


def servable(target: Target, subtask: str) -> bool:
    """Whether the bundle holds the LoRAs ``subtask`` needs."""
    try:
        steps_for(target, subtask)
    except ConfigError:
        return False
    return True


def default_subtasks(target: Target, available: list[str]) -> list[str]:
    """The sub-tasks evaluated when none are named: those the bundle was made for (or else every one it can
    serve) among ``available`` (the release's), in registry order."""
    trained = target.trained_subtasks()
    candidates = trained or compositional_subtasks()
    chosen = [s for s in compositional_subtasks() if s in candidates and s in available and servable(target, s)]
    if not chosen:
        what = ", ".join(trained) if trained else "any compositional sub-task"
        raise ConfigError(f"the release holds none of the sub-tasks this {target.spec.id} bundle serves ({what})")
    return chosen


def servable_subtasks(target: Target, subtasks: list[str], available: list[str]) -> list[str]:
    """Of the named sub-tasks (families expanded), those the bundle serves (a grid's cell); each must be in the
    release."""
    from compbench.training.data import resolve_subtasks

    chosen = set(resolve_subtasks(subtasks))
    for subtask in sorted(chosen):
        if get_task(subtask).kind == "single":
            raise ConfigError(f"{subtask} is a single task; evaluate compositional sub-tasks (compbench tasks)")
        if subtask not in available:
            raise ConfigError(f"the release has no split of sub-task {subtask} to evaluate "
                              f"(it has: {', '.join(available) or 'none'})")
    return [s for s in compositional_subtasks() if s in chosen and s in available and servable(target, s)]


def check_subtasks(target: Target, subtasks: list[str], available: list[str], split: str) -> list[str]:
    """The named sub-tasks (families expanded), each in the release and servable by the bundle."""
    from compbench.training.data import resolve_subtasks

    chosen = resolve_subtasks(subtasks)
    for subtask in chosen:
        if get_task(subtask).kind == "single":
            raise ConfigError(f"{subtask} is a single task; evaluate compositional sub-tasks (compbench tasks)")
        if subtask not in available:
            raise ConfigError(f"the release has no {split} split of sub-task {subtask} "
                              f"(it has: {', '.join(available) or 'none'})")
        steps_for(target, subtask)  # raises with what the bundle lacks
    return [s for s in REGISTRY if s in chosen]
