"""Small file helpers shared by every capability: atomic writes, hashing, strict JSON Lines reading."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from compbench.errors import InputError


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _create_temp_file(path: Path) -> tuple[int, Path]:
    """Open a new, unique temporary file beside ``path``, with the permissions a plain ``open()`` would give.

    ``tempfile.mkstemp`` creates files with mode 0600 whatever the umask, and a rename keeps that mode. Here the
    file is created with 0666 and the kernel applies the umask; if ``path`` already exists, its permission bits
    are kept, as when ``open(path, "w")`` truncates it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _temp_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    with contextlib.suppress(FileNotFoundError):
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
    return fd, tmp


def make_staging_dir(target: str | Path) -> Path:
    """A new, empty directory beside ``target`` to assemble it in, then rename into place.

    Unlike ``tempfile.mkdtemp`` (always 0700), it gets the permissions of a plain ``mkdir`` (0777 less the umask),
    which the renamed directory keeps.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        staging = _temp_name(target)
        try:
            staging.mkdir(0o777)
            return staging
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it into place only if the block succeeds."""
    path = Path(path)
    fd, tmp = _create_temp_file(path)
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
    """Yield a temporary path beside ``path`` for a library that writes files itself; rename on success.

    The file ends up with the mode :func:`atomic_write` would give it, even if the library replaced the temporary
    file with one of its own (safetensors writes 0600 files).
    """
    path = Path(path)
    fd, tmp = _create_temp_file(path)
    intended = stat.S_IMODE(os.fstat(fd).st_mode)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, intended)
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


def read_parquet(path: str | Path, columns: list[str] | None = None):
    """A Parquet file (``columns`` of it) as an Arrow table; an unreadable one is an :class:`InputError` naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read Parquet ({exc})", path) from None
