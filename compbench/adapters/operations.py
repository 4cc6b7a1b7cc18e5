"""What ``compbench adapters`` does, as plain functions: inspect an adapter, merge adapters.

Inputs are taken by :func:`compbench.bundle.load_input_adapter`: a PEFT directory or a one-adapter bundle
(such as ``compbench train lora`` writes), wherever an adapter is expected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compbench.adapters.lora_io import load_lora, save_lora
from compbench.adapters.merges import check_merge, load_coefficients, merge_adapters
from compbench.bundle import load_input_adapter, unique_names, write_bundle
from compbench.errors import ConfigError, InputError
from compbench.methods import get_method


def inspect_adapter(path: str | Path) -> dict[str, Any]:
    """A summary of a PEFT LoRA directory: base model, ranks, scalings, module types, size."""
    adapter = load_lora(path)
    factors = list(adapter.modules.values())
    dtypes = Counter(str(f.A.dtype).removeprefix("torch.") for f in factors)
    by_type: dict[str, dict[str, Any]] = {}
    for name, f in adapter.modules.items():
        entry = by_type.setdefault(name.rsplit(".", 1)[-1], {"modules": 0, "ranks": set(), "scalings": set(),
                                                             "shape": (f.out_features, f.in_features)})
        entry["modules"] += 1
        entry["ranks"].add(f.rank)
        entry["scalings"].add(f.scaling)
    return {
        "path": str(path),
        "base_model": adapter.base_model,
        "task_type": adapter.config.get("task_type"),
        "modules": len(factors),
        "ranks": sorted({f.rank for f in factors}),
        "scalings": sorted({f.scaling for f in factors}),
        "use_rslora": bool(adapter.config.get("use_rslora")),
        "dtype": dict(dtypes),
        "parameters": adapter.num_parameters(),
        "bytes": adapter.num_bytes(),
        "module_types": {t: {"modules": e["modules"], "ranks": sorted(e["ranks"]),
                             "scalings": sorted(e["scalings"]), "out_in": list(e["shape"])}
                         for t, e in by_type.items()},
    }


def merge_adapter_dirs(method: str, paths: Sequence[str | Path], out: str | Path, *, bundle: bool = False,
                       base_model: str | None = None, device: str | None = None, **parameters: Any) -> Path:
    """Merge the adapters ``paths`` (PEFT directories or one-adapter bundles) with merge ``method`` into ``out``.

    Without ``bundle``, ``out`` becomes the merged PEFT LoRA directory. With ``bundle=True`` it becomes an
    adapter bundle of the method: the input LoRAs (with their tasks, when the inputs are bundles; otherwise in
    the given order, main task first) and the merge parameters, merged when the bundle is evaluated (one
    bundle then serves every sub-task whose LoRAs it holds). The parameters are checked on one module first, so
    a bad value fails before anything is written. ``coefficients`` may be given as a safetensors path (DAM /
    ZipLoRA). ``device`` (e.g. ``cuda``) is where the merge computes: TIES and DARE run an SVD per module, slow
    on CPU for full-size models. ``out`` must not exist or be empty; it appears complete or not at all.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("output exists and is not an empty directory; choose a new one", out)
    if bundle:
        get_method(method)  # a bundle names a registered method
    inputs = unique_names([load_input_adapter(path) for path in paths])
    adapters = [item.adapter for item in inputs.values()]
    if device is not None:
        try:
            adapters = [adapter.to(device) for adapter in adapters]
        except (RuntimeError, ValueError, AssertionError) as exc:  # torch asserts when CUDA is not built in
            raise ConfigError(f"cannot use device {device!r} ({str(exc).splitlines()[0]})") from None
    coefficients_path = parameters.get("coefficients")
    if isinstance(coefficients_path, (str, Path)):
        parameters["coefficients"] = load_coefficients(coefficients_path)
    if not bundle:
        merged = merge_adapters(method, adapters, **parameters)
        if out.exists():
            out.rmdir()
        save_lora(merged, out)
        return out
    check_merge(method, adapters, **parameters)
    base = base_model or next((a.base_model for a in adapters if a.base_model), None)
    if not base:
        raise InputError("the adapters do not name their base model; give it (--base-model)", paths[0])
    coefficients = parameters.pop("coefficients", None)
    recorded = dict(parameters)
    recorded["sources"] = [str(p) for p in paths]
    write_bundle(out, base_model=base, method=method, adapters={name: item.adapter for name, item in inputs.items()},
                 tasks={name: item.task for name, item in inputs.items() if item.task},
                 parameters=recorded, calibration=coefficients)
    return out
