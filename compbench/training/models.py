"""Loading a base causal LM and its tokenizer for training: safetensors only, never remote code."""

from __future__ import annotations

from pathlib import Path

import torch

from compbench.errors import ConfigError, InputError
from compbench.hub_access import hub_access

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_base_model(name_or_path: str, revision: str | None = None, dtype: str = "float32"):
    """``(model, tokenizer)`` from a local directory or a Hub id (``use_safetensors=True``, no remote code).

    The tokenizer gets a pad token (its EOS) if it has none, as training batches need padding.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    local = Path(name_or_path).expanduser()
    if not local.exists() and name_or_path.startswith(("/", "./", "../", "~")):
        raise InputError("model directory not found", local)
    if local.exists() and not (local / "config.json").is_file():
        raise InputError("not a model directory (no config.json)", local)
    source = str(local) if local.exists() else name_or_path
    where = f"base model {name_or_path}" + (f"@{revision}" if revision else "")
    try:
        with hub_access(where, "give a local model directory with --base-model DIR"):
            tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(source, revision=revision, dtype=DTYPES[dtype],
                                                         use_safetensors=True, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot load the base model ({message})", name_or_path) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
