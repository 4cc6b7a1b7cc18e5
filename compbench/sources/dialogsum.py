"""DialogSum (Chen et al. 2021): dialogues with human summaries.

Original files ``dialogsum.{train,dev,test}.jsonl`` with ``fname``, ``dialogue``, ``summary``, ``topic``; the test
file has three references per dialogue (``summary1..3``), which become three examples sharing the ``fname`` with
``reference_index`` 0..2. The Hub copy (``knkarthick/dialogsum``, CSV with ``id``, ``dialogue``, ``summary``,
``topic``) already has one row per reference; its test ids carry the reference number as a suffix (``test_0_1``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from compbench.fileio import iter_jsonl_objects
from compbench.sources.base import (
    Example,
    HubLocation,
    check_split,
    hub_label,
    iter_hub_rows,
    local_file,
    require_text,
)

NAME = "dialogsum"
LOCAL_FILES = {"train": "dialogsum.train.jsonl", "validation": "dialogsum.dev.jsonl", "test": "dialogsum.test.jsonl"}
TEST_REFERENCES = 3
_HUB_TEST_ID = re.compile(r"^(?P<fname>.+)_(?P<number>[1-9])$")


def load_local(sources_dir: str | Path, split: str) -> list[Example]:
    check_split(split, tuple(LOCAL_FILES))
    path = local_file(sources_dir, NAME, LOCAL_FILES[split])
    return list(_from_original(iter_jsonl_objects(path), split, path))


def load_hub(location: HubLocation, split: str) -> list[Example]:
    check_split(split, tuple(location.data_files))
    label = hub_label(location, split)
    examples = []
    for line, row in iter_hub_rows(location, split):
        row_id = require_text(row, "id", label, line)
        match = _HUB_TEST_ID.match(row_id) if split == "test" else None
        source_id, index = (match["fname"], int(match["number"]) - 1) if match else (row_id, 0)
        examples.append(Example(source_id, require_text(row, "dialogue", label, line),
                                require_text(row, "summary", label, line), index))
    return examples


def _from_original(records: Iterable[tuple[int, dict]], split: str, path: Path) -> Iterable[Example]:
    for line, record in records:
        fname = require_text(record, "fname", path, line)
        dialogue = require_text(record, "dialogue", path, line)
        if split != "test":
            yield Example(fname, dialogue, require_text(record, "summary", path, line))
            continue
        for index in range(TEST_REFERENCES):
            summary = require_text(record, f"summary{index + 1}", path, line)
            yield Example(fname, dialogue, summary, index)
