"""Training examples from a built release: the Parquet split files, per sub-task, sampled with a seed."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from compbench.errors import ConfigError, InputError
from compbench.fileio import read_parquet
from compbench.references import release_files, resolve_release
from compbench.schemas import MANIFEST_NAME
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


def read_split_table(release: str | Path, subtask: str, split: str = "train") -> tuple[Path, pa.Table]:
    """The checked Arrow table (required columns only) of one sub-task's split: every file the release's manifest
    lists for it (shards in order), each checked against its sha256. ``release`` is a directory or a Hub id."""
    task = get_task(subtask)
    directory = resolve_release(str(release), split, [task.id])
    files = release_files(directory, split, [task.id])
    if not files:
        raise InputError(f"split file not found: the manifest lists no {split!r} file for {subtask} "
                         f"(is {release} a built release with {subtask} {split}?)", directory / MANIFEST_NAME)
    tables = []
    for _entry, path in files:
        table = read_parquet(path)
        missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", path)
        tables.append(table.select(list(REQUIRED_COLUMNS)))
    table = pa.concat_tables(tables)
    if table.num_rows == 0:
        raise InputError("the split file has no rows", files[0][1])
    return files[0][1], table


def _examples(path: Path, table: pa.Table, subtask: str, rows: Sequence[int] | None = None) -> list[Example]:
    """``Example`` objects for ``rows`` of ``table`` (all rows if ``None``), checking each one."""
    prompt = get_task(subtask).prompt
    picked = table if rows is None else table.take(pa.array(rows, type=pa.int64()))
    numbers = range(1, table.num_rows + 1) if rows is None else [r + 1 for r in rows]
    examples = []
    for number, row in zip(numbers, picked.to_pylist(), strict=True):
        if any(not isinstance(row[c], str) for c in REQUIRED_COLUMNS):
            raise InputError(f"row {number}: id, subtask, input and reference must be strings", path)
        if row["subtask"] != subtask:
            raise InputError(f"row {number}: subtask {row['subtask']!r} in the file of {subtask!r}", path)
        examples.append(Example(id=row["id"], subtask=subtask, prompt=prompt, input=row["input"],
                                reference=row["reference"]))
    return examples


def load_split(release: str | Path, subtask: str, split: str = "train") -> list[Example]:
    """The rows of one sub-task's split of a release (directory or Hub id ``ORG/NAME[@REVISION]``)."""
    path, table = read_split_table(release, subtask, split)
    return _examples(path, table, subtask)


def load_examples(release: str | Path, subtasks: Sequence[str], split: str = "train", limit: int | None = None,
                  seed: int = 0) -> list[Example]:
    """All rows of ``subtasks`` (families expanded) or, with ``limit``, a seeded random sample of that many.

    The sample is drawn from the union of the sub-tasks' rows in file order (the paper's 10,000 random
    compositional examples): ``random.Random(seed).sample(range(total), limit)`` picks the positions, and only
    those rows are turned into Python objects (the reply families have 225,061 rows per sub-task). The
    sample keeps its drawn order. Without ``limit`` the rows keep file order (the training loop shuffles with
    its own seed).
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"the number of examples must be positive, got {limit}")
    names = resolve_subtasks(subtasks)
    local = resolve_release(str(release), split, names)  # one download for every sub-task of a Hub release
    tables = [(subtask, *read_split_table(local, subtask, split)) for subtask in names]
    total = sum(table.num_rows for _, _, table in tables)
    if limit is None or limit >= total:
        return [e for subtask, path, table in tables for e in _examples(path, table, subtask)]
    positions = random.Random(seed).sample(range(total), limit)
    offsets, offset = [], 0
    for _, _, table in tables:
        offsets.append(offset)
        offset += table.num_rows
    by_file: dict[int, list[tuple[int, int]]] = {}
    for order, position in enumerate(positions):
        index = bisect.bisect_right(offsets, position) - 1
        by_file.setdefault(index, []).append((order, position - offsets[index]))
    picked: list[Example | None] = [None] * limit
    for index, items in by_file.items():
        subtask, path, table = tables[index]
        for (order, _), example in zip(items, _examples(path, table, subtask, [row for _, row in items]),
                                       strict=True):
            picked[order] = example
    return [e for e in picked if e is not None]
