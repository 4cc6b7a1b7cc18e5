"""Reading references: from a release (directory or Hub dataset id) or from a ``--references`` JSON Lines file.

Both give a :class:`ReferenceSet`: one row per (prediction id, reference). ``group`` ties together the
references of one input (rows of one DialogSum test dialogue in a release; lines with one id in a JSON Lines
file), which ``--multi-ref max`` scores once against its best reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from compbench.errors import ConfigError, InputError
from compbench.fileio import iter_jsonl_objects, read_jsonl_strings_fast, read_text_strict, sha256_file
from compbench.schemas import MANIFEST_NAME, ReleaseManifest
from compbench.tasks import REGISTRY

REFERENCE_COLUMNS = ("id", "subtask", "group", "reference_index", "reference")


@dataclass
class ReferenceSet:
    """References of one split, as equal-length column lists named by :data:`REFERENCE_COLUMNS`, and where they
    came from. Plain lists: the scorer works on Python values, and building Arrow or pandas tables here would load
    pandas (see :mod:`compbench.arrow_arrays`)."""

    columns: dict[str, list]
    origin: str  # release directory, Hub id, or references file
    sha256: str  # of the release manifest or of the references file

    @property
    def subtasks(self) -> list[str]:
        return sorted(set(self.columns["subtask"]))


def load_reference_jsonl(path: str | Path) -> ReferenceSet:
    """``{"id", "subtask", "reference"}`` per line; several lines with one id are one multi-reference input."""
    path = Path(path)
    rows = _reference_rows_fast(path)
    rows = rows if rows is not None else _reference_rows_strict(path)
    columns = dict(zip(REFERENCE_COLUMNS, map(list, zip(*rows, strict=True)), strict=True)) if rows else {
        name: [] for name in REFERENCE_COLUMNS}
    return ReferenceSet(columns=columns, origin=str(path), sha256=sha256_file(path))


def _reference_rows_fast(path: Path) -> list[tuple[str, str, str, int, str]] | None:
    """Rows read by Arrow; ``None`` if anything needs the strict reader's line-numbered message."""
    columns = read_jsonl_strings_fast(path, ("id", "subtask", "reference"))
    if columns is None:
        return None
    subtask_of: dict[str, str] = {}
    count: dict[str, int] = {}
    rows = []
    for ref_id, subtask, reference in zip(columns["id"], columns["subtask"], columns["reference"], strict=True):
        if subtask not in REGISTRY or subtask_of.setdefault(ref_id, subtask) != subtask:
            return None
        index = count.get(ref_id, 0)
        count[ref_id] = index + 1
        rows.append((ref_id, subtask, ref_id, index, reference))
    return rows


def _reference_rows_strict(path: Path) -> list[tuple[str, str, str, int, str]]:
    rows: list[tuple[str, str, str, int, str]] = []
    subtask_of: dict[str, tuple[str, int]] = {}
    count: dict[str, int] = {}
    for line, obj in iter_jsonl_objects(path):
        for key in ("id", "subtask", "reference"):
            if key not in obj:
                raise InputError(f"missing {key!r} (expected an object with 'id', 'subtask' and 'reference')",
                                 path, line)
            if not isinstance(obj[key], str):
                raise InputError(f"{key!r} must be a string, found {type(obj[key]).__name__}", path, line)
        ref_id, subtask = obj["id"], obj["subtask"]
        if subtask not in REGISTRY:
            raise InputError(f"unknown sub-task id {subtask!r}; `compbench tasks` lists them", path, line)
        first = subtask_of.setdefault(ref_id, (subtask, line))
        if first[0] != subtask:
            raise InputError(f"id {ref_id!r} is sub-task {subtask!r} here but {first[0]!r} on line {first[1]}",
                             path, line)
        index = count.get(ref_id, 0)
        count[ref_id] = index + 1
        rows.append((ref_id, subtask, ref_id, index, obj["reference"]))
    return rows


def resolve_release(data: str, split: str) -> Path:
    """The local directory of the release ``data`` (``--data``): a directory as is; anything else is taken as a
    Hub dataset id and downloaded. The one place where ``--data`` becomes files on disk."""
    local = Path(data)
    if local.exists():
        if not local.is_dir():
            raise InputError("expected a release directory (with manifest.json)", local)
        return local
    if data.count("/") != 1 or data.startswith((".", "/")):
        raise InputError("release directory not found (and not a Hub dataset id of the form owner/name)", data)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=data, repo_type="dataset",
                                      allow_patterns=[MANIFEST_NAME, f"data/*/{split}.parquet"]))
    except Exception as exc:  # network, authentication, missing repository
        raise InputError(f"cannot download the release from the Hub ({type(exc).__name__}: {exc})", data) from None


def read_manifest(release: Path) -> ReleaseManifest:
    path = release / MANIFEST_NAME
    text = read_text_strict(path)
    try:
        return ReleaseManifest.model_validate_json(text)
    except ValidationError as exc:
        raise InputError(f"not a valid release manifest: {exc.errors()[0]['msg']} at "
                         f"{'.'.join(map(str, exc.errors()[0]['loc']))}", path) from None


def load_release(data: str, split: str = "test", subtasks: list[str] | None = None) -> ReferenceSet:
    """References of ``split`` from a release; checks each file's sha256 against the manifest."""
    import pyarrow.parquet as pq

    release = resolve_release(data, split)
    manifest = read_manifest(release)
    files = [f for f in manifest.files if f.split == split and (subtasks is None or f.subtask in subtasks)]
    if not files:
        available = sorted({f.split for f in manifest.files})
        raise ConfigError(f"the release has no {split!r} files for the selected sub-tasks "
                          f"(splits present: {', '.join(available) or 'none'})", release)
    columns: dict[str, list] = {name: [] for name in REFERENCE_COLUMNS}
    for entry in files:
        path = release / entry.path
        if not path.resolve().is_relative_to(release.resolve()):
            raise InputError(f"manifest path {entry.path!r} leaves the release directory", release / MANIFEST_NAME)
        if not path.is_file():
            raise InputError("file listed in the manifest is missing", path)
        if sha256_file(path) != entry.sha256:
            raise InputError("sha256 differs from the manifest (the file changed after the release was made)", path)
        needed = ("id", "subtask", "source_id", "reference_index", "reference")
        missing = [c for c in needed if c not in pq.read_schema(path).names]
        if missing:
            raise InputError(f"wrong columns: missing {', '.join(missing)}", path)
        table = pq.read_table(path, columns=list(needed))
        ids, subtasks, source_ids, indices, references = (table.column(name).to_pylist() for name in needed)
        columns["id"] += ids
        columns["subtask"] += subtasks
        # Rows of one input share source_id within a sub-task.
        columns["group"] += [f"{s}\x1f{source}" for s, source in zip(subtasks, source_ids, strict=True)]
        columns["reference_index"] += indices
        columns["reference"] += references
    seen: set[str] = set()
    for row_id in columns["id"]:
        if row_id in seen:
            raise InputError(f"duplicate row id {row_id!r} in the release", release)
        seen.add(row_id)
    return ReferenceSet(columns=columns, origin=data, sha256=sha256_file(release / MANIFEST_NAME))
