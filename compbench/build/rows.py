"""Turning a built example into a split row of the release (``schemas.SPLIT_ROW_SCHEMA``) with a stable id."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from compbench.sources.base import Example
from compbench.tasks import Task


class GeneratorIdentity(Protocol):
    task: str
    model_id: str
    revision: str


def stable_id(task: Task, split: str, source_id: str, reference_index: int) -> str:
    """``<config>-<split>-<16 hex>``: a hash of what identifies the row, so rebuilds give the same id."""
    digest = hashlib.sha256(f"{task.id}\x1f{split}\x1f{source_id}\x1f{reference_index}".encode()).hexdigest()
    return f"{task.config_name}-{split}-{digest[:16]}"


def split_row(task: Task, split: str, source: str, example: Example, chain: Sequence[tuple[str, str]],
              generators: Sequence[GeneratorIdentity]) -> dict:
    """One row as a dict in ``SPLIT_ROW_SCHEMA`` column order; the reference is the chain's last text."""
    return {
        "id": stable_id(task, split, example.source_id, example.reference_index),
        "subtask": task.id,
        "family": task.family,
        "split": split,
        "prompt": task.prompt,
        "input": example.input,
        "reference": chain[-1][1],
        "reference_index": example.reference_index,
        "chain": [{"task": step, "text": text} for step, text in chain],
        "source_dataset": source,
        "source_id": example.source_id,
        "generators": [{"task": g.task, "model_id": g.model_id, "revision": g.revision} for g in generators],
    }
