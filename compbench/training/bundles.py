"""The training capabilities behind ``compbench train``: train on a built release, write an adapter bundle.

Each function loads the base model (safetensors, no remote code), reads the examples, trains with the shared
resumable loop (checkpoints in ``<output>.checkpoints`` unless told otherwise, removed once the bundle is
written) and writes the bundle with :func:`compbench.bundle.write_bundle`, whole or not at all.

Method ids written to ``bundle.json`` are looked up in the method registry (:mod:`compbench.methods`), never
spelled here:

- ``train_lora_bundle``: the single-LoRA method of the task's role: ``main-lora`` for a main task (sum,
  reply), ``aux-lora`` for an auxiliary task (tr-xx, tone-xx); ``joint-expert`` when trained on compositional
  sub-tasks;
- ``train_calibration_bundle``: ``lc`` / ``lc++``, with ``-shared`` when the data span several families and
  ``-no-lora`` for the ablation without LoRAs; the input LoRAs are copied into the bundle (with their tasks,
  when given as bundles) and the calibration goes to ``calibration.safetensors``;
- ``train_merge_bundle``: the learned merges, ``dam`` (column-wise coefficients in
  ``calibration.safetensors``), ``lorahub`` or ``lm-cocktail`` (weights in the parameters); the input LoRAs
  are copied into the bundle.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from compbench.adapters.calibration import (
    DEFAULT_RANK,
    Calibration,
    calibration_to_lora,
    check_kind,
    mean_factors,
    save_calibration,
)
from compbench.adapters.lora_io import LoraAdapter, save_lora
from compbench.bundle import Bundle, InputAdapter, load_input_adapter, read_bundle, unique_names, write_bundle
from compbench.errors import ConfigError, InputError
from compbench.methods import adapter_method, learned_merges
from compbench.methods import calibration_method as registry_calibration_method
from compbench.methods.roles import role_of_task
from compbench.tasks import get_task
from compbench.training.calibrate import CALIBRATION_EXAMPLES, CALIBRATION_LEARNING_RATE, train_calibration
from compbench.training.coefficients import COEFFICIENT_LEARNING_RATE, train_merge_coefficients
from compbench.training.data import load_examples, resolve_subtasks
from compbench.training.loop import TrainConfig, TrainResult
from compbench.training.lora import LORA_LEARNING_RATE, LoraSettings, train_lora
from compbench.training.models import load_base_model

#: The merges whose weights are learned on compositional data, from the registry.
MERGE_METHODS: tuple[str, ...] = learned_merges()


def check_output(output: str | Path) -> Path:
    """Refuse an output that exists and is not an empty directory, before any training starts."""
    target = Path(output)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError("output exists and is not an empty directory; choose a new one", target)
    return target


def checkpoints_for(output: Path, checkpoint_dir: str | Path | None) -> Path:
    return Path(checkpoint_dir) if checkpoint_dir is not None else output.with_name(output.name + ".checkpoints")


def _result_parameters(config: TrainConfig, result: TrainResult, examples: int, max_length: int) -> dict:
    return {**config.to_dict(), "examples": examples, "max_length": max_length, "steps": result.steps,
            "first_loss": result.first_loss, "last_loss": result.last_loss, "skipped_examples": len(result.skipped)}


# ------------------------------------------------------------------------------------------------ LoRA
def train_lora_bundle(base_model: str, release: str | Path, subtasks: Sequence[str], output: str | Path, *,
                      settings: LoraSettings | None = None, config: TrainConfig | None = None,
                      examples: int | None = None, split: str = "train", max_length: int = 1024,
                      revision: str | None = None, dtype: str = "float32", device: str | None = None,
                      checkpoint_dir: str | Path | None = None, progress: bool = True) -> Bundle:
    """Train a single-task LoRA (one single task) or a joint-expert LoRA (compositional sub-tasks)."""
    output = check_output(output)
    names = resolve_subtasks(subtasks)
    kinds = {get_task(n).kind for n in names}
    if kinds == {"single"}:
        if len(names) != 1:
            raise ConfigError("a single-task LoRA is trained on one task; pass one task id")
        task = get_task(names[0])
        method = adapter_method(role_of_task(task.id))
        adapter_name = task.config_name
    elif "single" not in kinds:
        method = adapter_method("joint")
        adapter_name = method
    else:
        raise ConfigError("do not mix single tasks and compositional sub-tasks in one LoRA")
    settings = settings or LoraSettings()
    config = config or TrainConfig(learning_rate=LORA_LEARNING_RATE)
    rows = load_examples(release, names, split=split, limit=examples, seed=config.seed)
    model, tokenizer = load_base_model(base_model, revision=revision, dtype=dtype)
    if device:
        model.to(device)
    checkpoints = checkpoints_for(output, checkpoint_dir)
    result = train_lora(model, tokenizer, rows, checkpoints / "adapter", settings=settings, config=config,
                        checkpoint_dir=checkpoints, max_length=max_length, progress=progress)
    parameters = {**settings.to_dict(), **_result_parameters(config, result, len(rows), max_length),
                  "split": split}
    bundle = write_bundle(output, base_model=base_model, base_revision=revision, method=method,
                          adapters={adapter_name: checkpoints / "adapter"},
                          tasks={adapter_name: names[0]} if kinds == {"single"} else None,
                          parameters=parameters, subtasks=names)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return bundle


# ----------------------------------------------------------------------------------------- calibration
def calibration_method(kind: str, shared: bool, with_loras: bool) -> str:
    """The registry's id for ``lc`` / ``lc++`` with ``-shared`` and ``-no-lora`` as applicable."""
    return registry_calibration_method(check_kind(kind), shared, with_loras)


