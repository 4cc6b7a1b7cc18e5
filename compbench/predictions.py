"""Reading a predictions file: JSON Lines ``{"id", "prediction"}`` or Parquet with the same columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compbench.errors import InputError
from compbench.fileio import iter_jsonl_objects, read_jsonl_strings_fast, sha256_file
from compbench.schemas import PREDICTION_COLUMNS

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class Predictions:
    """Predictions by id, with where each came from (line or row number) for error messages."""

    path: Path
    sha256: str
    by_id: dict[str, str]
    line_of: dict[str, int] | None = None  # filled on demand when the file was read by the fast path

    def where(self, pred_id: str) -> int | None:
        if self.line_of is None:
            self.line_of = _read_jsonl(self.path)[1]
        return self.line_of.get(pred_id)


def _add(by_id: dict[str, str], line_of: dict[str, int], path: Path, line: int, pred_id: object,
         prediction: object) -> None:
    if not isinstance(pred_id, str):
        raise InputError(f"'id' must be a string, found {type(pred_id).__name__}", path, line)
    if not isinstance(prediction, str):
        raise InputError(f"'prediction' of id {pred_id!r} must be a string, found {type(prediction).__name__}",
                         path, line)
    if pred_id in by_id:
        raise InputError(f"duplicate id {pred_id!r} (first seen on line {line_of[pred_id]})", path, line)
    by_id[pred_id] = prediction
    line_of[pred_id] = line


def _read_jsonl_fast(path: Path) -> tuple[dict[str, str], dict[str, int] | None] | None:
    columns = read_jsonl_strings_fast(path, PREDICTION_COLUMNS)
    if columns is None:
        return None
    by_id = dict(zip(columns["id"], columns["prediction"], strict=True))
    if len(by_id) != len(columns["id"]):
        return None  # duplicate ids: the strict reader names the lines
    return by_id, None


def _read_jsonl(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    by_id: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for line, obj in iter_jsonl_objects(path):
        for key in PREDICTION_COLUMNS:
            if key not in obj:
                raise InputError(f"missing {key!r} (expected an object with 'id' and 'prediction')", path, line)
        _add(by_id, line_of, path, line, obj["id"], obj["prediction"])
    return by_id, line_of


def _read_parquet(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise InputError(f"not a readable Parquet file ({exc})", path) from None
    missing = [c for c in PREDICTION_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(f"wrong columns: missing {', '.join(missing)}; found {', '.join(table.column_names)} "
                         f"(expected columns 'id' and 'prediction')", path)
    if table.num_rows == 0:
        raise InputError("file is empty (no rows)", path)
    by_id: dict[str, str] = {}
    line_of: dict[str, int] = {}
    ids = table.column("id").to_pylist()
    preds = table.column("prediction").to_pylist()
    for row, (pred_id, prediction) in enumerate(zip(ids, preds, strict=True), start=1):
        _add(by_id, line_of, path, row, pred_id, prediction)
    return by_id, line_of


def read_predictions(path: str | Path) -> Predictions:
    """Read and validate a predictions file. Errors name the file and line (row, for Parquet)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "expected a file", path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        by_id, line_of = _read_parquet(path)
    else:
        by_id, line_of = _read_jsonl_fast(path) or _read_jsonl(path)
    return Predictions(path=path, sha256=sha256_file(path), by_id=by_id, line_of=line_of)
