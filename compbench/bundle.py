"""Adapter bundles: a directory with ``bundle.json`` (:class:`compbench.schemas.BundleManifest`), PEFT LoRA
directories under ``adapters/<name>/`` and, for calibrated methods, ``calibration.safetensors``.

Layout::

    bundle/
      bundle.json
      adapters/<name>/adapter_config.json
      adapters/<name>/adapter_model.safetensors
      calibration.safetensors        (optional)

Every path in a manifest is relative and stays inside the bundle (no absolute paths, no ``..``, no symlink
leading out). A bundle is written beside its final place and renamed into it, so it appears whole or not at
all. Nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from compbench import __version__
from compbench.adapters.lora_io import LoraAdapter, load_lora, save_lora
from compbench.errors import ConfigError, InputError
from compbench.fileio import atomic_path, make_staging_dir, read_document, write_json
from compbench.schemas import BUNDLE_MANIFEST_NAME, BundleAdapter, BundleManifest

ADAPTERS_DIR = "adapters"
CALIBRATION_NAME = "calibration.safetensors"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class Bundle:
    """A bundle on disk: its directory and its checked manifest."""

    path: Path
    manifest: BundleManifest

    def adapter_path(self, name: str) -> Path:
        for adapter in self.manifest.adapters:
            if adapter.name == name:
                return inside(self.path, adapter.path)
        raise ConfigError(f"bundle has no adapter {name!r}; it has: "
                          + ", ".join(a.name for a in self.manifest.adapters), self.path)

    def load_adapters(self) -> dict[str, LoraAdapter]:
        return {a.name: load_lora(inside(self.path, a.path)) for a in self.manifest.adapters}

    @property
    def calibration_path(self) -> Path | None:
        return inside(self.path, self.manifest.calibration) if self.manifest.calibration else None

    def load_calibration(self) -> dict[str, torch.Tensor] | None:
        path = self.calibration_path
        return None if path is None else read_safetensors(path)


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing any path that is absolute, climbs with ``..`` or resolves outside ``root``."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or "\\" in relative or ".." in pure.parts or re.match(r"^[A-Za-z]:", relative):
        raise InputError(f"path {relative!r} must be relative and stay inside the bundle", root / BUNDLE_MANIFEST_NAME)
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise InputError(f"path {relative!r} leads outside the bundle", root / BUNDLE_MANIFEST_NAME)
    return target


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        return load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, ValueError) as exc:
        raise InputError(f"cannot read safetensors ({exc})", path) from None


# -------------------------------------------------------------------------------------------- writing
def write_bundle(
    directory: str | Path,
    *,
    base_model: str,
    method: str,
    adapters: Mapping[str, LoraAdapter | str | Path],
    tasks: Mapping[str, str] | None = None,
    parameters: Mapping[str, object] | None = None,
    calibration: Mapping[str, torch.Tensor] | str | Path | None = None,
    subtasks: list[str] | None = None,
    base_revision: str | None = None,
) -> Bundle:
    """Write a bundle at ``directory`` (which must not exist yet, or be empty) and return it.

    ``adapters`` maps a name to a :class:`LoraAdapter` or to an existing PEFT directory (loaded, checked and
    re-saved, so the bundle never depends on files outside it). ``calibration`` is a mapping of tensors or an
    existing safetensors file. ``tasks`` optionally names each adapter's single task.
    """
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError("output exists and is not an empty directory; choose a new one", target)
    if not adapters and calibration is None:
        raise ConfigError("a bundle needs at least one adapter or a calibration")
    entries = []
    for name in adapters:
        if not _NAME.match(name):
            raise ConfigError(f"adapter name {name!r}: use letters, digits, '_', '-', '+', '.'; no path separators")
        entries.append(BundleAdapter(name=name, task=(tasks or {}).get(name), path=f"{ADAPTERS_DIR}/{name}"))
    try:
        manifest = BundleManifest(
            base_model=base_model, base_revision=base_revision, method=method,
            parameters=dict(parameters or {}), adapters=entries,
            calibration=CALIBRATION_NAME if calibration is not None else None,
            subtasks=list(subtasks or []), compbench_version=__version__,
        )
        manifest_json = manifest.model_dump(mode="json")
        json.dumps(manifest_json)
    except (ValidationError, TypeError, ValueError) as exc:
        raise ConfigError(f"invalid bundle manifest ({exc})") from None

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = make_staging_dir(target)
    try:
        for entry in entries:
            source = adapters[entry.name]
            adapter = source if isinstance(source, LoraAdapter) else load_lora(source)
            save_lora(adapter, staging / entry.path)
        if isinstance(calibration, (str, Path)):
            read_safetensors(Path(calibration))  # check it before copying
            shutil.copyfile(calibration, staging / CALIBRATION_NAME)
        elif calibration is not None:
            tensors = {k: torch.as_tensor(v).detach().contiguous().cpu() for k, v in calibration.items()}
            with atomic_path(staging / CALIBRATION_NAME) as tmp:
                save_file(tensors, str(tmp), metadata={"format": "pt"})
        write_json(staging / BUNDLE_MANIFEST_NAME, manifest_json)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(path=target, manifest=manifest)


# -------------------------------------------------------------------------------------------- reading
def read_bundle(directory: str | Path) -> Bundle:
    """Parse ``bundle.json`` and check that every path it names stays inside the bundle."""
    root = Path(directory)
    path = root / BUNDLE_MANIFEST_NAME
    if not root.is_dir():
        raise InputError("bundle directory not found", root)
    if not path.is_file():
        raise InputError(f"no {BUNDLE_MANIFEST_NAME}: not an adapter bundle", root)
    manifest = read_document(path, BundleManifest, "bundle manifest")
    names = [a.name for a in manifest.adapters]
    if len(set(names)) != len(names):
        raise InputError("adapter names must be unique", path)
    for adapter in manifest.adapters:
        inside(root, adapter.path)
    if manifest.calibration:
        inside(root, manifest.calibration)
    return Bundle(path=root, manifest=manifest)


def validate_bundle(directory: str | Path) -> Bundle:
    """:func:`read_bundle`, then load every adapter and the calibration file to prove they are usable."""
    bundle = read_bundle(directory)
    bundle.load_adapters()
    bundle.load_calibration()
    return bundle
