"""``compbench.evaluate``: an adapter bundle (or an adapter-free method) on a release, to a results document.

An evaluation run writes one directory:

- ``run.json``: what is being evaluated (method, bundle content hashes, base model revision, release hash,
  split, sub-tasks, limit, decoding, the seed for ICL), written once every check has passed; a run started
  again into the same directory must match it;
- ``predictions.jsonl``: ``{"id", "prediction"}`` per evaluated row (multi-step adds ``"intermediate"``, the
  outputs of the steps before the last), exactly what ``compbench score`` reads;
- ``results.json`` and ``results.examples.parquet``: the scorer's results document, with the method, the base
  model and its revision, the bundle's content hashes, the generation settings and the method's efficiency.

Every generation goes through the generation cache (``--cache-dir``; one commit per batch), so a killed run
started again continues where it stopped, and a finished one started again makes no model call and loads no
weights. Everything that can be wrong with the input is checked before anything is written: the bundle's
method and files, the sub-tasks, the base model (offline included) and the fit of every LoRA and calibration
to its modules and shapes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError, InputError
from compbench.evaluation.plan import BaseModel, Decoding, ModelPlan, WeightUpdate
from compbench.evaluation.steps import (
    Step,
    Target,
    check_subtasks,
    default_subtasks,
    resolve_target,
    servable_subtasks,
    steps_for,
)
from compbench.fileio import atomic_write, read_json_strict, read_parquet, sha256_file, write_json
from compbench.methods.roles import chain
from compbench.schemas import (
    AdapterRecord,
    BundleRecord,
    Efficiency,
    GenerationSettings,
    ReleaseManifest,
    Results,
)
from compbench.tasks import get_task

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
PREDICTIONS_FILE = "predictions.jsonl"
RESULTS_FILE = "results.json"
DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_NEW_TOKENS = 256
RUN_FORMAT = "compbench-evaluation-run/1"


@dataclass(frozen=True)
class Row:
    """One evaluated row of the release."""

    id: str
    subtask: str
    input: str


@dataclass(frozen=True)
class Shot:
    """The in-context example of a sub-task: a row of the train split."""

    id: str
    input: str
    reference: str


@dataclass
class Evaluation:
    """What :func:`evaluate` did: where it wrote, the results document, and what the model was asked."""

    out: Path
    results: Results
    predictions: list[dict[str, Any]]
    generated: int  # distinct generations run now
    cached: int  # distinct generations found in the cache
    model_calls: int  # engine calls (batches)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """An evaluation checked and resolved, not run yet: everything :func:`run_prepared` needs."""

    target: Target
    base: BaseModel
    data: str
    split: str
    subtasks: list[str]
    steps: dict[str, list[Step]]
    rows: dict[str, list[Row]]
    shots: dict[str, Shot]
    tokenizer: Any
    decoding: Decoding
    dtype: str
    device: str
    batch_size: int
    limit: int | None
    seed: int
    bootstrap: int
    ranks: dict[str, int]
    identity: dict[str, Any]
    out: Path

    @property
    def finished(self) -> bool:
        """Whether ``out`` already holds this evaluation's complete results."""
        return finished(self.out, self.identity)

    def plans(self) -> list[ModelPlan]:
        """The weights of every pass, once each (what an engine's ``prepare`` checks before the run starts)."""
        plans: dict[str, ModelPlan] = {}
        for chain_steps in self.steps.values():
            for step in chain_steps:
                plan = ModelPlan(base=self.base, dtype=self.dtype, update=step.update)
                plans.setdefault(plan.key, plan)
        return list(plans.values())


