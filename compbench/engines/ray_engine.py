"""Generations spread over a Ray cluster with Ray Data (optional extra: ``pip install 'compbench[ray]'``).

A stage's missing generations go out as a Ray Dataset whose rows are the stage's chunks (one row = one chunk,
exactly the chunks the local engine would pass to ``generate``, so every generator call sees the same inputs
whichever engine runs it). ``map_batches`` applies :class:`GenerationWorker`, a callable class, on an actor pool:
each actor builds its generator once from the stage's :class:`~compbench.engines.spec.GeneratorSpec` (one model
load per actor), on its own GPUs when ``gpus_per_actor`` is set. Outputs stream back to the driver as actors
finish them; the caller writes each chunk to the generation cache at once. Ray does the scheduling, the
transfers and the placement; compbench adds none of its own.

A generator error on a worker comes back as data (the chunk's ``error`` column) rather than as a Ray task failure,
so that every chunk finished before it reaches the driver and is cached before the error stops the run (a task
failure aborts the dataset and drops outputs still in flight). Ray is imported only inside this engine's methods.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from compbench.engines.base import Outputs, check_outputs
from compbench.engines.spec import GeneratorSpec
from compbench.errors import CompbenchError, ConfigError
from compbench.extras import require_extra
from compbench.generation.base import Generator, generator_fingerprint
from compbench.schemas import EngineInfo

_CONFIG, _BUG = "config", "bug"


class WorkerError(RuntimeError):
    """A generator failed on a Ray worker for a reason other than bad input or settings (a bug, a crash)."""


class GenerationWorker:
    """The picklable unit of work: chunks of texts -> outputs, with the generator built once per actor.

    ``fingerprint`` (the driver's :func:`~compbench.generation.base.generator_fingerprint`) makes sure that what the
    worker built is the generator whose cache keys the driver writes: a different model directory or revision on
    a worker's machine is refused instead of cached under the wrong key. Batches are Arrow tables with columns
    ``index`` and ``texts`` (a list of strings per row); the result has ``index``, ``outputs`` and ``error``.
    Usable by anything that applies a ``generate(texts)`` model to chunks (the build, and evaluation).
    """

    def __init__(self, spec: GeneratorSpec, fingerprint: str | None = None):
        self.spec, self.fingerprint = spec, fingerprint
        self._generator: Generator | None = None

    @property
    def generator(self) -> Generator:
        if self._generator is None:  # built on first use, inside the error handling of __call__
            generator = self.spec.build()
            if self.fingerprint is not None and generator_fingerprint(generator) != self.fingerprint:
                raise ConfigError(
                    f"the {generator.task} generator built on a Ray worker ({generator.model_id}@{generator.revision}, "
                    f"settings {generator.settings}) is not the one the driver planned: give every machine the same "
                    "model files (a shared directory, or Hub ids at a pinned revision) and the same library versions")
            self._generator = generator
        return self._generator

    def generate_chunk(self, texts: Sequence[str]) -> tuple[Outputs | None, tuple[str, str] | None]:
        """``(outputs, None)``, or ``(None, (kind, message))`` when building or generating failed."""
        try:
            generator = self.generator
            return check_outputs(generator.generate(list(texts)), texts, generator), None
        except CompbenchError as exc:
            return None, (_CONFIG, str(exc))
        except Exception as exc:  # travels to the driver as data and is re-raised there
            return None, (_BUG, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    def __call__(self, batch):
        import pyarrow as pa

        outputs, errors = [], []
        for texts in batch.column("texts").to_pylist():
            result, error = self.generate_chunk(texts)
            outputs.append(result)
            errors.append(None if error is None else f"{error[0]}:{error[1]}")
        return pa.table({
            "index": batch.column("index"),
            "outputs": pa.array(outputs, type=pa.list_(pa.string())),
            "error": pa.array(errors, type=pa.string()),
        })


def raise_worker_error(error: str, where: str) -> None:
    """Re-raise a worker's error on the driver: bad input or settings as :class:`ConfigError`, else
    :class:`WorkerError` with the worker's traceback."""
    kind, _, message = error.partition(":")
    if kind == _CONFIG:
        raise ConfigError(f"{where}: {message}")
    raise WorkerError(f"{where}: {message}")


class RayEngine:
    """Ray Data across a cluster: ``address`` (``None``: ``$RAY_ADDRESS`` or a new local instance; ``"auto"``: the
    running local cluster), ``actors`` generator actors per stage, each with ``gpus_per_actor`` GPUs and
    ``cpus_per_actor`` CPUs (Ray sets ``OMP_NUM_THREADS`` to the latter, which torch and CTranslate2 follow).

    Ray is started on the first stage that has something to generate (a plan never starts it) and shut down by
    :meth:`close` only if this engine started it. ``init_options`` go to ``ray.init``.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, actors: int = 1, gpus_per_actor: float = 0.0,
                 cpus_per_actor: float = 1.0, init_options: Mapping[str, Any] | None = None):
        require_extra("ray", "--engine ray")
        if not isinstance(actors, int) or actors < 1:
            raise ConfigError(f"--actors must be a positive integer, got {actors!r}")
        if gpus_per_actor < 0 or cpus_per_actor <= 0:
            raise ConfigError(f"--gpus-per-actor must be >= 0 and --cpus-per-actor > 0, got {gpus_per_actor} "
                              f"and {cpus_per_actor}")
        self.address, self.actors = address, actors
        self.gpus_per_actor, self.cpus_per_actor = gpus_per_actor, cpus_per_actor
        self.init_options = {"logging_level": "WARNING", **(init_options or {})}
        self._started = False

    def prepare(self, made: Generator | GeneratorSpec) -> tuple[Generator, GeneratorSpec | None]:
        if not isinstance(made, GeneratorSpec):
            raise ConfigError(
                f"--engine ray needs each generator as a compbench.engines.GeneratorSpec (a picklable recipe every "
                f"worker builds its own generator from), got a {type(made).__name__}")
        return made.build_identity(), made

    def run(self, generator: Generator, spec: GeneratorSpec | None,
            chunks: Sequence[Sequence[str]]) -> Iterator[tuple[int, Outputs]]:
        if spec is None:
            raise ConfigError("--engine ray needs a GeneratorSpec for every generator")
        if not chunks:
            return
        ray = self._start()
        from ray.data import ActorPoolStrategy

        dataset = ray.data.from_items([{"index": i, "texts": list(chunk)} for i, chunk in enumerate(chunks)],
                                      override_num_blocks=len(chunks))
        dataset = dataset.map_batches(
            GenerationWorker,
            fn_constructor_kwargs={"spec": spec, "fingerprint": generator_fingerprint(generator)},
            batch_size=1,  # one chunk per call: the same generate() inputs as in process
            batch_format="pyarrow",
            compute=ActorPoolStrategy(size=min(self.actors, len(chunks))),
            num_cpus=self.cpus_per_actor,
            num_gpus=self.gpus_per_actor or None,
        )
        where = f"{generator.task} generator on a Ray worker"
        for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            indices, outputs = batch.column("index").to_pylist(), batch.column("outputs").to_pylist()
            for index, result, error in zip(indices, outputs, batch.column("error").to_pylist(), strict=True):
                if error is not None:
                    raise_worker_error(error, where)
                yield index, result

    def info(self) -> EngineInfo:
        return EngineInfo(name=self.name, options={"actors": self.actors, "gpus_per_actor": self.gpus_per_actor,
                                                   "cpus_per_actor": self.cpus_per_actor})

    def _start(self):
        import ray
        import ray.data

        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_options)
            self._started = True
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build shows its own progress per stage
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset execution plans and timings
        return ray

    def close(self) -> None:
        """Shut Ray down if this engine started it."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
