"""Reading references: from a release (directory or Hub dataset id) or from a ``--references`` JSON Lines file.

Both give a :class:`ReferenceSet`: one row per (prediction id, reference). ``group`` ties together the
references of one input (rows of one DialogSum test dialogue in a release; lines with one id in a JSON Lines
file), which ``--multi-ref max`` scores once against its best reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from compbench.errors import ConfigError, InputError
from compbench.fileio import (
    iter_jsonl_objects,
    read_document,
    read_jsonl_strings_fast,
    sha256_file,
    sha256_text,
)
from compbench.hub_access import hub_access, hub_offline, parse_hub_id
from compbench.schemas import MANIFEST_NAME, ReleaseFile, ReleaseManifest
from compbench.tasks import REGISTRY, get_task

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


def resolve_release(data: str, split: str | None = None, subtasks: Sequence[str] | None = None) -> Path:
    """The local directory of the release ``data`` (``--data``): the one place where ``--data`` becomes files.

    An existing directory is returned as it is. Anything else must be a Hub dataset id ``ORG/NAME`` or
    ``ORG/NAME@REVISION`` (branch, tag or commit): its ``manifest.json`` and the Parquet files of ``split`` (all
    splits if None) of ``subtasks`` (all if None) are downloaded into the Hugging Face cache, which is returned.
    Offline (``HF_HUB_OFFLINE=1``) a revision downloaded before is read from the cache. Files are checked against
    the manifest's sha256 when they are read (:func:`release_files`), for a directory and a download alike.
    """
    local = Path(data)
    if local.exists():
        if not local.is_dir():
            raise InputError("expected a release directory (with manifest.json)", local)
        return local
    hub_id = parse_hub_id(data, what="--data",
                          hint="release directory not found, and not a Hub dataset id ORG/NAME[@REVISION]")
    configs = ["*"] if subtasks is None else [get_task(s).config_name for s in subtasks]
    patterns = [MANIFEST_NAME, *(f"data/{config}/{split or ''}*.parquet" for config in configs)]
    from huggingface_hub import snapshot_download

    with hub_access(f"dataset {hub_id}", f"no directory {data!r} exists here; give --data a local release "
                                         "directory, or check the id"):
        return Path(snapshot_download(repo_id=hub_id.repo_id, repo_type="dataset", revision=hub_id.revision,
                                      allow_patterns=patterns, local_files_only=hub_offline()))


#: Manifest fields that say how a release was made, not what it holds: left out of its identity.
BUILD_PROVENANCE_FIELDS = ("engine",)


def release_hash(release: Path) -> str:
    """The identity of a release: sha256 of its manifest's canonical JSON without how it was built.

    Two builds of the same inputs hold the same files (byte for byte) whichever engine ran them; their manifests
    differ only in ``engine``, so they share this hash and their results share leaderboard tables.
    """
    import json

    manifest = read_manifest(release).model_dump(mode="json", exclude=set(BUILD_PROVENANCE_FIELDS))
    return sha256_text(json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def read_manifest(release: Path) -> ReleaseManifest:
    return read_document(release / MANIFEST_NAME, ReleaseManifest, "release manifest")


def release_files(release: Path, split: str | None = None, subtasks: Sequence[str] | None = None,
                  manifest: ReleaseManifest | None = None) -> list[tuple[ReleaseFile, Path]]:
    """The manifest's files of ``split`` (all if None) and ``subtasks`` (all if None), in manifest order, each
    checked: inside the release directory, present, and with the sha256 the manifest records."""
    manifest = manifest or read_manifest(release)
    checked = []
    for entry in manifest.files:
        if (split is not None and entry.split != split) or (subtasks is not None and entry.subtask not in subtasks):
            continue
        # A lexical check: in the Hugging Face cache every file is a symlink into its blob store.
        relative = PurePosixPath(entry.path)
        if relative.is_absolute() or ".." in relative.parts or "\\" in entry.path or not relative.parts:
            raise InputError(f"manifest path {entry.path!r} leaves the release directory", release / MANIFEST_NAME)
        path = release / relative
        if not path.is_file():
            raise InputError("file listed in the manifest is missing", path)
        if sha256_file(path) != entry.sha256:
            raise InputError("sha256 differs from the manifest (the file changed after the release was made)", path)
        checked.append((entry, path))
    return checked


def load_release(data: str, split: str = "test", subtasks: list[str] | None = None) -> ReferenceSet:
    """References of ``split`` from a release; checks each file's sha256 against the manifest."""
    import pyarrow.parquet as pq

    release = resolve_release(data, split)
    manifest = read_manifest(release)
    if not any(f.split == split and (subtasks is None or f.subtask in subtasks) for f in manifest.files):
        available = sorted({f.split for f in manifest.files})
        raise ConfigError(f"the release has no {split!r} files for the selected sub-tasks "
                          f"(splits present: {', '.join(available) or 'none'})", release)
    columns: dict[str, list] = {name: [] for name in REFERENCE_COLUMNS}
    needed = ("id", "subtask", "source_id", "reference_index", "reference")
    for _entry, path in release_files(release, split, subtasks, manifest):
        missing = [c for c in needed if c not in pq.read_schema(path).names]
        if missing:
            raise InputError(f"wrong columns: missing {', '.join(missing)}", path)
        table = pq.read_table(path, columns=list(needed))
        ids, row_subtasks, source_ids, indices, references = (table.column(name).to_pylist() for name in needed)
        columns["id"] += ids
        columns["subtask"] += row_subtasks
        # Rows of one input share source_id within a sub-task.
        columns["group"] += [f"{s}\x1f{source}" for s, source in zip(row_subtasks, source_ids, strict=True)]
        columns["reference_index"] += indices
        columns["reference"] += references
    seen: set[str] = set()
    for row_id in columns["id"]:
        if row_id in seen:
            raise InputError(f"duplicate row id {row_id!r} in the release", release)
        seen.add(row_id)
    return ReferenceSet(columns=columns, origin=data, sha256=release_hash(release))
