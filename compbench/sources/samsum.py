"""SAMSum (Gliwa et al. 2019): messenger-style dialogues with summaries; the out-of-domain test set.

Original files ``train.json`` / ``val.json`` / ``test.json`` (inside the Hub repo's ``corpus.7z``): each a JSON array
of ``{"id", "summary", "dialogue"}``, turns joined by ``\\r\\n``. The Hub's Parquet conversion has the same fields.
Turns are re-joined with ``\\n`` so that inputs look like DialogSum's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from compbench.errors import InputError
from compbench.fileio import read_json_strict
from compbench.sources.base import (
    Example,
    HubLocation,
    check_split,
    hub_label,
    iter_hub_rows,
    local_file,
    require_text,
)

NAME = "samsum"
LOCAL_FILES = {"train": "train.json", "validation": "val.json", "test": "test.json"}


def normalize_turns(dialogue: str) -> str:
    """Join turns with ``\\n`` (SAMSum uses ``\\r\\n``, some rows a bare ``\\r`` or ``\\n``)."""
    return dialogue.replace("\r\n", "\n").replace("\r", "\n").strip()


def load_local(sources_dir: str | Path, split: str) -> list[Example]:
    check_split(split, tuple(LOCAL_FILES))
    path = local_file(sources_dir, NAME, LOCAL_FILES[split])
    records = read_json_strict(path)
    if not isinstance(records, list):
        raise InputError(f"expected a JSON array of dialogues, found {type(records).__name__}", path, 1)
    return list(_examples(((None, record) for record in records), path))


def load_hub(location: HubLocation, split: str) -> list[Example]:
    check_split(split, tuple(location.data_files))
    return list(_examples(iter_hub_rows(location, split), hub_label(location, split)))


def _examples(records: Iterable[tuple[int | None, object]], where: str | Path) -> Iterable[Example]:
    for index, (line, record) in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(f"dialogue #{index} is not a JSON object", where, line)
        # json.loads gives no positions: errors in a local file name the dialogue's index instead of a line
        context = where if line is not None else f"{where} (dialogue #{index})"
        yield Example(require_text(record, "id", context, line),
                      normalize_turns(require_text(record, "dialogue", context, line)),
                      require_text(record, "summary", context, line).strip())
