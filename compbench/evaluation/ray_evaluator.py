"""``compbench evaluate --engine ray`` / ``run-grid --engine ray``: evaluation's generations on a Ray cluster.

No scheduler of compbench's own: the build's engine layer (:mod:`compbench.engines`) runs it. For one model plan
(the weights of one pass: a base model and at most one update), the runner's missing batches go to
:class:`~compbench.engines.ray_engine.RayEngine` as chunks; a Ray Data actor pool applies
:class:`~compbench.engines.ray_engine.GenerationWorker`, which builds one :class:`PlanGenerator` per actor from a
picklable :class:`~compbench.engines.GeneratorSpec` (so one model load, or one vLLM engine, per actor per plan)
and sends each batch through a runtime engine (transformers, or vLLM) on the worker. Outputs stream back as the
actors finish them and :class:`~compbench.evaluation.generations.GenerationRunner` commits each batch to the
generation cache at once, so a killed job resumes and redoes nothing it stored. The batches are the ones the
in-process run generates, so the predictions are the same (byte for byte on the tests' CPU runs).

Prompts are grouped by model plan before batching (``run_passes`` gathers every sub-task that shares a plan),
so each plan's weights are loaded once per actor.

**Identity on the workers.** A worker resolves the plan's files on its own machine (the base model directory,
hashed, or the Hub id at the planned commit, downloaded there; every LoRA and calibration file by content hash).
If what it finds is not what the driver planned, it stops the run with a configuration error (exit 2) instead of
caching outputs of other weights under the planned keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from compbench.engines import GeneratorSpec
from compbench.errors import ConfigError
from compbench.evaluation.plan import BaseModel, Decoding, FileRef, ModelPlan

#: Runtimes a Ray actor can run (``runtime=`` takes these names, or a ``package.module:Engine`` import path).
RUNTIMES = {"transformers": "compbench.evaluation.engine:TransformersEngine",
            "vllm": "compbench.evaluation.vllm_engine:VllmEngine"}
FACTORY = "compbench.evaluation.ray_evaluator:PlanGenerator"


class PlanGenerator:
    """One model plan and decoding as a build-style generator (``generate(texts) -> outputs``), for
    :class:`~compbench.engines.ray_engine.GenerationWorker`.

    ``runtime`` is the import path of an evaluation engine class, made on first use as
    ``Engine(device=device, **options)``. With ``verify`` (on the workers) the plan's files are resolved and hashed
    on this machine, and the identity reflects what was found; the driver builds it with ``verify=False``.
    """

    task = "evaluate"

    def __init__(self, plan: ModelPlan, decoding: Decoding, runtime: str, options: Mapping[str, Any] | None = None,
                 *, device: str = "cpu", verify: bool = True):
        self.plan = local_plan(plan) if verify else plan
        self.decoding = decoding
        self.model_id, self.revision = self.plan.base.name, self.plan.base.revision
        self.runtime, self.options, self.device = runtime, dict(options or {}), device
        self._engine = None

    @property
    def settings(self) -> dict[str, object]:
        return {"weights": self.plan.identity(), "decoding": self.decoding.identity()}

    @property
    def engine(self):
        if self._engine is None:
            from compbench.engines.spec import import_factory

            self._engine = import_factory(self.runtime)(device=self.device, **self.options)
        return self._engine

    def generate(self, texts: Sequence[str]) -> list[str]:
        return self.engine.generate(self.plan, list(texts), self.decoding)


def local_plan(plan: ModelPlan) -> ModelPlan:
    """``plan`` with its files as this machine has them: the base model resolved here (its directory hashed, or
    the Hub id fetched at the planned commit) and every adapter and calibration file hashed again. A file that
    differs gives another identity; a missing one raises :class:`~compbench.errors.InputError`."""
    from compbench.evaluation.base_model import resolve_base_model

    base = plan.base
    found = (resolve_base_model(base.path) if Path(base.path).is_dir()
             else resolve_base_model(base.name, base.revision))
    local = replace(plan, base=BaseModel(name=base.name, path=found.path, revision=found.revision))
    if plan.update is None:
        return local
    update = replace(plan.update, adapters=tuple(_rehash(ref, adapter=True) for ref in plan.update.adapters),
                     file=_rehash(plan.update.file, adapter=False) if plan.update.file is not None else None)
    return replace(local, update=update)


def _rehash(ref: FileRef, adapter: bool) -> FileRef:
    from compbench.adapters.lora_io import adapter_sha256
    from compbench.errors import InputError
    from compbench.fileio import sha256_file

    if not Path(ref.path).exists():
        raise InputError(f"{ref.name} is not on this Ray worker (give every machine the bundle at the same path)",
                         ref.path)
    return replace(ref, sha256=adapter_sha256(ref.path) if adapter else sha256_file(ref.path))


def absolute_plan(plan: ModelPlan) -> ModelPlan:
    """``plan`` with absolute paths (a worker's working directory is not the driver's)."""
    def absolute(ref: FileRef) -> FileRef:
        return replace(ref, path=str(Path(ref.path).resolve()))

    plan = replace(plan, base=replace(plan.base, path=str(Path(plan.base.path).resolve())))
    if plan.update is None:
        return plan
    return replace(plan, update=replace(plan.update, adapters=tuple(absolute(a) for a in plan.update.adapters),
                                        file=absolute(plan.update.file) if plan.update.file else None))


class RayEvaluator:
    """Evaluation's engine on Ray (an :class:`~compbench.evaluation.engine.Engine` that yields batches as they
    finish): ``runtime`` (``transformers`` or ``vllm``, or an import path) runs in each actor on ``device`` with
    ``runtime_options`` (the transformers engine gets ``batch_size``). ``address``, ``actors``,
    ``gpus_per_actor``, ``cpus_per_actor`` and ``init_options`` are :class:`~compbench.engines.ray_engine.RayEngine`'s.
    Ray starts on the first batch to generate and stops at :meth:`close` if this engine started it.
    """

    name = "ray"

    def __init__(self, runtime: str = "transformers", *, device: str = "cpu", batch_size: int = 16,
                 runtime_options: Mapping[str, Any] | None = None, address: str | None = None, actors: int = 1,
                 gpus_per_actor: float = 0.0, cpus_per_actor: float = 1.0,
                 init_options: Mapping[str, Any] | None = None):
        from compbench.engines.ray_engine import RayEngine

        self.cluster = RayEngine(address, actors=actors, gpus_per_actor=gpus_per_actor,
                                 cpus_per_actor=cpus_per_actor, init_options=init_options)
        if runtime not in RUNTIMES and ":" not in runtime:
            raise ConfigError(f"unknown runtime {runtime!r} (choose one of {', '.join(RUNTIMES)})")
        self.runtime = runtime
        self.device = device
        self.batch_size = batch_size
        options = dict(runtime_options or {})
        if runtime == "transformers":
            options.setdefault("batch_size", batch_size)
        self.runtime_options = options

    @property
    def options(self) -> dict[str, Any]:
        """What the results document records: the runtime and the Ray engine's options (never the address)."""
        return {"runtime": self.runtime, **self.cluster.info().options}

    def prepare(self, plans: Sequence[ModelPlan]) -> None:
        """Check on the driver what can be checked there (vLLM's refusals), before anything is written."""
        if self.runtime == "vllm":
            from compbench.evaluation.vllm_engine import check_servable

            for plan in plans:
                check_servable(plan)

    def generate_batches(self, plan: ModelPlan, batches: Sequence[Sequence[str]],
                         decoding: Decoding) -> Iterator[tuple[int, list[str | None]]]:
        """``(batch index, outputs)`` for each batch, in the order the actors finish them."""
        plan = absolute_plan(plan)
        runtime = RUNTIMES.get(self.runtime, self.runtime)
        spec = GeneratorSpec(FACTORY, {"plan": plan, "decoding": decoding, "runtime": runtime,
                                       "options": self.runtime_options}, device=self.device)
        identity = PlanGenerator(plan, decoding, runtime, self.runtime_options, verify=False)
        yield from self.cluster.run(identity, spec, batches)

    def generate(self, plan: ModelPlan, prompts: Sequence[str], decoding: Decoding) -> list[str]:
        if not prompts:
            return []
        return next(iter(self.generate_batches(plan, [list(prompts)], decoding)))[1]

    def close(self) -> None:
        self.cluster.close()
