"""Sound Natural message content rephrasing (Einolghozati et al. 2020), used for the single tasks tone-xx.

Hub ``facebook/content_rephrasing`` (CC BY-SA 4.0) holds ``train.tsv`` / ``val.tsv`` / ``test.tsv`` (2,245 / 321 /
642 rows), tab-separated with a header row. The column this builder reads is ``Rephrased Content`` (the rephrased
message); the other columns are not used. The text, with its first letter capitalized, is the input of the tone
tasks; the tone model's rewrite of it is the reference. ``source_id`` is ``<split>:<row index>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from compbench.sources.base import (
    Example,
    HubLocation,
    check_split,
    hub_label,
    iter_delimited,
    iter_hub_rows,
    local_file,
    require_columns,
    require_text,
)

NAME = "sound_natural"
LOCAL_FILES = {"train": "train.tsv", "validation": "val.tsv", "test": "test.tsv"}
CONTENT = "Rephrased Content"


def capitalize_first(text: str) -> str:
    """Upper-case the first character only (``str.capitalize`` would lower-case the rest)."""
    return text[:1].upper() + text[1:]


def load_local(sources_dir: str | Path, split: str) -> list[Example]:
    check_split(split, tuple(LOCAL_FILES))
    path = local_file(sources_dir, NAME, LOCAL_FILES[split])
    return list(_examples(iter_delimited(path, delimiter="\t", needed=(CONTENT,)), split, path))


def load_hub(location: HubLocation, split: str) -> list[Example]:
    check_split(split, tuple(location.data_files))
    label = hub_label(location, split)
    return list(_examples(iter_hub_rows(location, split), split, label, check_first=True))


def _examples(rows: Iterable[tuple[int, dict]], split: str, where: str | Path,
              check_first: bool = False) -> Iterable[Example]:
    for index, (line, row) in enumerate(rows):
        if check_first and index == 0:
            require_columns(list(row), (CONTENT,), where)
        text = require_text(row, CONTENT, where, line).strip()
        if text:
            text = capitalize_first(text)
            yield Example(f"{split}:{index}", text, text)
