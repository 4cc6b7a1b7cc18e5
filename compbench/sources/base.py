"""What every source loader yields: one example per (input, ground-truth reference), with a stable source id."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from compbench.errors import InputError
from compbench.hub_access import hub_access

SPLITS: tuple[str, ...] = ("train", "validation", "test")


@dataclass(frozen=True)
class Example:
    """One example of a source split.

    ``source_id`` identifies the input within the source (e.g. DialogSum's ``fname``); several examples share it when
    the source gives several references for one input, numbered by ``reference_index``.
    """

    source_id: str
    input: str
    target: str
    reference_index: int = 0


@dataclass(frozen=True)
class HubLocation:
    """Where a source lives on the Hugging Face Hub: repository, pinned revision and data files per split."""

    hub_id: str
    revision: str
    builder: str  # the `datasets` packaged builder that reads the files: "csv", "parquet", "json"
    data_files: dict[str, str]  # split -> path (glob) inside the repository at ``revision``
    builder_options: tuple[tuple[str, object], ...] = ()

    def url(self, split: str) -> str:
        return f"hf://datasets/{self.hub_id}@{self.revision}/{self.data_files[split]}"


def check_split(split: str, available: Sequence[str]) -> None:
    if split not in available:
        raise InputError(f"unknown split {split!r} (expected one of {', '.join(available)})")


def local_file(sources_dir: str | Path, folder: str, name: str) -> Path:
    """``DIR/<folder>/<name>``, or an :class:`InputError` saying which original file is expected where."""
    path = Path(sources_dir) / folder / name
    if not path.is_file():
        raise InputError(f"source file not found (expected the original file {name!r} in {Path(sources_dir) / folder})",
                         path)
    return path


def require_columns(columns: Sequence[str], needed: Sequence[str], path: str | Path, line: int = 1) -> None:
    missing = [name for name in needed if name not in columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(map(repr, missing))}; found {', '.join(map(repr, columns))}",
                         path, line)


def require_text(record: dict, field: str, path: str | Path, line: int | None) -> str:
    """The string value of ``field``; a missing field or a non-string value is an unreadable row."""
    if field not in record:
        raise InputError(f"row has no field {field!r}", path, line)
    value = record[field]
    if not isinstance(value, str):
        raise InputError(f"field {field!r} must be a string, found {type(value).__name__}", path, line)
    return value


def iter_delimited(path: str | Path, *, delimiter: str, quoting: int = csv.QUOTE_MINIMAL,
                   needed: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for every data row of a CSV/TSV file with a header row, streaming.

    The line number is where the row starts (CSV fields may span lines). A row with the wrong number of fields,
    broken quoting or bytes that are not UTF-8 is an :class:`InputError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting, strict=True)
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                raise InputError("file is empty (expected a header row)", path, 1)
            require_columns(header, needed, path)
            start = reader.line_num + 1
            for fields in reader:
                if fields:
                    if len(fields) != len(header):
                        raise InputError(f"expected {len(header)} fields, found {len(fields)}", path, start)
                    yield start, dict(zip(header, fields, strict=True))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise InputError(f"unreadable row ({exc})", path, start) from None
        except UnicodeDecodeError:
            raise InputError("not UTF-8", path, start) from None


def iter_hub_rows(location: HubLocation, split: str) -> Iterator[tuple[int, dict]]:
    """Yield ``(row_number, row)`` of one split read from the Hub with ``datasets`` at the pinned revision."""
    import datasets  # heavy import, only when a build reads the Hub

    with hub_access(f"dataset {hub_label(location, split)}",
                    "build from local copies of the original files with --sources-dir DIR", online_only=True):
        dataset = datasets.load_dataset(location.builder, data_files={split: location.url(split)}, split=split,
                                        **dict(location.builder_options))
    yield from enumerate(dataset, start=1)


def hub_label(location: HubLocation, split: str) -> str:
    """How errors name a Hub split: ``hub_id@revision:split``."""
    return f"{location.hub_id}@{location.revision[:12]}:{split}"
