"""The fixture sources (tests/fixtures/sources, each source's original format) converted to each dataset's Hub
layout at the revision ``builders/sources.py`` pins, for the Hub stand-in to serve.

Each conversion is what the Hub copy of that dataset holds (the source loaders' docstrings describe them):
DialogSum as CSV with ``id, dialogue, summary, topic`` and the test set flattened to one row per reference
(``<fname>_<k>``); Synthetic Persona Chat, TED Talks and SAMSum as Parquet conversions (empty CSV cells become
nulls; TED rows hold ``translations`` = {language: [...], translation: [...]} with the languages present);
Sound Natural as its TSV files unchanged. A data-file glob of a pin becomes one concrete file that matches it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from builders.sources import SOURCE_PINS
from compbench.sources import LOADERS
from compbench.sources.ted import NULL_MARKERS
from tests.support.fake_generators import FIXTURE_SOURCES


def _parquet(rows: list[dict], schema: pa.Schema | None = None) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
    return sink.getvalue()


def _read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        return [row for row in csv.DictReader(handle, delimiter=delimiter, quoting=quoting) if any(row.values())]


def _dialogsum(path: Path, split: str) -> bytes:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(["id", "dialogue", "summary", "topic"])
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if split == "test":
            for k in (1, 2, 3):
                writer.writerow([f"{record['fname']}_{k}", record["dialogue"], record[f"summary{k}"],
                                 record[f"topic{k}"]])
        else:
            writer.writerow([record["fname"], record["dialogue"], record["summary"], record["topic"]])
    return sink.getvalue().encode("utf-8")


def _persona_chat(path: Path, split: str) -> bytes:
    rows = [{name: value or None for name, value in row.items()} for row in _read_csv(path)]
    return _parquet(rows, pa.schema([(name, pa.string()) for name in rows[0]]))


def _ted(path: Path, split: str) -> bytes:
    rows = []
    for row in _read_csv(path, delimiter="\t"):
        present = sorted((lang, text) for lang, text in row.items()
                         if lang != "talk_name" and text.strip() not in NULL_MARKERS)
        rows.append({"talk_name": row["talk_name"],
                     "translations": {"language": [lang for lang, _ in present],
                                      "translation": [text for _, text in present]}})
    return _parquet(rows)


def _samsum(path: Path, split: str) -> bytes:
    return _parquet(json.loads(path.read_text(encoding="utf-8")))


def _as_is(path: Path, split: str) -> bytes:
    return path.read_bytes()


CONVERT = {"dialogsum": _dialogsum, "synthetic_persona_chat": _persona_chat, "ted": _ted, "samsum": _samsum,
           "sound_natural": _as_is}


def source_hub_copies(sources: Path = FIXTURE_SOURCES) -> dict[str, tuple[str, dict[str, bytes]]]:
    """Per Hub repository id: the pinned revision and its files (path -> bytes)."""
    copies = {}
    for name, pin in SOURCE_PINS.items():
        files = {}
        for split, pattern in pin.location.data_files.items():
            original = sources / name / LOADERS[name].LOCAL_FILES[split]
            if original.is_file():
                files[pattern.replace("*", "00000-of-00001")] = CONVERT[name](original, split)
        copies[pin.location.hub_id] = (pin.location.revision, files)
    return copies


def serve_sources(hub, sources: Path = FIXTURE_SOURCES) -> None:
    """Seed the stand-in with every source's Hub copy at its pinned revision (not a branch head)."""
    for hub_id, (revision, files) in source_hub_copies(sources).items():
        hub.add_repo(hub_id, files, revision=revision, branch=None)
