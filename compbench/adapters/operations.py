"""What ``compbench adapters`` does, as plain functions: inspect an adapter, merge adapter directories."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compbench.adapters.lora_io import load_lora, save_lora
from compbench.adapters.merges import load_coefficients, merge_adapters
from compbench.errors import ConfigError, InputError


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
    """Merge the PEFT directories ``paths`` with merge ``method`` and write the result to ``out``.

    ``out`` becomes a PEFT LoRA directory, or with ``bundle=True`` an adapter bundle holding it as adapter
    ``merged`` with the method and its parameters in ``bundle.json``. ``coefficients`` may be given as a
    safetensors path (DAM / ZipLoRA). ``device`` (e.g. ``cuda``) is where the merge computes: TIES and DARE
    run an SVD per module, slow on CPU for full-size models. ``out`` must not exist or be empty; it appears
    complete or not at all.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("output exists and is not an empty directory; choose a new one", out)
    adapters = [load_lora(path) for path in paths]
    if device is not None:
        try:
            adapters = [adapter.to(device) for adapter in adapters]
        except (RuntimeError, ValueError, AssertionError) as exc:  # torch asserts when CUDA is not built in
            raise ConfigError(f"cannot use device {device!r} ({str(exc).splitlines()[0]})") from None
    if isinstance(parameters.get("coefficients"), (str, Path)):
        parameters["coefficients"] = load_coefficients(parameters["coefficients"])
    merged = merge_adapters(method, adapters, **parameters)
    if not bundle:
        if out.exists():
            out.rmdir()
        save_lora(merged, out)
        return out
    from compbench.bundle import write_bundle

    base = base_model or merged.base_model
    if not base:
        raise InputError("the adapters do not name their base model; give it (--base-model)", paths[0])
    recorded = {k: v for k, v in parameters.items() if k != "coefficients"}
    recorded["sources"] = [str(p) for p in paths]
    write_bundle(out, base_model=base, method=method, adapters={"merged": merged}, parameters=recorded)
    return out