def train_calibration_bundle(base_model: str, release: str | Path, families: Sequence[str],
                             adapters: Sequence[str | Path], output: str | Path, *, kind: str = "lc",
                             rank: int = DEFAULT_RANK, examples: int | None = CALIBRATION_EXAMPLES,
                             config: TrainConfig | None = None, split: str = "train", max_length: int = 1024,
                             revision: str | None = None, dtype: str = "float32", device: str | None = None,
                             checkpoint_dir: str | Path | None = None, export_lora: str | Path | None = None,
                             progress: bool = True) -> Bundle:
    """Learn LC / LC++ on compositional data of ``families`` on top of the mean of ``adapters``.

    No adapters = the ablation without LoRAs. Several families = the shared variant (one calibration for all;
    the examples are a seeded sample of their union). When the adapters name their tasks (bundles from ``train
    lora``) and the sub-tasks compose different ones, each sub-task's examples start from the mean of its own
    LoRAs (:func:`subtask_chains`), as ``compbench evaluate`` applies them. ``export_lora`` also writes the calibrated model as a
    plain PEFT LoRA of rank r+1 / r+s there.
    """
    output = check_output(output)
    if export_lora is not None:
        check_output(export_lora)
    names = resolve_subtasks(families)
    if any(get_task(n).kind != "compositional" for n in names):
        raise ConfigError("calibration trains on compositional sub-tasks (e.g. --family sum+tr)")
    shared = len({get_task(n).family for n in names}) > 1
    inputs = unique_names([load_input_adapter(path) for path in adapters])
    loras = [item.adapter for item in inputs.values()]
    chains = subtask_chains(names, inputs)
    if chains is not None and export_lora is not None:
        raise ConfigError("the sub-tasks start from different LoRAs, so there is no one plain LoRA to export; "
                          "export per sub-task (calibrate one sub-task)")
    merged = mean_factors(loras) if loras and chains is None else None
    config = config or TrainConfig(learning_rate=CALIBRATION_LEARNING_RATE)
    rows = load_examples(release, names, split=split, limit=examples, seed=config.seed)
    model, tokenizer = load_base_model(base_model, revision=revision, dtype=dtype)
    if device:
        model.to(device)
    checkpoints = checkpoints_for(output, checkpoint_dir)
    calibration, result = train_calibration(model, tokenizer, rows, kind, loras or None, rank=rank, config=config,
                                            checkpoint_dir=checkpoints, max_length=max_length, progress=progress,
                                            chains=chains)
    save_calibration(calibration, checkpoints / "calibration.safetensors")
    start = None if not loras else "mean-factors" if chains is None else "mean-factors of each sub-task's LoRAs"
    parameters = {"kind": kind, "rank": calibration.rank, "shared": shared, "with_loras": bool(loras),
                  "start": start, "families": sorted({get_task(n).family for n in names}),
                  "calibration_parameters": calibration.num_parameters(),
                  **_result_parameters(config, result, len(rows), max_length), "split": split}
    bundle = write_bundle(output, base_model=base_model, base_revision=revision,
                          method=calibration_method(kind, shared, bool(loras)),
                          adapters={name: item.adapter for name, item in inputs.items()},
                          tasks={name: item.task for name, item in inputs.items() if item.task},
                          parameters=parameters, calibration=checkpoints / "calibration.safetensors",
                          subtasks=names)
    if export_lora is not None:
        save_lora(calibration_to_lora(model, calibration, merged, base_model=base_model), export_lora)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return bundle


