"""Training DAM / ZipLoRA column-wise merge coefficients by backpropagation (base and LoRAs frozen).

The merged update of a module is ``ΔW = Σ_i diag(m_i) s_i B_i A_i`` with one coefficient per output row and
adapter, ``m ∈ R^{N x d_out}`` per module (per layer: these are not shared), applied by
:func:`compbench.adapters.merges.weighted.columnwise_combination`. Coefficients start at ``1/N`` (the average
of the updates, i.e. ``linear-delta`` with equal weights) and learn from the compositional cross-entropy only
(ZipLoRA's extra cosine penalty between ``m_1`` and ``m_2`` is not used: our data already ask for both tasks).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from compbench.adapters.calibration import replace_submodule, target_linears
from compbench.adapters.lora_io import LoraAdapter
from compbench.errors import ConfigError
from compbench.training.data import Example
from compbench.training.formatting import ChatFormatter
from compbench.training.loop import TrainConfig, TrainResult, train

COEFFICIENT_LEARNING_RATE = 5e-4


class ColumnwiseLinear(nn.Module):
    """``base(x) + Σ_i m_i ⊙ (s_i B_i (A_i x))`` around a frozen ``nn.Linear``."""

    def __init__(self, base: nn.Linear, factors: Sequence[tuple[torch.Tensor, torch.Tensor]],
                 coefficients: nn.Parameter):
        super().__init__()
        self.base = base
        self._coefficients = (coefficients,)  # trained outside; not part of the model's state
        for i, (B, A) in enumerate(factors):
            self.register_buffer(f"B{i}", B.to(base.weight.device, base.weight.dtype), persistent=False)
            self.register_buffer(f"A{i}", A.to(base.weight.device, base.weight.dtype), persistent=False)
        self.count = len(factors)

    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        m = self._coefficients[0].to(x.dtype)
        for i in range(self.count):
            out = out + ((x @ getattr(self, f"A{i}").T) @ getattr(self, f"B{i}").T) * m[i]
        return out


def initial_coefficients(adapters: Sequence[LoraAdapter]) -> dict[str, torch.Tensor]:
    """``1/N`` for every adapter, module and output row."""
    first = adapters[0]
    for other in adapters[1:]:
        if set(other.modules) != set(first.modules):
            raise ConfigError("the adapters do not adapt the same modules")
    n = len(adapters)
    return {name: torch.full((n, f.out_features), 1.0 / n) for name, f in first.modules.items()}


def attach_coefficients(model: nn.Module, adapters: Sequence[LoraAdapter],
                        coefficients: dict[str, nn.Parameter]) -> nn.Module:
    """Wrap every adapted Linear of ``model`` in a :class:`ColumnwiseLinear`, in place."""
    linears = target_linears(model, {name.rsplit(".", 1)[-1] for name in coefficients})
    for name, param in coefficients.items():
        if name not in linears:
            raise ConfigError(f"the adapters adapt {name!r}, which the model lacks")
        factors = [(a.modules[name].scaling * a.modules[name].B.float(), a.modules[name].A.float()) for a in adapters]
        replace_submodule(model, name, ColumnwiseLinear(linears[name], factors, param))
    return model


def detach_coefficients(model: nn.Module) -> nn.Module:
    for name, module in list(model.named_modules()):
        if isinstance(module, ColumnwiseLinear):
            replace_submodule(model, name, module.base)
    return model


def train_merge_coefficients(model: nn.Module, tokenizer, examples: Sequence[Example],
                             adapters: Sequence[LoraAdapter], config: TrainConfig | None = None,
                             checkpoint_dir: str | Path | None = None, max_length: int = 1024,
                             progress: bool = True) -> tuple[dict[str, torch.Tensor], TrainResult]:
    """Learn DAM / ZipLoRA coefficients ``{module: (N, d_out)}`` on compositional ``examples``."""
    if len(adapters) < 2:
        raise ConfigError("merge coefficients need at least two adapters")
    config = config or TrainConfig(learning_rate=COEFFICIENT_LEARNING_RATE)
    data, skipped = ChatFormatter(tokenizer, max_length=max_length).encode_examples(examples)
    device = next(model.parameters()).device
    params = {name: nn.Parameter(value.to(device)) for name, value in initial_coefficients(adapters).items()}
    for param in model.parameters():
        param.requires_grad_(False)
    attach_coefficients(model, adapters, params)
    model.eval()

    def loss_fn(batch):
        return model(**batch).loss

    try:
        result = train(params, loss_fn, data, tokenizer.pad_token_id, config, checkpoint_dir=checkpoint_dir,
                       desc="coefficients", progress=progress,
                       extra={"method": "dam", "max_length": max_length, "adapters": len(adapters)})
    finally:
        detach_coefficients(model)
    result.skipped = skipped
    return {name: p.detach().cpu() for name, p in params.items()}, result
