"""Training examples from a built release: the Parquet split files, per sub-task, sampled with a seed."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compbench.errors import ConfigError, InputError
from compbench.schemas import split_file_path
from compbench.tasks import REGISTRY, UnknownTaskError, get_task, tasks_in_family

REQUIRED_COLUMNS: tuple[str, ...] = ("id", "subtask", "input", "reference")


@dataclass(frozen=True)
class Example:
    """One training pair: the user message is the task's prompt, a blank line, then ``input``."""

    id: str
    subtask: str
    prompt: str
    input: str
    reference: str


def resolve_subtasks(names: Iterable[str]) -> list[str]:
    """Expand family names (``sum+tr``) into their sub-tasks and check sub-task ids; keeps order, no repeats."""
    out: list[str] = []
    for name in names:
        if name in REGISTRY:
            found = [name]
        else:
            found = [t.id for t in tasks_in_family(name)]
            if not found:
                try:
                    get_task(name)
                except UnknownTaskError as exc:
                    raise ConfigError(f"{exc} (nor a family name)") from None
        out.extend(t for t in found if t not in out)
    if not out:
        raise ConfigError("no sub-tasks given")
    return out


def load_split(release: str | Path, subtask: str, split: str = "train") -> list[Example]:
    """The rows of one sub-task's split, read from ``<release>/data/<config>/<split>.parquet``."""
    task = get_task(subtask)
    path = Path(release) / split_file_path(task.config_name, split)
    if not path.is_file():
        raise InputError(f"split file not found (is {release} a built release with {subtask} {split}?)", path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read Parquet ({exc})", path) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path)
    examples = []
    for number, row in enumerate(table.select(list(REQUIRED_COLUMNS)).to_pylist(), start=1):
        if any(not isinstance(row[c], str) for c in REQUIRED_COLUMNS):
            raise InputError(f"row {number}: id, subtask, input and reference must be strings", path)
        if row["subtask"] != subtask:
            raise InputError(f"row {number}: subtask {row['subtask']!r} in the file of {subtask!r}", path)
        examples.append(Example(id=row["id"], subtask=subtask, prompt=task.prompt, input=row["input"],
                                reference=row["reference"]))
    if not examples:
        raise InputError("the split file has no rows", path)
    return examples


def load_examples(release: str | Path, subtasks: Sequence[str], split: str = "train", limit: int | None = None,
                  seed: int = 0) -> list[Example]:
    """All rows of ``subtasks`` (families expanded) or, with ``limit``, a seeded random sample of that many.

    The sample is drawn from the union of the sub-tasks' rows (the paper's 10,000 random compositional
    examples); its order is the sample's order. Without ``limit`` the rows keep file order (the training loop
    shuffles with its own seed).
    """
    rows: list[Example] = []
    for subtask in resolve_subtasks(subtasks):
        rows.extend(load_split(release, subtask, split))
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"the number of examples must be positive, got {limit}")
        if limit < len(rows):
            rows = random.Random(seed).sample(rows, limit)
    return rows