def evaluate(
    bundle: str | Path | None = None,
    *,
    data: str,
    method: str | None = None,
    base_model: str | None = None,
    revision: str | None = None,
    subtasks: list[str] | None = None,
    split: str = "test",
    out: str | Path | None = None,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    min_new_tokens: int = 0,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    bootstrap: int = 1000,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    engine: Any = None,
    engine_options: dict[str, Any] | None = None,
    command: str | None = None,
) -> Evaluation:
    """Evaluate ``bundle`` (an adapter bundle directory) on the release ``data`` and write a results directory.

    ``method`` names an adapter-free method (``zero-shot``, ``icl``) without a bundle; ``base_model`` and
    ``revision`` replace the bundle's (e.g. a local copy of its Hub model). ``subtasks`` (ids or families)
    default to the sub-tasks the bundle was made for, or every one it can serve, that the release holds.
    ``limit`` takes the first rows of each sub-task. ``engine`` replaces the in-process transformers engine: an
    :class:`~compbench.evaluation.engine.Engine`, or a name (``local``, ``vllm``, ``ray``) made with
    ``engine_options`` on ``device`` and closed at the end. Raises :class:`InputError` / :class:`ConfigError`
    before writing anything when the input is wrong.
    """
    prepared = prepare(bundle, data=data, method=method, base_model=base_model, revision=revision,
                       subtasks=subtasks, split=split, out=out, limit=limit, batch_size=batch_size,
                       max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, device=device, dtype=dtype,
                       seed=seed, bootstrap=bootstrap, check_device=engine in (None, "local"))
    command = command or f"compbench.evaluate({str(bundle or method)!r}, data={data!r})"
    if not isinstance(engine, str):
        if engine_options:
            raise ConfigError("engine_options go with an engine name (local, vllm, ray)")
        return run_prepared(prepared, engine=engine, cache_dir=cache_dir, progress=progress, command=command)
    from compbench.evaluation.engine import close_engine, evaluation_engine

    made = evaluation_engine(engine, device=device, batch_size=batch_size, cache_dir=cache_dir,
                             **(engine_options or {}))
    try:
        return run_prepared(prepared, engine=made, cache_dir=cache_dir, progress=progress, command=command)
    finally:
        close_engine(made)


def prepare(bundle: str | Path | None = None, *, data: str, method: str | None = None, base_model: str | None = None,
            revision: str | None = None, subtasks: list[str] | None = None, split: str = "test",
            out: str | Path | None = None, limit: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
            max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, min_new_tokens: int = 0, device: str = "cpu",
            dtype: str = "float32", seed: int = 0, bootstrap: int = 1000, check_device: bool = True,
            only_servable: bool = False) -> Prepared:
    """Check and resolve an evaluation (see :func:`evaluate`), writing nothing and loading no weights.

    ``only_servable`` (grids) keeps the named sub-tasks the bundle serves instead of refusing the others.
    """
    from compbench.evaluation.base_model import load_tokenizer, resolve_base_model
    from compbench.generation.batching import check_options
    from compbench.references import read_manifest, resolve_release
    from compbench.training.formatting import ChatFormatter

    check_options(batch_size=batch_size, max_length=max_new_tokens, dtype=dtype, device=device if check_device else None)
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be a positive integer, got {limit}")
    if not 0 <= min_new_tokens <= max_new_tokens:
        raise ConfigError(f"min_new_tokens must be between 0 and max_new_tokens, got {min_new_tokens}")
    target = resolve_target(bundle, method, base_model)
    release = resolve_release(data, split)
    manifest = read_manifest(release)
    available = [f.subtask for f in manifest.files if f.split == split]
    if subtasks and only_servable:
        chosen = servable_subtasks(target, list(subtasks), available)
    elif subtasks:
        chosen = check_subtasks(target, list(subtasks), available, split)
    else:
        chosen = default_subtasks(target, available)
    steps = {subtask: steps_for(target, subtask) for subtask in chosen}
    shots = _icl_shots(data, chosen, split, seed) if target.spec.prompt == "icl" else {}
    base = resolve_base_model(base_model or target.manifest.base_model,
                              revision if (revision or base_model) else target.manifest.base_revision)
    tokenizer = load_tokenizer(base)
    ranks = preflight(base, [step for chain_steps in steps.values() for step in chain_steps])
    rows = read_rows(release, manifest, chosen, split, limit)
    decoding = Decoding(max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                        add_special_tokens=not ChatFormatter(tokenizer).has_template)
    identity = run_identity(target, base, dtype, release, split, chosen, limit, decoding, seed)
    return Prepared(target=target, base=base, data=data, split=split, subtasks=chosen, steps=steps, rows=rows,
                    shots=shots, tokenizer=tokenizer, decoding=decoding, dtype=dtype, device=device,
                    batch_size=batch_size, limit=limit, seed=seed, bootstrap=bootstrap, ranks=ranks,
                    identity=identity, out=Path(out) if out is not None else Path("evaluations") / target.label)


