"""Write benchmark split files (Parquet, ``SPLIT_ROW_SCHEMA``) with our own sentences, as a build would."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compbench import __version__
from compbench.fileio import sha256_file
from compbench.schemas import (
    MANIFEST_NAME,
    SPLIT_ROW_SCHEMA,
    ReleaseFile,
    ReleaseManifest,
    SplitRow,
    split_file_path,
)
from compbench.tasks import get_task
from tests.support.tiny_chat import SENTENCES


def split_rows(subtask: str, split: str, n: int) -> list[SplitRow]:
    task = get_task(subtask)
    rows = []
    for i in range(n):
        text = SENTENCES[i % len(SENTENCES)]
        answer = SENTENCES[(i * 5 + 3) % len(SENTENCES)].split(",")[0]
        rows.append(SplitRow(id=f"{task.config_name}-{split}-{i:05d}", subtask=subtask, family=task.family,
                             split=split, prompt=task.prompt, input=f"#Person1#: {text}", reference=answer,
                             source_dataset=task.source, source_id=str(i)))
    return rows


def write_split(release: Path, subtask: str, split: str = "train", n: int = 12) -> Path:
    """Write the split file and record it (rows, sha256) in the release's manifest, created if missing."""
    relative = split_file_path(get_task(subtask).config_name, split)
    path = release / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([r.model_dump() for r in split_rows(subtask, split, n)], schema=SPLIT_ROW_SCHEMA)
    pq.write_table(table, path)
    record_in_manifest(release, ReleaseFile(path=relative, subtask=subtask, split=split, rows=n,
                                            sha256=sha256_file(path)))
    return path


def record_in_manifest(release: Path, file: ReleaseFile) -> None:
    manifest_path = release / MANIFEST_NAME
    manifest = (ReleaseManifest.model_validate_json(manifest_path.read_text()) if manifest_path.is_file()
                else ReleaseManifest(release="fixture", compbench_version=__version__, files=[]))
    files = [f for f in manifest.files if f.path != file.path] + [file]
    manifest_path.write_text(manifest.model_copy(update={"files": sorted(files, key=lambda f: f.path)})
                             .model_dump_json(indent=2))
