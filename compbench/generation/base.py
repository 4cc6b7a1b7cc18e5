"""What every generator offers the builder: an identity for the cache and a batched ``generate``.

**Identity versus execution.** A generator's identity (task, model id, revision, settings) names the function
text -> output that it computes, and is all that the generation cache key holds. ``settings`` therefore holds
everything that defines the numbers by specification: the runtime that computes them (``backend``:
transformers, ctranslate2, vllm; each has its own kernels and numerics), the decoding (beams, greedy, length
limits, prompt, stop marker) and the precision (``dtype``, CTranslate2's ``compute_type``). It never holds how or
where the computation ran: the engine (in process, Ray), the device, the batch size, the number of threads,
workers or GPUs. Those can change outputs only by floating-point summation order, and a build may change them
between runs (resume a CPU build on a GPU cluster) without invalidating what is cached. The release manifest
records the engine apart (``ReleaseManifest.engine``). :func:`generator_fingerprint` refuses settings named
like execution options (:data:`EXECUTION_OPTIONS`), so that no generator puts one in its key by mistake.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Generator(Protocol):
    """A model that rewrites texts for one auxiliary task (``tr-es``, ``tone-witty``, ...).

    ``generate`` returns one output per input, in input order; ``None`` marks a generation failure (e.g. a
    tone output that never reached ``### END``), which the builder records and leaves out of the release.
    """

    task: str
    model_id: str
    revision: str

    @property
    def settings(self) -> dict[str, object]:
        """Every setting that changes outputs (beam size, max length, dtype, prompt, ...)."""
        ...

    def generate(self, texts: Sequence[str]) -> list[str | None]: ...


#: Options that say how a generator runs, not what it computes: never part of its settings (module docstring).
EXECUTION_OPTIONS = frozenset({"engine", "device", "batch_size", "threads", "actors", "workers", "num_gpus",
                               "gpus_per_actor", "cpus_per_actor", "chunk_size"})


def generator_fingerprint(generator: Generator) -> str:
    """A stable hash of what makes this generator's outputs what they are (id, revision, settings)."""
    execution = EXECUTION_OPTIONS.intersection(generator.settings)
    if execution:
        raise ValueError(f"{type(generator).__name__}.settings holds execution options ({', '.join(sorted(execution))}),"
                         " which must not be part of the generation cache key (compbench.generation.base)")
    identity = {
        "task": generator.task,
        "model_id": generator.model_id,
        "revision": generator.revision,
        "settings": generator.settings,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def cache_key(generator: Generator, text: str) -> str:
    """The generation cache key: generator fingerprint + input text."""
    return hashlib.sha256(f"{generator_fingerprint(generator)}\n{text}".encode()).hexdigest()