def run_prepared(prepared: Prepared, *, engine: Any = None, cache_dir: str | Path | None = None,
                 progress: bool = True, command: str = "compbench.evaluate") -> Evaluation:
    """Generate (through the cache), write the predictions, score them and write the results."""
    from compbench.build.cache import GenerationCache, default_cache_dir
    from compbench.evaluation.generations import GenerationRunner
    from compbench.training.formatting import ChatFormatter

    p = prepared
    if engine is None:
        from compbench.evaluation.engine import TransformersEngine

        engine = TransformersEngine(device=p.device, batch_size=p.batch_size)
    if callable(getattr(engine, "prepare", None)):
        engine.prepare(p.plans())  # the engine's own refusals come before anything is written
    prepare_out(p.out, p.identity)
    cache = GenerationCache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    formatter = ChatFormatter(p.tokenizer)
    try:
        runner = GenerationRunner(engine, cache, p.tokenizer, p.batch_size, progress)
        outputs = run_passes(runner, formatter, p.base, p.dtype, p.decoding, p.steps, p.rows, p.shots, p.target.label)
    finally:
        cache.close()

    predictions = []
    warnings = []
    for subtask in p.subtasks:
        for row in p.rows[subtask]:
            texts = outputs[row.id]
            record: dict[str, Any] = {"id": row.id, "prediction": texts[-1]}
            if len(texts) > 1:
                record["intermediate"] = texts[:-1]
            predictions.append(record)
        if p.rows[subtask] and not any(outputs[row.id][-1] for row in p.rows[subtask]):
            warnings.append(f"every prediction of {subtask} is empty")
    for message in warnings:
        log.warning(message)
    write_predictions(p.out / PREDICTIONS_FILE, predictions)

    generation = GenerationSettings(
        engine=getattr(engine, "name", type(engine).__name__), engine_options=dict(getattr(engine, "options", {})),
        max_new_tokens=p.decoding.max_new_tokens,
        min_new_tokens=p.decoding.min_new_tokens, batch_size=p.batch_size, dtype=p.dtype,
        device=str(getattr(engine, "device", p.device)), seed=p.seed, limit=p.limit, prompt=p.target.spec.prompt,
        chat_template=formatter.has_template, inference_passes=max(len(s) for s in p.steps.values()),
        icl_examples={subtask: shot.id for subtask, shot in p.shots.items()},
        generations=runner.generated + runner.cached, cached=runner.cached)
    results = score_run(p, generation, command)
    return Evaluation(out=p.out, results=results, predictions=predictions, generated=runner.generated,
                      cached=runner.cached, model_calls=runner.model_calls, warnings=warnings)


# ------------------------------------------------------------------------------------------------ inputs
def read_rows(release: Path, manifest: ReleaseManifest, subtasks: list[str], split: str,
              limit: int | None) -> dict[str, list[Row]]:
    """The rows to evaluate per sub-task (file order; the first ``limit``), each file checked against its sha256."""

    rows: dict[str, list[Row]] = {}
    for subtask in subtasks:
        entry = next(f for f in manifest.files if f.split == split and f.subtask == subtask)
        path = release / entry.path
        if not path.resolve().is_relative_to(release.resolve()):
            raise InputError(f"manifest path {entry.path!r} leaves the release directory", release)
        if not path.is_file():
            raise InputError("file listed in the manifest is missing", path)
        if sha256_file(path) != entry.sha256:
            raise InputError("sha256 differs from the manifest (the file changed after the release was made)", path)
        table = read_parquet(path, columns=["id", "subtask", "input"])
        if limit is not None:
            table = table.slice(0, limit)
        found = []
        for number, row in enumerate(table.to_pylist(), start=1):
            if row["subtask"] != subtask or not isinstance(row["id"], str) or not isinstance(row["input"], str):
                raise InputError(f"row {number}: expected string id and input of sub-task {subtask}", path)
            found.append(Row(row["id"], subtask, row["input"]))
        rows[subtask] = found
    return rows


def icl_seed(seed: int, subtask: str) -> int:
    """The seed that draws ``subtask``'s in-context example (stable across runs, platforms and sub-task order)."""
    return int.from_bytes(hashlib.sha256(f"icl:{seed}:{subtask}".encode()).digest()[:8], "little")


def _icl_shots(data: str, subtasks: list[str], split: str, seed: int) -> dict[str, Shot]:
    """One solved example per sub-task, drawn with a fixed seed from the train split (never the evaluated one)."""
    from compbench.references import read_manifest, resolve_release
    from compbench.training.data import load_examples

    if split == "train":
        raise ConfigError("in-context learning draws its example from the train split; evaluate another split")
    release = resolve_release(data, "train")
    held = {f.subtask for f in read_manifest(release).files if f.split == "train"}
    shots = {}
    for subtask in subtasks:
        if subtask not in held:
            raise ConfigError(f"in-context learning needs the train split of {subtask} (for its example); "
                              "the release has none")
        example = load_examples(release, [subtask], split="train", limit=1, seed=icl_seed(seed, subtask))[0]
        shots[subtask] = Shot(example.id, example.input, example.reference)
    return shots


