"""Synthetic Persona Chat (Jandaghi et al. 2024): persona-grounded conversations turned into (context, reply) pairs.

Original CSVs ``Synthetic-Persona-Chat_{train,valid,test}.csv`` (also the Hub's ``data/`` files) with columns
``user 1 personas``, ``user 2 personas``, ``Best Generated Conversation``. A conversation is newline-separated lines
``User 1: ...`` / ``User 2: ...``. A pair is two consecutive lines by different speakers, prefixes removed; a blank
line, a ``* * *`` separator, a line without a speaker prefix, an empty utterance or the same speaker twice breaks
the chain. Empty conversations give no pairs. ``source_id`` is ``<conversation row>:<line of the context>``, both
0-based, so the Hub and the local files give the same ids.
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

NAME = "synthetic_persona_chat"
LOCAL_FILES = {
    "train": "Synthetic-Persona-Chat_train.csv",
    "validation": "Synthetic-Persona-Chat_valid.csv",
    "test": "Synthetic-Persona-Chat_test.csv",
}
CONVERSATION = "Best Generated Conversation"
SPEAKERS = {"User 1: ": "1", "User 2: ": "2"}


def speaker_line(line: str) -> tuple[str, str] | None:
    """``(speaker, utterance)`` for a ``User N: text`` line, or None for anything that breaks a pair."""
    line = line.rstrip("\r")
    for prefix, speaker in SPEAKERS.items():
        if line.startswith(prefix):
            utterance = line[len(prefix):].strip()
            return (speaker, utterance) if utterance else None
    return None


def conversation_pairs(conversation: str) -> list[tuple[int, str, str]]:
    """``(line_index, context, reply)`` for every pair of consecutive lines by different speakers."""
    lines = [speaker_line(line) for line in conversation.split("\n")]
    return [
        (index, first[1], second[1])
        for index, (first, second) in enumerate(zip(lines, lines[1:], strict=False))
        if first is not None and second is not None and first[0] != second[0]
    ]


def load_local(sources_dir: str | Path, split: str) -> list[Example]:
    check_split(split, tuple(LOCAL_FILES))
    path = local_file(sources_dir, NAME, LOCAL_FILES[split])
    return list(_pairs(iter_delimited(path, delimiter=",", needed=(CONVERSATION,)), path))


def load_hub(location: HubLocation, split: str) -> list[Example]:
    check_split(split, tuple(location.data_files))
    label = hub_label(location, split)
    rows = iter_hub_rows(location, split)
    return list(_pairs(rows, label, check_first=True))


def _pairs(rows: Iterable[tuple[int, dict]], where: str | Path, check_first: bool = False) -> Iterable[Example]:
    for row_index, (line, row) in enumerate(rows):
        if check_first and row_index == 0:
            require_columns(list(row), (CONVERSATION,), where)
        conversation = row[CONVERSATION]
        if conversation is None:  # an empty CSV cell read by `datasets`
            continue
        conversation = require_text(row, CONVERSATION, where, line)
        for line_index, context, reply in conversation_pairs(conversation):
            yield Example(f"{row_index}:{line_index}", context, reply)
