"""What an engine runs, as plain picklable data: a model plan (base model + weight update), decoding settings.

A :class:`ModelPlan` says which weights one inference pass uses: a base model (a local directory and its
revision) in a dtype, changed by at most one :class:`WeightUpdate` (one LoRA, a merge of LoRAs, or a
calibration on top of their mean), all named by content hash. Plans hold paths and hashes, never tensors, so
they cross process boundaries (a Ray actor, a vLLM server) unchanged.

:func:`generation_key` is the generation cache's key: the plan's identity (base revision, dtype, the update's
operation, parameters and content hashes), the decoding settings and the exact prompt text. It never names the
engine, the device, the batch size or a path: the same generation is the same whoever runs it and wherever
the files lie.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

KEY_VERSION = "compbench-evaluate/1"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BaseModel:
    """A base model resolved to local files: ``name`` as given, ``path`` where its files are, ``revision``.

    ``revision`` is the Hub commit for a Hub id, or ``sha256:<hex>`` over the files of a local directory.
    """

    name: str
    path: str
    revision: str

    @property
    def identity(self) -> str:
        return self.revision if self.revision.startswith("sha256:") else f"{self.name}@{self.revision}"


@dataclass(frozen=True)
class FileRef:
    """A LoRA directory or a safetensors file of a bundle, by content hash."""

    name: str
    path: str
    sha256: str
    task: str | None = None


@dataclass(frozen=True)
class WeightUpdate:
    """How one inference pass changes the base weights (``combine`` as in the method registry).

    - ``adapter``: the one LoRA in ``adapters``;
    - ``merge``: ``adapters`` merged with merge ``merge`` and ``parameters`` (DAM's coefficients in ``file``);
    - ``calibration``: the mean of ``adapters`` (none for the ablation) plus the calibration of kind
      ``calibration`` stored in ``file``.
    """

    combine: str
    adapters: tuple[FileRef, ...] = ()
    merge: str | None = None
    calibration: str | None = None
    parameters_json: str = "{}"
    file: FileRef | None = None

    @property
    def parameters(self) -> dict[str, Any]:
        return json.loads(self.parameters_json)

    def identity(self) -> dict[str, Any]:
        return {"combine": self.combine, "merge": self.merge, "calibration": self.calibration,
                "parameters": self.parameters, "adapters": [a.sha256 for a in self.adapters],
                "file": self.file.sha256 if self.file else None}


@dataclass(frozen=True)
class ModelPlan:
    """The weights of one inference pass: ``base`` in ``dtype``, changed by ``update`` (or not)."""

    base: BaseModel
    dtype: str
    update: WeightUpdate | None = None

    def identity(self) -> dict[str, Any]:
        return {"base": self.base.identity, "dtype": self.dtype,
                "update": self.update.identity() if self.update else None}

    @property
    def key(self) -> str:
        """A short stable name of the weights (engines keep a loaded model by it)."""
        return sha256_of(self.identity())


@dataclass(frozen=True)
class Decoding:
    """Greedy decoding settings. ``add_special_tokens`` is False for chat-template prompts (the template writes
    its own special tokens) and True for the plain fallback."""

    max_new_tokens: int
    min_new_tokens: int = 0
    add_special_tokens: bool = False

    def identity(self) -> dict[str, Any]:
        return {"strategy": "greedy", "max_new_tokens": self.max_new_tokens, "min_new_tokens": self.min_new_tokens,
                "add_special_tokens": self.add_special_tokens}


def generation_key(plan: ModelPlan, prompt: str, decoding: Decoding) -> str:
    """The cache key of generating from ``prompt`` with ``plan``'s weights and ``decoding``."""
    return sha256_of({"version": KEY_VERSION, "model": plan.identity(), "decoding": decoding.identity(),
                      "prompt": prompt})
