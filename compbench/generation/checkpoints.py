"""Finding generator checkpoints (Hub id or local directory), naming their revision, and safe weight loading.

A checkpoint is always used from a local directory: a Hub id is first fetched with ``snapshot_download``
(only JSON, tokenizer and safetensors files) at the requested revision; a repository with only pickled
weights has them converted once to safetensors with ``torch.load(weights_only=True)``, which refuses
anything but tensors. Nothing else is ever unpickled.

The revision recorded for a local directory is, in order: the commit in a Hub cache snapshot path
(``models--org--name/snapshots/<sha>``), the commit in a ``--local-dir`` download's metadata, or else a
``sha256:`` content hash of the directory's files, so a rebuild from the same files reuses its cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from compbench.errors import ConfigError, InputError
from compbench.fileio import cache_root, make_staging_dir, sha256_file
from compbench.hub_access import hub_access
from compbench.safe_weights import pickled_state_to_safetensors

# What a generator needs from a Hub repository: configs, tokenizer files, safetensors weights.
SAFE_DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.spm", "*.model", "*.txt", "*.tiktoken"]
# Pickled weight files we know how to convert, and the safetensors name each one becomes.
PICKLED_WEIGHTS = {"adapter_model.bin": "adapter_model.safetensors", "pytorch_model.bin": "model.safetensors"}



def converted_dir() -> Path:
    """Where pickled Hub weights converted to safetensors are kept (under :func:`compbench.fileio.cache_root`)."""
    return cache_root() / "converted"
log = logging.getLogger(__name__)

_SNAPSHOT = re.compile(r"models--(?P<org>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<sha>[0-9a-f]{40})/?$")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint directory on disk and the identity recorded for it (model id, revision)."""

    path: Path
    model_id: str
    revision: str


def resolve_checkpoint(model: str | Path, revision: str | None = None, *, model_id: str | None = None) -> Checkpoint:
    """Return the local directory of ``model`` (a local directory, or a Hub id fetched at ``revision``).

    A Hub repository that holds only pickled weights at that revision (the llm-toys tone adapter ships
    ``adapter_model.bin``) is converted once into :func:`converted_dir` with :func:`convert_pickled_weights`
    (tensors only); a local directory with only pickled weights is refused by :func:`require_safetensors`.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return describe_local_checkpoint(path, model_id=model_id)
    text = str(model)
    if path.exists() or text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise InputError("model directory not found (expected a directory or a Hub id like org/name)", text)
    checkpoint = describe_local_checkpoint(_download(text, revision, SAFE_DOWNLOAD_PATTERNS), model_id=model_id or text)
    if list(checkpoint.path.glob("*.safetensors")):
        return checkpoint
    return _converted_hub_checkpoint(text, checkpoint)


def _converted_hub_checkpoint(repo_id: str, checkpoint: Checkpoint) -> Checkpoint:
    """The snapshot's files plus safetensors converted from its pickled weights, in a directory of our own."""
    target = converted_dir() / f"{repo_id.replace('/', '--')}--{checkpoint.revision}"
    if list(target.glob("*.safetensors")):
        return Checkpoint(target, checkpoint.model_id, checkpoint.revision)
    pickled = _download(repo_id, checkpoint.revision, list(PICKLED_WEIGHTS))
    if not any((pickled / name).is_file() for name in PICKLED_WEIGHTS):
        return checkpoint  # nothing we can convert: require_safetensors explains
    log.warning("%s@%s has only pickled weights: converting them once to safetensors (tensors only)",
                repo_id, checkpoint.revision)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = make_staging_dir(target)
    try:
        for source in (checkpoint.path, pickled):
            for file in source.iterdir():
                if file.is_file() and not (staging / file.name).exists():
                    shutil.copyfile(file, staging / file.name)
        convert_pickled_weights(staging)
        for name in PICKLED_WEIGHTS:
            (staging / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another process converted it first
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Checkpoint(target, checkpoint.model_id, checkpoint.revision)


def _download(repo_id: str, revision: str | None, patterns: list[str]) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    where = f"{repo_id}@{revision}" if revision else repo_id
    try:
        with hub_access(f"model {where}", "download it elsewhere and give its local directory instead"):
            return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    except HFValidationError as exc:
        raise ConfigError(f"not a valid model id or directory: {repo_id!r} ({exc})") from None


def describe_local_checkpoint(path: Path, *, model_id: str | None = None) -> Checkpoint:
    """Name a local checkpoint: model id and revision from the Hub cache layout, download metadata or content."""
    path = path.resolve()
    snapshot = _SNAPSHOT.search(path.as_posix())
    if snapshot:
        return Checkpoint(path, model_id or f"{snapshot['org']}/{snapshot['name']}", snapshot["sha"])
    metadata = path / ".cache" / "huggingface" / "download" / "config.json.metadata"
    if metadata.is_file():
        commit = metadata.read_text(encoding="utf-8").split("\n", 1)[0].strip()
        if re.fullmatch(r"[0-9a-f]{40}", commit):
            return Checkpoint(path, model_id or path.name, commit)
    return Checkpoint(path, model_id or path.name, directory_content_hash(path))


def directory_content_hash(path: Path) -> str:
    """``sha256:`` + a hash of every visible file's relative name and content (hidden entries skipped)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(f"{relative.as_posix()}\0{sha256_file(file)}\n".encode())
    return "sha256:" + digest.hexdigest()[:32]


def require_safetensors(path: Path, *, adapter: bool = False) -> None:
    """Refuse a checkpoint whose weights are only pickled: name the file and the one-time conversion."""
    wanted = "adapter_model.safetensors" if adapter else "*.safetensors"
    if list(path.glob(wanted)):
        return
    pickled = sorted(p.name for p in path.glob("*.bin"))
    if pickled:
        raise InputError(
            f"weights are only pickled ({', '.join(pickled)}); refusing to unpickle them. Convert once with "
            f"compbench.generation.checkpoints.convert_pickled_weights({str(path)!r}) "
            "(tensors only, torch.load(weights_only=True)) or use a safetensors copy",
            path,
        )
    raise InputError(f"no weights found (expected {wanted})", path)


def convert_pickled_weights(directory: str | Path) -> list[Path]:
    """Convert ``adapter_model.bin`` / ``pytorch_model.bin`` in ``directory`` to safetensors, once.

    Loads with ``torch.load(weights_only=True)``, which accepts tensors and plain containers only and refuses
    any other pickled object. Existing safetensors files are kept; returns the files written.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("directory not found", directory)
    written = []
    for pickled_name, safe_name in PICKLED_WEIGHTS.items():
        source, target = directory / pickled_name, directory / safe_name
        if source.is_file() and not target.exists():
            written.append(pickled_state_to_safetensors(source, target))
    if not written and not list(directory.glob("*.safetensors")):
        raise InputError(f"nothing to convert (expected one of {', '.join(PICKLED_WEIGHTS)})", directory)
    return written


