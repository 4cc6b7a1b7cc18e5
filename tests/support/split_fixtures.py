"""Write benchmark split files (Parquet, ``SPLIT_ROW_SCHEMA``) with our own sentences, as a build would."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compbench.schemas import SPLIT_ROW_SCHEMA, SplitRow, split_file_path
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
    path = release / split_file_path(get_task(subtask).config_name, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([r.model_dump() for r in split_rows(subtask, split, n)], schema=SPLIT_ROW_SCHEMA)
    pq.write_table(table, path)
    return path