def subtask_chains(subtasks: Sequence[str], inputs: dict[str, InputAdapter]) -> dict[str, list[LoraAdapter]] | None:
    """Each sub-task's own LoRAs (those of its chain's tasks), when the inputs name their tasks and the sub-tasks
    compose different ones (a family over three languages, or the shared variant); ``None`` when every sub-task
    starts from the mean of all the inputs (one sub-task, or inputs without tasks)."""
    if not inputs or not all(item.task for item in inputs.values()):
        return None
    by_task = {item.task: item.adapter for item in inputs.values()}
    chains = {}
    for subtask in subtasks:
        steps = get_task(subtask).steps
        missing = [task for task in steps if task not in by_task]
        if missing:
            raise ConfigError(f"sub-task {subtask} composes {', '.join(steps)}; no adapter given for "
                              f"{', '.join(missing)}")
        chains[subtask] = [by_task[task] for task in steps]
    if all(len(chain) == len(by_task) for chain in chains.values()):
        return None
    return chains


def export_calibration_lora(calibration: Calibration, model, adapters: Sequence[LoraAdapter], output: str | Path,
                            base_model: str | None = None) -> Path:
    """Write a calibrated model (``model`` + mean of ``adapters`` + ``calibration``) as a plain PEFT LoRA."""
    merged = mean_factors(adapters) if adapters else None
    save_lora(calibration_to_lora(model, calibration, merged, base_model=base_model), output)
    return Path(output)


