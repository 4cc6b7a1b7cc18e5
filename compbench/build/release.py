"""Writing a release directory: Parquet per sub-task and split, ``manifest.json`` and the ``README.md`` data card.

The release is written into a staging directory beside ``--out`` and renamed into place at the very end, so a
build that fails or is killed never leaves a half-written release; a later build removes the stale staging
directory. Parquet files are written with fixed settings and no timestamps: the same rows give the same bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compbench.errors import ConfigError
from compbench.fileio import atomic_path, sha256_file
from compbench.schemas import MANIFEST_NAME, SPLIT_ROW_SCHEMA, ReleaseFile, split_file_path


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.building"


def check_output(out: Path) -> None:
    """Refuse an ``--out`` that holds something other than an earlier compbench release."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST_NAME).is_file())):
        raise ConfigError(f"--out {out} exists and is not a compbench release (no {MANIFEST_NAME}); "
                          "choose a new directory")


def start_staging(out: Path) -> Path:
    """A fresh, empty staging directory for ``out`` (a leftover of a killed build is removed first)."""
    staging = staging_dir(out)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def write_split(staging: Path, subtask: str, config_name: str, split: str, rows: list[dict]) -> ReleaseFile:
    relative = split_file_path(config_name, split)
    path = staging / relative
    table = pa.Table.from_pylist(rows, schema=SPLIT_ROW_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return ReleaseFile(path=relative, subtask=subtask, split=split, rows=len(rows), sha256=sha256_file(path))


def publish(staging: Path, out: Path) -> None:
    """Move the finished staging directory to ``out``, replacing an earlier release there."""
    check_output(out)
    previous = out.parent / f".{out.name}.previous"
    if previous.exists():
        shutil.rmtree(previous)
    if out.exists():
        out.rename(previous)
    staging.rename(out)
    if previous.exists():
        shutil.rmtree(previous)
