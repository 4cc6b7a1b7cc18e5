"""Write small benchmark releases and prediction files for scoring tests (the release layout of the schemas)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compbench import __version__
from compbench.fileio import sha256_file
from compbench.schemas import MANIFEST_NAME, SPLIT_ROW_SCHEMA, ReleaseFile, ReleaseManifest, split_file_path
from compbench.tasks import get_task


def row(subtask: str, source_id: str, reference: str, split: str = "test", index: int = 0,
        text: str = "#Person1#: hello\n#Person2#: hi") -> dict:
    task = get_task(subtask)
    return {
        "id": f"{subtask}/{split}/{source_id}/{index}", "subtask": subtask, "family": task.family, "split": split,
        "prompt": task.prompt, "input": text, "reference": reference, "reference_index": index,
        "chain": [{"task": task.main, "text": reference}], "source_dataset": task.source,
        "source_id": source_id, "generators": [],
    }


def write_release(root: Path, rows: list[dict], release: str = "test-release") -> Path:
    """Group rows by (sub-task, split), write Parquet files and a manifest with their sha256."""
    files = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["subtask"], r["split"]), []).append(r)
    for (subtask, split), items in sorted(groups.items()):
        rel = split_file_path(get_task(subtask).config_name, split)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(items, schema=SPLIT_ROW_SCHEMA), path)
        files.append(ReleaseFile(path=rel, subtask=subtask, split=split, rows=len(items), sha256=sha256_file(path)))
    manifest = ReleaseManifest(release=release, compbench_version=__version__, files=files)
    (root / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2))
    return root


def write_jsonl(path: Path, objects: list[object]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects), encoding="utf-8")
    return path
