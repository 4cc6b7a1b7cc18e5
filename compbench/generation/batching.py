"""Length-sorted batching shared by the backends, and validation of the common generation options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from compbench.errors import ConfigError

T = TypeVar("T")

DTYPES = ("float32", "float16", "bfloat16")


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Input positions grouped into batches of similar length, longest first (so memory errors come early)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def map_length_sorted(
    items: Sequence[T], lengths: Sequence[int], batch_size: int, run_batch: Callable[[list[T]], list]
) -> list:
    """Apply ``run_batch`` to length-sorted batches of ``items`` and return the results in input order."""
    results: list = [None] * len(items)
    for positions in length_sorted_batches(lengths, batch_size):
        outputs = run_batch([items[i] for i in positions])
        if len(outputs) != len(positions):
            raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(positions)} inputs")
        for position, output in zip(positions, outputs, strict=True):
            results[position] = output
    return results


def check_options(*, batch_size: int, max_length: int, dtype: str | None = None, device: str | None = None) -> None:
    """Raise :class:`ConfigError` for a batch size, length, dtype or device that cannot work."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch size must be a positive integer, got {batch_size!r}")
    if not isinstance(max_length, int) or max_length < 1:
        raise ConfigError(f"max length must be a positive integer, got {max_length!r}")
    if dtype is not None and dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r} (choose one of {', '.join(DTYPES)})")
    if device is not None:
        import torch

        try:
            kind = torch.device(device).type
        except (RuntimeError, TypeError):
            raise ConfigError(f"unknown device {device!r} (e.g. cpu, cuda, cuda:1)") from None
        if kind == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but this machine has no usable CUDA GPU")


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
