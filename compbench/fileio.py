"""Small file helpers shared by every capability: atomic writes, hashing, strict JSON Lines reading."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from compbench.errors import InputError


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a library that writes files itself; rename on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_write(path) as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_text_strict(path: str | Path) -> str:
    """Read a whole UTF-8 file, turning every way it can fail into an :class:`InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 (invalid byte at offset {exc.start})", path, line) from None


def iter_jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for every non-blank line; each line must be a JSON object."""
    text = read_text_strict(path)
    found = False
    # Split on "\n" only: str.splitlines() would also split on U+2028, which JSON allows inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON ({exc.msg} at column {exc.colno})", path, number) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, found {type(obj).__name__}", path, number)
        found = True
        yield number, obj
    if not found:
        raise InputError("file is empty (expected JSON Lines, one object per line)", path)


def read_jsonl_strings_fast(path: str | Path, columns: tuple[str, ...]) -> dict[str, list[str]] | None:
    """Columns of a JSON Lines file whose objects all hold these string fields, read by Arrow's C++ reader.

    Returns ``None`` whenever anything is off (bad JSON, missing field, wrong type, not UTF-8, empty): the caller
    then reads the file with the strict line-by-line reader, which explains what is wrong and where.
    """
    import pyarrow as pa
    import pyarrow.json as pajson

    schema = pa.schema([(c, pa.string()) for c in columns])
    try:
        table = pajson.read_json(path, parse_options=pajson.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore", newlines_in_values=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError):
        return None
    if table.num_rows == 0 or any(table.column(c).null_count for c in columns):
        return None
    try:  # Arrow does not validate UTF-8 while parsing; decoding to Python does
        return {c: table.column(c).to_pylist() for c in columns}
    except UnicodeDecodeError:
        return None


def cache_root() -> Path:
    """compbench's cache: ``$COMPBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/compbench``, else ``~/.cache/compbench``."""
    if os.environ.get("COMPBENCH_CACHE_DIR"):
        return Path(os.environ["COMPBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "compbench"


def read_json_strict(path: str | Path) -> Any:
    """Parse a whole JSON file; a syntax error becomes an :class:`InputError` with its line and column."""
    text = read_text_strict(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg} at column {exc.colno})", path, exc.lineno) from None


ModelT = TypeVar("ModelT", bound=BaseModel)


def read_document(path: str | Path, model: type[ModelT], what: str) -> ModelT:
    """Parse a JSON file into the pydantic ``model``: a syntax error names its line, a schema error its field."""
    data = read_json_strict(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise InputError(f"not a valid {what}: {error['msg']} (at {where})", path) from None
