"""Training Learnable Calibration: base model and merged LoRAs frozen, only the calibration parameters learn."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from compbench.adapters.calibration import (
    DEFAULT_RANK,
    CalibratedLinear,
    Calibration,
    MergedLora,
    apply_calibration,
    init_calibration,
    mean_factors,
    remove_calibration,
)
from compbench.adapters.lora_io import LoraAdapter
from compbench.errors import ConfigError
from compbench.training.data import Example
from compbench.training.formatting import IGNORE_INDEX, ChatFormatter
from compbench.training.loop import TrainConfig, TrainResult, train

CALIBRATION_LEARNING_RATE = 5e-4
CALIBRATION_EXAMPLES = 10_000


def train_calibration(model: nn.Module, tokenizer, examples: Sequence[Example], kind: str,
                      adapters: Sequence[LoraAdapter] | None, rank: int = DEFAULT_RANK,
                      config: TrainConfig | None = None, checkpoint_dir: str | Path | None = None,
                      max_length: int = 1024, progress: bool = True,
                      chains: Mapping[str, Sequence[LoraAdapter]] | None = None) -> tuple[Calibration, TrainResult]:
    """Learn LC (``kind="lc"``) or LC++ (``"lc++"``) parameters on compositional ``examples``.

    With ``adapters`` the start is their mean factors (the paper's method); with ``adapters=None`` the
    calibration is trained alone (the paper's ablation). ``chains`` maps each sub-task of the examples to its own
    LoRAs (e.g. sum + tr-es for ``sum+tr-es``): when the examples span sub-tasks that compose different LoRAs (a
    family, or the shared variant), each example then trains on top of the mean of its own sub-task's LoRAs, as
    it is evaluated, and one set of calibration parameters learns from all of them. The model is left
    unwrapped afterwards.
    """
    config = config or TrainConfig(learning_rate=CALIBRATION_LEARNING_RATE)
    formatter = ChatFormatter(tokenizer, max_length=max_length)
    if chains:
        order = list(dict.fromkeys(example.subtask for example in examples))
        missing = [subtask for subtask in order if subtask not in chains]
        if missing:
            raise ConfigError(f"no LoRAs given for sub-task {missing[0]}")
        starts = {subtask: mean_factors(chains[subtask]) for subtask in order}
        data, skipped, groups = [], [], {}
        for subtask in order:  # encode per sub-task, so every encoded example knows its starting point
            encoded, left_out = formatter.encode_examples([e for e in examples if e.subtask == subtask])
            data += encoded
            skipped += left_out
            groups.update({tuple(item.input_ids): subtask for item in encoded})
    else:
        data, skipped = formatter.encode_examples(examples)
        starts = {"": mean_factors(adapters)} if adapters else {"": None}
        groups = {}
    merged = next(iter(starts.values()))
    calibration = init_calibration(model, kind, rank=rank, merged=merged, seed=config.seed)
    calibration.to(next(model.parameters()).device)
    for param in model.parameters():
        param.requires_grad_(False)
    apply_calibration(model, calibration, merged)
    model.eval()  # no dropout in the frozen base; the calibration has none either
    switch = _Starts(model, starts) if len(starts) > 1 else None

    def loss_fn(batch):
        if switch is None:
            return model(**batch).loss
        return switch.loss(batch, groups)

    params = {key: value for key, value in calibration.params.items()}
    try:
        result = train(params, loss_fn, data, tokenizer.pad_token_id, config, checkpoint_dir=checkpoint_dir,
                       desc=kind, progress=progress,
                       extra={"kind": kind, "rank": rank, "max_length": max_length,
                              "merged": _digest(merged) if switch is None else
                              {subtask: _digest(start) for subtask, start in starts.items()}})
    finally:
        remove_calibration(model)
    result.skipped = skipped
    return calibration, result


class _Starts:
    """Several starting points in one wrapped model: each batch row runs on top of its own sub-task's merged LoRA.

    The rows of one sub-task run together (the merged factors of every wrapped module swapped in first); the
    batch's loss is the token-weighted mean over all of them, the same quantity a single forward pass computes.
    """

    def __init__(self, model: nn.Module, starts: Mapping[str, MergedLora]):
        self.model = model
        self.wrapped = {name: module for name, module in model.named_modules() if isinstance(module, CalibratedLinear)}
        self.factors = {}
        for subtask, start in starts.items():
            if set(start.modules) != set(self.wrapped):
                raise ConfigError(f"the LoRAs of {subtask} adapt other modules than the first sub-task's")
            self.factors[subtask] = {name: (B.to(module.base.weight), A.to(module.base.weight))
                                     for name, module in self.wrapped.items() for B, A in [start.modules[name]]}

    def loss(self, batch: dict[str, torch.Tensor], groups: Mapping[tuple[int, ...], str]) -> torch.Tensor:
        rows: dict[str, list[int]] = {}
        for i, (ids, mask) in enumerate(zip(batch["input_ids"], batch["attention_mask"], strict=True)):
            rows.setdefault(groups[tuple(ids[mask.bool()].tolist())], []).append(i)
        total, count = None, 0
        for subtask, index in rows.items():
            for name, module in self.wrapped.items():
                module.merged_B, module.merged_A = self.factors[subtask][name]
            part = {key: value[index] for key, value in batch.items()}
            tokens = int((part["labels"][:, 1:] != IGNORE_INDEX).sum())
            loss = self.model(**part).loss * tokens
            total, count = (loss if total is None else total + loss), count + tokens
        return total / max(count, 1)


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
