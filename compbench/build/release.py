"""Writing a release directory: sharded Parquet per sub-task and split, ``manifest.json`` and the ``README.md`` card.

A release directory *is* a Hugging Face dataset repository: ``data/<config>/<split>-0000K-of-0000N.parquet``, the
manifest and the card, so ``compbench push`` uploads it as it is and a result scored against the local directory
and one scored against its Hub copy record the same manifest hash. :func:`write_hub_repo` (``compbench release``)
rewrites any release directory (an older one with ``<split>.parquet`` files, one to re-shard or rename) into that
layout, checked against its manifest and deterministically.

Everything is written into a staging directory beside ``--out`` and renamed into place at the very end, so a
failure or a kill never leaves a half-written release; a later run removes the stale staging directory. Parquet
files are written with fixed settings and no timestamps: the same rows give the same bytes.
"""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compbench.errors import ConfigError, InputError
from compbench.fileio import atomic_path, atomic_write, read_parquet, sha256_file, write_json
from compbench.schemas import MANIFEST_NAME, SPLIT_ROW_SCHEMA, ReleaseFile, ReleaseManifest, split_file_path
from compbench.tasks import REGISTRY

#: A split whose Parquet file would be larger than this is cut into shards of equal row counts (docs/hub.md).
DEFAULT_MAX_SHARD_BYTES = 256 * 2**20
CARD_NAME = "README.md"


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


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def write_split(root: Path, subtask: str, config_name: str, split: str, rows: list[dict] | pa.Table,
                max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> list[ReleaseFile]:
    """Write one sub-task's split under ``root`` as one Parquet file, or as N shards of equal row counts when
    one file would exceed ``max_shard_bytes``; returns the manifest entries of the files written."""
    if max_shard_bytes < 1:
        raise ConfigError(f"the maximum shard size must be positive, got {max_shard_bytes}")
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=SPLIT_ROW_SCHEMA)
    whole = _parquet_bytes(table)
    shards = max(1, min(table.num_rows, math.ceil(len(whole) / max_shard_bytes)))
    bounds = [table.num_rows * k // shards for k in range(shards + 1)]
    files = []
    for k in range(shards):
        relative = split_file_path(config_name, split, k, shards)
        data = whole if shards == 1 else _parquet_bytes(table.slice(bounds[k], bounds[k + 1] - bounds[k]))
        with atomic_path(root / relative) as tmp:
            tmp.write_bytes(data)
        files.append(ReleaseFile(path=relative, subtask=subtask, split=split, rows=bounds[k + 1] - bounds[k],
                                 sha256=sha256_file(root / relative)))
    return files


def finish_release(staging: Path, manifest: ReleaseManifest) -> None:
    """Write the manifest and the card (rendered from the files in ``staging``) beside the data files."""
    from compbench.build.card import render_card  # the card reads the builders' source pins

    write_json(staging / MANIFEST_NAME, manifest.model_dump(mode="json"))
    with atomic_write(staging / CARD_NAME) as handle:
        handle.write(render_card(manifest, staging))


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


def _read_split(files: Iterable[tuple[ReleaseFile, Path]]) -> pa.Table:
    tables = []
    for entry, path in files:
        table = read_parquet(path)
        missing = [name for name in SPLIT_ROW_SCHEMA.names if name not in table.column_names]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", path)
        try:
            table = table.select(SPLIT_ROW_SCHEMA.names).cast(SPLIT_ROW_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"columns do not have the split-row types ({exc})", path) from None
        if table.num_rows != entry.rows:
            raise InputError(f"{table.num_rows} rows, the manifest says {entry.rows}", path)
        tables.append(table)
    return pa.concat_tables(tables)


def write_hub_repo(release: str | Path, out: str | Path, *, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
                   name: str | None = None) -> ReleaseManifest:
    """Write the release directory ``release`` as a Hub dataset repository ``out`` (``compbench release``).

    Every file is checked against the manifest first; then each sub-task's split is written as
    ``data/<config>/<split>-0000K-of-0000N.parquet`` (shards above ``max_shard_bytes``), with a manifest listing
    the new files and their sha256 (``name`` renames the release) and the card rendered from the written files.
    The same input gives the same bytes; a release already in this layout with the default shard size comes out
    byte-identical. ``out`` may be ``release`` itself (rewritten in place, atomically).
    """
    from compbench.references import read_manifest, release_files

    source, out = Path(release), Path(out)
    if not source.is_dir():
        raise InputError("release directory not found", source)
    manifest = read_manifest(source)
    unknown = sorted({f.subtask for f in manifest.files} - set(REGISTRY))
    if unknown:
        raise InputError(f"the manifest lists an unknown sub-task {unknown[0]!r}", source / MANIFEST_NAME)
    groups: dict[tuple[str, str], list[tuple[ReleaseFile, Path]]] = {}
    for entry, path in release_files(source, manifest=manifest):
        groups.setdefault((entry.subtask, entry.split), []).append((entry, path))
    if not groups:
        raise InputError("the manifest lists no data files", source / MANIFEST_NAME)
    check_output(out)
    staging = start_staging(out)
    try:
        files: list[ReleaseFile] = []
        for (subtask, split), parts in sorted(groups.items()):
            files += write_split(staging, subtask, REGISTRY[subtask].config_name, split,
                                 _read_split(sorted(parts, key=lambda part: part[0].path)), max_shard_bytes)
        repo_manifest = manifest.model_copy(update={"files": sorted(files, key=lambda f: f.path),
                                                    "release": name or manifest.release})
        finish_release(staging, repo_manifest)
        publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return repo_manifest
