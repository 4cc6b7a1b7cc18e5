"""A LoRA merged exactly into its base model's weights, once, as a safetensors checkpoint on disk.

For runtimes that cannot apply a LoRA to the base's architecture (vLLM has no LoRA support for GPT-NeoX, the tone
model's base), the adapter is folded into the weights: ``W' = W + scaling * B @ A`` for every adapted module, as
PEFT's ``merge_and_unload`` does, but computed in float32 and rounded once to the checkpoint's dtype. The result
(weights, config and tokenizer files of the base) is cached under compbench's cache directory, keyed by the base's
and the adapter's ids and revisions and the dtype, and reused by every later run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from compbench.errors import InputError
from compbench.fileio import cache_root, write_json
from compbench.generation.checkpoints import Checkpoint

if TYPE_CHECKING:
    import torch

    from compbench.adapters.lora_io import LoraAdapter

#: How the merge is computed; part of the identity of every generator that runs on a merged checkpoint.
MERGE_METHOD = "exact-float32"
PROVENANCE_FILE = "compbench-merge.json"
_INDEX = "model.safetensors.index.json"


def merge_lora_weights(tensors: dict[str, torch.Tensor], adapter: LoraAdapter, dtype: torch.dtype | None = None
                       ) -> list[str]:
    """Fold ``adapter`` into ``tensors`` (a state dict or one shard of it), in place; return the keys changed.

    Each adapted ``W`` becomes ``W + scaling * B @ A`` computed in float32 (transposed for ``fan_in_fan_out``
    adapters), then cast to ``dtype`` (default: ``W``'s own). Modules of the adapter absent from ``tensors`` are
    left for another shard; the caller checks that every one was found.
    """
    import torch

    transpose = bool(adapter.config.get("fan_in_fan_out"))
    changed = []
    for module, factors in adapter.modules.items():
        key = f"{module}.weight"
        if key not in tensors:
            continue
        weight = tensors[key]
        delta = factors.delta(torch.float32)
        if transpose:
            delta = delta.T
        if tuple(delta.shape) != tuple(weight.shape):
            raise InputError(f"adapter module {module!r} has shape {tuple(delta.shape)}, the base weight "
                             f"{tuple(weight.shape)}: not an adapter of this base model")
        tensors[key] = (weight.to(torch.float32) + delta).to(dtype or weight.dtype).contiguous()
        changed.append(key)
    return changed


def merged_checkpoint_dir(base: Checkpoint, adapter: Checkpoint, dtype: str, cache_dir: str | Path | None = None) -> Path:
    """Where the merge of ``adapter`` into ``base`` in ``dtype`` lives (whether or not it exists yet)."""
    directory = Path(cache_dir) if cache_dir is not None else cache_root() / "merged-lora"
    identity = "\n".join([base.model_id, base.revision, adapter.model_id, adapter.revision, dtype, MERGE_METHOD])
    key = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return directory / f"{base.path.name}+{adapter.path.name}-{dtype}-{key}"


def merged_checkpoint(base: Checkpoint, adapter: Checkpoint, dtype: str, cache_dir: str | Path | None = None) -> Path:
    """The merged checkpoint's directory, written on first use (atomically: complete or absent) and then reused."""
    from compbench.adapters.lora_io import load_lora
    from compbench.generation.batching import torch_dtype

    target = merged_checkpoint_dir(base, adapter, dtype, cache_dir)
    if (target / PROVENANCE_FILE).is_file():
        return target
    lora = load_lora(adapter.path)
    shards = sorted(base.path.glob("*.safetensors"))
    if not shards:
        raise InputError("no safetensors weights to merge the adapter into", base.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        merged = _write_merged_shards(shards, lora, torch_dtype(dtype), staging)
        missing = sorted(set(lora.modules) - {key.removesuffix(".weight") for key in merged})
        if missing:
            raise InputError(f"the adapter's module(s) {', '.join(missing[:3])} have no weight in the base checkpoint: "
                             "not an adapter of this base model", adapter.path)
        _copy_model_files(base.path, staging)
        write_json(staging / PROVENANCE_FILE, {
            "base": {"model_id": base.model_id, "revision": base.revision},
            "adapter": {"model_id": adapter.model_id, "revision": adapter.revision},
            "dtype": dtype, "method": MERGE_METHOD, "merged_weights": len(merged),
        })
        with contextlib.suppress(OSError):  # another process finished the same merge first
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_merged_shards(shards: list[Path], adapter: LoraAdapter, dtype: torch.dtype, out: Path) -> list[str]:
    from safetensors.torch import load_file, save_file

    merged, sizes = [], {}
    for shard in shards:  # one shard in memory at a time
        tensors = load_file(shard)
        merged += merge_lora_weights(tensors, adapter, dtype)
        tensors = {key: value.to(dtype) if value.is_floating_point() else value for key, value in tensors.items()}
        save_file(tensors, str(out / shard.name), metadata={"format": "pt"})
        sizes[shard.name] = sum(value.numel() * value.element_size() for value in tensors.values())
    if (shards[0].parent / _INDEX).is_file():
        index = json.loads((shards[0].parent / _INDEX).read_text(encoding="utf-8"))
        index.setdefault("metadata", {})["total_size"] = sum(sizes.values())
        write_json(out / _INDEX, index)
    return merged


def _copy_model_files(base: Path, out: Path) -> None:
    """Config, generation config and tokenizer files of the base (everything but weights and hidden files)."""
    for file in base.iterdir():
        if (file.is_file() and not file.name.startswith(".") and file.suffix not in (".safetensors", ".bin", ".pt")
                and file.name != _INDEX):
            shutil.copyfile(file, out / file.name)
