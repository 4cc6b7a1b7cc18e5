"""The base model of an evaluation: local files and revision, tokenizer, and the shapes adapters must fit.

A Hub id is fetched once (configs, tokenizer files, safetensors only) through
:func:`compbench.hub_access.hub_access`, so offline it fails with one line naming the model and the local
option; its revision is the snapshot's commit. A local directory is named by a ``sha256:`` hash of its files
(:func:`compbench.generation.checkpoints.describe_local_checkpoint`; Hub cache snapshots keep their commit).
Shapes are read from a weightless copy of the model built on the ``meta`` device: checking a bundle against
the base model loads no weights. Nothing runs remote code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError, InputError
from compbench.evaluation.plan import BaseModel
from compbench.hub_access import hub_access


def resolve_base_model(name: str, revision: str | None = None) -> BaseModel:
    """The local files and revision of ``name`` (a model directory or a Hub id ``org/name``).

    A local directory's content hash is remembered for the process while none of its files changes size or
    modification time (a grid resolves each model once per bundle).
    """
    return _resolve(str(name), revision, _signature(Path(str(name)).expanduser()))


def _signature(path: Path) -> tuple | None:
    if not path.is_dir():
        return None
    return tuple(sorted((p.relative_to(path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                        for p in path.rglob("*") if p.is_file()))


@lru_cache(maxsize=16)
def _resolve(name: str, revision: str | None, signature: tuple | None) -> BaseModel:
    from compbench.generation.checkpoints import (
        SAFE_DOWNLOAD_PATTERNS,
        describe_local_checkpoint,
        require_safetensors,
    )

    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError("not a model directory (no config.json)", path)
        require_safetensors(path)
        checkpoint = describe_local_checkpoint(path, model_id=name)
        return BaseModel(name=name, path=str(checkpoint.path), revision=checkpoint.revision)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise InputError("base model directory not found (expected a directory or a Hub id like org/name)", name)
    where = f"base model {name}" + (f"@{revision}" if revision else "")
    with hub_access(where, "pass --base-model DIR with a local copy of the model"):
        from huggingface_hub import snapshot_download

        local = Path(snapshot_download(name, revision=revision, allow_patterns=SAFE_DOWNLOAD_PATTERNS))
    require_safetensors(local)
    checkpoint = describe_local_checkpoint(local, model_id=name)
    return BaseModel(name=name, path=str(checkpoint.path), revision=checkpoint.revision)


def load_tokenizer(base: BaseModel):
    """The base model's tokenizer, padding on the left (for batched generation), with a pad token."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base.path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot load the tokenizer ({_first_line(exc)})", base.path) from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_config(base: BaseModel) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(base.path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot read the model config ({_first_line(exc)})", base.path) from None


def weightless_model(base: BaseModel):
    """The model's modules without weights (``meta`` device): names and shapes, no memory, no file reads."""
    import torch
    from transformers import AutoModelForCausalLM

    config = load_config(base)
    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{base.name}: not a causal language model transformers knows ({_first_line(exc)})") from None


def linear_shapes(model) -> dict[str, tuple[int, int]]:
    """``{module path: (out_features, in_features)}`` of every ``nn.Linear`` of ``model``."""
    from torch import nn

    return {name: (m.out_features, m.in_features) for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
