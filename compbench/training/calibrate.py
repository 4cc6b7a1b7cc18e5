"""Training Learnable Calibration: base model and merged LoRAs frozen, only the calibration parameters learn."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from torch import nn

from compbench.adapters.calibration import (
    DEFAULT_RANK,
    Calibration,
    MergedLora,
    apply_calibration,
    init_calibration,
    mean_factors,
    remove_calibration,
)
from compbench.adapters.lora_io import LoraAdapter
from compbench.training.data import Example
from compbench.training.formatting import ChatFormatter
from compbench.training.loop import TrainConfig, TrainResult, train

CALIBRATION_LEARNING_RATE = 5e-4
CALIBRATION_EXAMPLES = 10_000


def train_calibration(model: nn.Module, tokenizer, examples: Sequence[Example], kind: str,
                      adapters: Sequence[LoraAdapter] | None, rank: int = DEFAULT_RANK,
                      config: TrainConfig | None = None, checkpoint_dir: str | Path | None = None,
                      max_length: int = 1024, progress: bool = True) -> tuple[Calibration, TrainResult]:
    """Learn LC (``kind="lc"``) or LC++ (``"lc++"``) parameters on compositional ``examples``.

    With ``adapters`` the start is their mean factors (the paper's method); with ``adapters=None`` the
    calibration is trained alone (the paper's ablation). The model is left unwrapped afterwards.
    """
    config = config or TrainConfig(learning_rate=CALIBRATION_LEARNING_RATE)
    formatter = ChatFormatter(tokenizer, max_length=max_length)
    data, skipped = formatter.encode_examples(examples)
    merged = mean_factors(adapters) if adapters else None
    calibration = init_calibration(model, kind, rank=rank, merged=merged, seed=config.seed)
    calibration.to(next(model.parameters()).device)
    for param in model.parameters():
        param.requires_grad_(False)
    apply_calibration(model, calibration, merged)
    model.eval()  # no dropout in the frozen base; the calibration has none either

    def loss_fn(batch):
        return model(**batch).loss

    params = {key: value for key, value in calibration.params.items()}
    try:
        result = train(params, loss_fn, data, tokenizer.pad_token_id, config, checkpoint_dir=checkpoint_dir,
                       desc=kind, progress=progress,
                       extra={"kind": kind, "rank": rank, "max_length": max_length,
                              "merged": _digest(merged)})
    finally:
        remove_calibration(model)
    result.skipped = skipped
    return calibration, result


def _digest(merged: MergedLora | None) -> str | None:
    """A hash of the starting factors, so a checkpoint is never resumed on top of other LoRAs."""
    if merged is None:
        return None
    digest = hashlib.sha256()
    for name in sorted(merged.modules):
        digest.update(name.encode())
        for tensor in merged.modules[name]:
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
