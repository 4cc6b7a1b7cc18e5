"""TED Talks (Qi et al. 2018): English sentences with their translations, used for the single tasks tr-xx.

Original files ``all_talks_{train,dev,test}.tsv``: a header ``talk_name`` plus one column per language code, one
Moses-tokenized sentence per row; a language missing for a row holds ``__NULL__`` or ``_ _ NULL _ _``. A row is an
example for language xx when both ``en`` and ``xx`` are present, so the sizes differ per language. The Hub copy
(``neulab/ted_multi``, its Parquet conversion) has ``talk_name`` and ``translations`` = {``language``: [...],
``translation``: [...]} per row. ``source_id`` is ``<talk_name>:<row index in the split>``. Text is kept as the source
has it (tokenized).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from compbench.errors import InputError
from compbench.sources.base import (
    Example,
    HubLocation,
    check_split,
    hub_label,
    iter_delimited,
    iter_hub_rows,
    local_file,
    require_text,
)

NAME = "ted"
LOCAL_FILES = {"train": "all_talks_train.tsv", "validation": "all_talks_dev.tsv", "test": "all_talks_test.tsv"}
NULL_MARKERS = frozenset({"__NULL__", "_ _ NULL _ _"})
SOURCE_LANGUAGE = "en"


def is_missing(text: str | None) -> bool:
    """True for an absent sentence: None, empty, or one of TED's null markers."""
    return text is None or not text.strip() or text.strip() in NULL_MARKERS


def load_local(sources_dir: str | Path, split: str, language: str) -> list[Example]:
    check_split(split, tuple(LOCAL_FILES))
    path = local_file(sources_dir, NAME, LOCAL_FILES[split])
    rows = iter_delimited(path, delimiter="\t", quoting=csv.QUOTE_NONE,
                          needed=("talk_name", SOURCE_LANGUAGE, language))
    return list(_examples(((line, row["talk_name"], row) for line, row in rows), language))


def load_hub(location: HubLocation, split: str, language: str) -> list[Example]:
    check_split(split, tuple(location.data_files))
    label = hub_label(location, split)
    return list(_examples(_hub_rows(location, split, label), language))


def _hub_rows(location: HubLocation, split: str, label: str) -> Iterable[tuple[int, str, dict[str, str]]]:
    for line, row in iter_hub_rows(location, split):
        talk = require_text(row, "talk_name", label, line)
        translations = row.get("translations")
        if not isinstance(translations, dict) or not {"language", "translation"} <= set(translations):
            raise InputError("row has no 'translations' {language, translation} field", label, line)
        yield line, talk, dict(zip(translations["language"], translations["translation"], strict=False))


def _examples(rows: Iterable[tuple[int, str, dict[str, str]]], language: str) -> Iterable[Example]:
    for index, (_line, talk, texts) in enumerate(rows):
        source, target = texts.get(SOURCE_LANGUAGE), texts.get(language)
        if is_missing(source) or is_missing(target):
            continue
        yield Example(f"{talk}:{index}", source.strip(), target.strip())
