"""What every generator offers the builder: an identity for the cache and a batched ``generate``."""

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


def generator_fingerprint(generator: Generator) -> str:
    """A stable hash of what makes this generator's outputs what they are (id, revision, settings)."""
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