def preflight(base: BaseModel, steps: list[Step]) -> dict[str, int]:
    """Check every LoRA, merge and calibration the steps use against the base model's modules and shapes,
    without loading the model's weights. Returns the ranks found (``rank``, ``calibration_rank``)."""
    from compbench.adapters.calibration import load_calibration, module_shapes
    from compbench.adapters.lora_io import load_lora
    from compbench.adapters.merges import check_merge
    from compbench.evaluation.base_model import linear_shapes, weightless_model
    from compbench.evaluation.updates import build_update, check_fits, merge_arguments

    updates: dict[str, WeightUpdate] = {}
    for step in steps:
        if step.update is not None:
            updates.setdefault(json.dumps(step.update.identity(), sort_keys=True), step.update)
    found: dict[str, int] = {}
    if not updates:
        return found
    model = weightless_model(base)
    shapes = linear_shapes(model)
    loaded = {}
    for update in updates.values():
        for ref in update.adapters:
            if ref.sha256 not in loaded:
                loaded[ref.sha256] = load_lora(ref.path)
                check_fits(loaded[ref.sha256], shapes, f"LoRA {ref.name!r}", ref.path)
                found["rank"] = max(found.get("rank", 0), max(loaded[ref.sha256].ranks.values()))
        if update.combine == "merge":
            check_merge(update.merge or "", [loaded[r.sha256] for r in update.adapters], **merge_arguments(update))
        if update.combine == "calibration" and update.file is not None:
            calibration = load_calibration(update.file.path)
            model_types = module_shapes(model, calibration.module_types)
            for mtype, shape in calibration.shapes.items():
                if model_types.get(mtype) != shape:
                    raise InputError(f"the calibration's {mtype} is (out, in) = {shape} but the base model's is "
                                     f"{model_types.get(mtype)} (a calibration for another model?)", update.file.path)
            if calibration.kind == "lc++":
                found["calibration_rank"] = calibration.rank
            check_fits(build_update(update, model), shapes, "the calibrated update", update.file.path)
    return found


# ------------------------------------------------------------------------------------------- the run dir
def run_identity(target: Target, base: BaseModel, dtype: str, release: Path, split: str, subtasks: list[str],
                 limit: int | None, decoding: Decoding, seed: int) -> dict[str, Any]:
    """Everything that decides an evaluation's predictions (not where files lie, not the engine or batch size,
    not the bootstrap: re-scoring needs no new run)."""
    from compbench.schemas import MANIFEST_NAME

    return {
        "method": target.spec.id,
        "bundle": {"adapters": [a.sha256 for a in target.adapters],
                   "calibration": target.file.sha256 if target.file else None,
                   "parameters": target.manifest.parameters},
        "base_model": base.identity,
        "dtype": dtype,
        "release": sha256_file(release / MANIFEST_NAME),
        "split": split,
        "subtasks": subtasks,
        "limit": limit,
        "decoding": decoding.identity(),
        "seed": seed if target.spec.prompt == "icl" else None,  # it draws the in-context example
    }


def prepare_out(out: Path, identity: dict[str, Any]) -> bool:
    """Claim ``out`` for this evaluation (``run.json``); True when it already was this evaluation's (a resume).

    Refuses a directory that holds another evaluation or anything else.
    """
    if out.exists() and not out.is_dir():
        raise InputError("output exists and is not a directory", out)
    run_file = out / RUN_FILE
    if run_file.is_file():
        previous = read_json_strict(run_file)
        before = previous.get("identity") if isinstance(previous, dict) else None
        if before != json.loads(json.dumps(identity)):
            differs = sorted(k for k in identity if not isinstance(before, dict) or before.get(k) != identity[k])
            raise ConfigError(f"{out} holds another evaluation (it differs in: {', '.join(differs) or 'format'}); "
                              "choose another --out, or delete that directory")
        return True
    if out.exists() and any(out.iterdir()):
        raise InputError(f"output directory is not empty and holds no {RUN_FILE}; choose a new one", out)
    write_json(run_file, {"format": RUN_FORMAT, "identity": identity})
    return False


def finished(out: str | Path, identity: dict[str, Any]) -> bool:
    """Whether ``out`` holds the complete results of the evaluation ``identity`` (``run-grid`` skips it)."""
    out = Path(out)
    if not (out / RESULTS_FILE).is_file() or not (out / RUN_FILE).is_file():
        return False
    try:
        previous = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return previous.get("identity") == json.loads(json.dumps(identity))