# ---------------------------------------------------------------------------------------------- merges
def train_merge_bundle(base_model: str, release: str | Path, families: Sequence[str],
                       adapters: Sequence[str | Path], output: str | Path, *, method: str = "dam",
                       examples: int | None = None, config: TrainConfig | None = None, split: str = "train",
                       max_length: int = 1024, budget: int = 40, temperature: float = 5.0,
                       revision: str | None = None, dtype: str = "float32", device: str | None = None,
                       checkpoint_dir: str | Path | None = None, progress: bool = True) -> Bundle:
    """Learn merge weights of ``adapters`` on compositional data: DAM / ZipLoRA coefficients by backprop,
    LoraHub weights by gradient-free search, or LM-Cocktail weights from the per-adapter losses.

    ``examples`` defaults to 10,000 for DAM and 5 for the few-shot LoraHub and LM-Cocktail.
    """
    from compbench.training.weight_search import FEW_EXAMPLES, lm_cocktail_weights, lorahub_search

    if method not in MERGE_METHODS:
        raise ConfigError(f"unknown merge method {method!r}; choose one of {', '.join(MERGE_METHODS)}")
    output = check_output(output)
    names = resolve_subtasks(families)
    inputs = unique_names([load_input_adapter(path) for path in adapters])
    if len(inputs) < 2:
        raise ConfigError(f"{method} merges at least two adapters (give --adapter twice or more)")
    loras = [item.adapter for item in inputs.values()]
    default_lr = COEFFICIENT_LEARNING_RATE
    config = config or TrainConfig(learning_rate=default_lr)
    if examples is None:
        examples = CALIBRATION_EXAMPLES if method == "dam" else FEW_EXAMPLES
    rows = load_examples(release, names, split=split, limit=examples, seed=config.seed)
    model, tokenizer = load_base_model(base_model, revision=revision, dtype=dtype)
    if device:
        model.to(device)
    parameters: dict = {"examples": len(rows), "split": split, "max_length": max_length, "seed": config.seed,
                        "adapter_order": list(inputs)}
    coefficients = None
    checkpoints = checkpoints_for(output, checkpoint_dir)
    if method == "dam":
        coefficients, result = train_merge_coefficients(model, tokenizer, rows, loras, config=config,
                                                        checkpoint_dir=checkpoints, max_length=max_length,
                                                        progress=progress)
        parameters.update(_result_parameters(config, result, len(rows), max_length))
    elif method == "lorahub":
        found = lorahub_search(model, tokenizer, rows, loras, budget=budget, seed=config.seed,
                               max_length=max_length, batch_size=config.batch_size, progress=progress)
        parameters.update(weights=found.weights, loss=found.loss, budget=budget, evaluations=found.evaluations)
    else:
        found = lm_cocktail_weights(model, tokenizer, rows, loras, temperature=temperature, max_length=max_length,
                                    batch_size=config.batch_size)
        parameters.update(weights=found.weights, losses=found.history, temperature=temperature)
    bundle = write_bundle(output, base_model=base_model, base_revision=revision, method=method,
                          adapters={name: item.adapter for name, item in inputs.items()},
                          tasks={name: item.task for name, item in inputs.items() if item.task},
                          parameters=parameters, calibration=coefficients, subtasks=names)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return bundle


# ------------------------------------------------------------------------------------------- using them
def load_calibrated_bundle(bundle_dir: str | Path, model, fold: bool = True, subtask: str | None = None):
    """Attach an ``lc*`` bundle to ``model`` (the bundle's base model): fold ``ΔW`` into the weights (default,
    no inference cost) or wrap the Linears (``fold=False``). Returns the model, changed in place.

    ``subtask``: for a bundle whose sub-tasks start from their own LoRAs (a family or the shared variant,
    trained on :func:`subtask_chains`), the sub-task whose LoRAs to use; required for such a bundle.
    """
    from compbench.adapters.calibration import apply_calibration, fold_calibration, load_calibration
    from compbench.methods import get_method

    bundle = read_bundle(bundle_dir)
    if get_method(bundle.manifest.method).combine != "calibration":
        raise InputError(f"method {bundle.manifest.method!r} is not a Learnable Calibration bundle", bundle.path)
    if bundle.calibration_path is None:
        raise InputError("the bundle has no calibration file", bundle.path)
    calibration = load_calibration(bundle.calibration_path)
    loaded = bundle.load_adapters()
    inputs = {a.name: InputAdapter(a.name, a.task, loaded[a.name]) for a in bundle.manifest.adapters}
    chains = subtask_chains(bundle.manifest.subtasks, inputs) if bundle.manifest.subtasks else None
    if chains is not None and subtask is None:
        raise ConfigError("each sub-task of this bundle starts from its own LoRAs; say which sub-task "
                          f"({', '.join(chains)})")
    if chains is not None and subtask not in chains:
        raise ConfigError(f"the bundle was trained for {', '.join(chains)}, not {subtask}")
    adapters = chains[subtask] if chains is not None else list(loaded.values())
    merged = mean_factors(adapters) if adapters else None
    return (fold_calibration if fold else apply_calibration)(model, calibration, merged)
