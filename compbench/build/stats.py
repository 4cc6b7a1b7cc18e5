"""Statistics of a release computed from its own files, for the data card: rows, inputs, prompts and lengths.

Lengths are in words, a word being a maximal run of non-whitespace characters exactly as ``str.split()`` counts
them (every Unicode whitespace character separates), computed by Arrow over whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from compbench.schemas import ReleaseManifest

#: Python's str.isspace() characters, as an RE2 class: ASCII controls, U+0085 and the Unicode separators (Z).
_WORD = r"[^\t\n\x0b\x0c\r\x1c-\x1f\x85\p{Z}]+"


@dataclass(frozen=True)
class Lengths:
    """Distribution of word counts over the rows of one split."""

    median: float
    mean: float
    p95: float
    max: int

    @classmethod
    def of(cls, counts: np.ndarray) -> Lengths:
        if counts.size == 0:
            return cls(0.0, 0.0, 0.0, 0)
        return cls(float(np.median(counts)), float(counts.mean()), float(np.percentile(counts, 95)),
                   int(counts.max()))


@dataclass(frozen=True)
class SplitStats:
    """One sub-task's split as the release holds it."""

    subtask: str
    split: str
    files: int
    rows: int
    inputs: int  # distinct source inputs (rows of one input share source_id: several references)
    prompts: tuple[str, ...]
    input_words: Lengths
    reference_words: Lengths


def word_counts(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Words per value, as ``len(text.split())`` (null counts as 0)."""
    return pc.fill_null(pc.count_substring_regex(column, _WORD), 0).to_numpy()


def release_statistics(manifest: ReleaseManifest, root: Path) -> list[SplitStats]:
    """Per (sub-task, split), in manifest order: files, rows, distinct inputs, prompts and word-length
    distributions, read from the Parquet files under ``root``."""
    groups: dict[tuple[str, str], list[Path]] = {}
    for entry in manifest.files:
        groups.setdefault((entry.subtask, entry.split), []).append(root / entry.path)
    stats = []
    for (subtask, split), paths in groups.items():
        table = pa.concat_tables(pq.read_table(path, columns=["source_id", "prompt", "input", "reference"])
                                 for path in paths)
        stats.append(SplitStats(
            subtask=subtask, split=split, files=len(paths), rows=table.num_rows,
            inputs=len(pc.unique(table["source_id"])),
            prompts=tuple(sorted(p for p in pc.unique(table["prompt"]).to_pylist() if p is not None)),
            input_words=Lengths.of(word_counts(table["input"])),
            reference_words=Lengths.of(word_counts(table["reference"])),
        ))
    return stats


_SIZE_LABELS = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B",
                "1B<n<10B", "10B<n<100B", "100B<n<1T")


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` bucket of a row count (``n<1K``, ``1K<n<10K``, ..., ``n>1T``)."""
    for power, label in enumerate(_SIZE_LABELS, start=3):
        if rows < 10**power:
            return label
    return "n>1T"