def write_predictions(path: Path, predictions: list[dict[str, Any]]) -> None:
    with atomic_write(path) as handle:
        for record in predictions:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------- generation
def run_passes(runner, formatter, base: BaseModel, dtype: str, decoding: Decoding, steps: dict[str, list[Step]],
               rows: dict[str, list[Row]], shots: dict[str, Shot], label: str) -> dict[str, list[str]]:
    """Run every inference pass; returns each row's outputs, one per pass (the last is the prediction).

    Pass ``k`` of every sub-task runs before pass ``k+1`` (whose inputs are pass ``k``'s outputs), and within
    a pass the rows of all sub-tasks that share weights run together, so each model is loaded once per pass.
    """
    outputs: dict[str, list[str]] = {row.id: [] for subtask_rows in rows.values() for row in subtask_rows}
    passes = max(len(s) for s in steps.values())
    for k in range(passes):
        groups: dict[str, tuple[ModelPlan, list[str], list[str], list[str]]] = {}
        for subtask, chain_steps in steps.items():
            if k >= len(chain_steps):
                continue
            step = chain_steps[k]
            plan = ModelPlan(base=base, dtype=dtype, update=step.update)
            plan_rows, prompts, names = groups.setdefault(plan.key, (plan, [], [], []))[1:]
            names.append(subtask)
            shot = shots.get(subtask) if step.icl else None
            instruction = get_task(step.task).prompt
            examples = [(f"{instruction}\n\n{shot.input}", shot.reference)] if shot else []
            for row in rows[subtask]:
                text = row.input if k == 0 else outputs[row.id][k - 1]
                plan_rows.append(row.id)
                prompts.append(formatter.prompt_text(f"{instruction}\n\n{text}", examples))
        for plan, plan_rows, prompts, names in groups.values():
            desc = f"{label} pass {k + 1}/{passes} " + (names[0] if len(names) == 1 else f"{len(names)} sub-tasks")
            for row_id, text in zip(plan_rows, runner.run(plan, prompts, decoding, desc), strict=True):
                outputs[row_id].append(text)
    return outputs


# ------------------------------------------------------------------------------------------------ scoring
def efficiency_of(target: Target, base: BaseModel, subtasks: list[str], ranks: dict[str, int]) -> Efficiency:
    """The method's registry formulas on the base model's architecture, with the bundle's own ranks."""
    from compbench.architectures import Settings
    from compbench.efficiency import BYTES_PER_PARAM_16BIT, architecture_from_config
    from compbench.evaluation.base_model import load_config

    settings = Settings(rank=ranks.get("rank", Settings.rank), calibration_rank=ranks.get("calibration_rank",
                        Settings.calibration_rank), tasks=max(len(chain(s)) for s in subtasks))
    try:
        arch = architecture_from_config(load_config(base), base.name)
    except ConfigError as exc:
        log.warning("efficiency not recorded: %s", exc)
        return Efficiency(inference_passes=target.spec.passes(settings))
    params = target.spec.params(arch, settings)
    return Efficiency(inference_passes=target.spec.passes(settings), additional_params=params,
                      additional_bytes=params * BYTES_PER_PARAM_16BIT)


def score_run(p: Prepared, generation: GenerationSettings, command: str) -> Results:
    """Score ``predictions.jsonl`` with the package's scorer and write ``results.json`` beside it."""
    from compbench.scoring import score

    target, base = p.target, p.base
    ids = [row.id for subtask_rows in p.rows.values() for row in subtask_rows] if p.limit is not None else None
    report = score(p.out / PREDICTIONS_FILE, data=p.data, subtasks=p.subtasks, split=p.split, seed=p.seed,
                   bootstrap=p.bootstrap, method=target.spec.id, base_model=base.name,
                   efficiency=efficiency_of(target, base, p.subtasks, p.ranks), command=command, ids=ids)
    record = BundleRecord(
        path=str(target.path) if target.path is not None else None,
        adapters=[AdapterRecord(name=a.name, task=a.task, sha256=a.sha256) for a in target.adapters],
        calibration=AdapterRecord(name=target.file.name, sha256=target.file.sha256) if target.file else None,
        parameters=target.manifest.parameters)
    report.results = report.results.model_copy(update={"base_revision": base.revision, "bundle": record,
                                                       "generation": generation})
    report.write(p.out / RESULTS_FILE)
    return report.results
