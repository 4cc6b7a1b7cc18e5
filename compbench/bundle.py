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

The method is a registry id (:mod:`compbench.methods`) and what the method needs is checked when a bundle is
written: LoRAs for every method that uses them, none for zero-shot and ICL (a bundle of only ``bundle.json``),
the calibration file for LC / LC++ and DAM's coefficients, the searched weights of LoraHub / LM-Cocktail.
Each adapter names its single task (``task``) where it is known; a sub-task then uses the adapters of its chain
(main task first, then each auxiliary task). Adapters without a task are taken in manifest order.

:func:`load_input_adapter` is the one way commands take a LoRA from the user: a PEFT directory, or a bundle
holding exactly one adapter (its task comes with it).
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
from compbench.methods import get_method
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
    existing safetensors file. ``tasks`` optionally names each adapter's single task. ``method`` must be a
    registered method, and the bundle must hold what it needs (see the module doc).
    """
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError("output exists and is not an empty directory; choose a new one", target)
    check_contents(method, bool(adapters), calibration is not None, parameters or {})
    for name, task in (tasks or {}).items():
        if task is not None:
            _check_task(task)
            if name not in adapters:
                raise ConfigError(f"a task is given for adapter {name!r}, which the bundle does not hold")
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


def check_contents(method: str, has_adapters: bool, has_calibration: bool, parameters: Mapping[str, object]) -> None:
    """Refuse a bundle that lacks what its method needs (or holds LoRAs a method without LoRAs cannot use)."""
    spec = get_method(method)
    if spec.needs_adapters and not has_adapters:
        raise ConfigError(f"method {method!r} needs its LoRA adapters in the bundle")
    if not spec.needs_adapters and has_adapters:
        raise ConfigError(f"method {method!r} uses no LoRA adapters; leave them out")
    needs_file = bool({"calibration", "coefficients"} & set(spec.learned))
    if needs_file and not has_calibration:
        what = "calibration parameters" if "calibration" in spec.learned else "column-wise coefficients"
        raise ConfigError(f"method {method!r} needs its {what} ({CALIBRATION_NAME})")
    if has_calibration and not needs_file:
        raise ConfigError(f"method {method!r} uses no {CALIBRATION_NAME}; leave it out")
    if "weights" in spec.learned:
        weights = parameters.get("weights")
        if not isinstance(weights, list) or not weights or not all(
                isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
            raise ConfigError(f"method {method!r} needs its merge weights (a list of numbers) in the parameters")


def _check_task(task: str) -> None:
    from compbench.tasks import UnknownTaskError, get_task

    try:
        get_task(task)
    except UnknownTaskError as exc:
        raise ConfigError(str(exc)) from None


# -------------------------------------------------------------------------------------------- inputs
@dataclass
class InputAdapter:
    """A LoRA given by the user, with the name and single task it goes by."""

    name: str
    task: str | None
    adapter: LoraAdapter


def load_input_adapter(path: str | Path) -> InputAdapter:
    """A LoRA given as a PEFT directory or as a bundle holding exactly one adapter (its task comes along)."""
    path = Path(path)
    if (path / BUNDLE_MANIFEST_NAME).is_file():
        bundle = read_bundle(path)
        if len(bundle.manifest.adapters) != 1:
            raise InputError(f"the bundle holds {len(bundle.manifest.adapters)} adapters; pass one adapter "
                             "(its directory under adapters/)", path)
        entry = bundle.manifest.adapters[0]
        return InputAdapter(entry.name, entry.task, load_lora(bundle.adapter_path(entry.name)))
    return InputAdapter(path.name, None, load_lora(path))


def unique_names(inputs: list[InputAdapter]) -> dict[str, InputAdapter]:
    """The inputs by name, in order; a repeated name gets ``-2``, ``-3``, ..."""
    named: dict[str, InputAdapter] = {}
    for item in inputs:
        name, k = item.name, 2
        while name in named:
            name, k = f"{item.name}-{k}", k + 1
        named[name] = item
    return named


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
