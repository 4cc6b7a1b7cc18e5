"""Merge weights found on a few examples: LoraHub (gradient-free search) and LM-Cocktail (loss-derived).

LoraHub (Huang et al. 2024): the merged LoRA is ``B = Σ w_i B_i``, ``A = Σ w_i A_i`` (see
:func:`compbench.adapters.merges.weighted.lorahub`); ``w`` minimises ``loss(w) + 0.05 * mean_i |w_i|`` on a few
examples, searched by nevergrad's ``NGOpt`` from ``w = 0`` within ``[-1.5, 1.5]`` with a budget of 40 loss
evaluations (LoraHub's defaults). The loss here is the token-mean cross-entropy on the response tokens.

LM-Cocktail (Xiao et al. 2024): each adapter's loss ``L_i`` on a few examples gives the weights
``w = softmax(-L / T)`` with temperature ``T = 5`` (the reference implementation's default); the merge that
applies them is :func:`compbench.adapters.merges.weighted.lm_cocktail`.

Both evaluate a candidate by running the base model with the candidate LoRA attached through
:class:`~compbench.adapters.calibration.CalibratedLinear` (no copy of the model).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from compbench.adapters.calibration import MergedLora, apply_calibration, remove_calibration
from compbench.adapters.lora_io import LoraAdapter
from compbench.adapters.merges.weighted import lorahub
from compbench.errors import ConfigError
from compbench.training.data import Example
from compbench.training.formatting import ChatFormatter, Encoded
from compbench.training.loop import mean_loss

FEW_EXAMPLES = 5
LORAHUB_BUDGET = 40
LORAHUB_BOUNDS = (-1.5, 1.5)
LORAHUB_L1 = 0.05
LM_COCKTAIL_TEMPERATURE = 5.0


@dataclass
class WeightSearchResult:
    """The weights found, the loss they reach, and how many loss evaluations it took."""

    method: str
    weights: list[float]
    loss: float
    evaluations: int
    history: list[float] = field(default_factory=list)  # objective per evaluation (LoraHub) or per adapter

    def to_dict(self) -> dict:
        return asdict(self)


def adapter_loss(model: nn.Module, adapter: LoraAdapter | None, data: Sequence[Encoded], pad_id: int,
                 batch_size: int = 8) -> float:
    """Mean response-token loss of ``model`` with ``adapter`` attached (``None``: the base model alone)."""
    if adapter is not None:
        apply_calibration(model, None, MergedLora.from_adapter(adapter))
    try:
        return mean_loss(model, data, pad_id, batch_size=batch_size)
    finally:
        remove_calibration(model)


def lorahub_search(model: nn.Module, tokenizer, examples: Sequence[Example], adapters: Sequence[LoraAdapter],
                   budget: int = LORAHUB_BUDGET, l1: float = LORAHUB_L1,
                   bounds: tuple[float, float] = LORAHUB_BOUNDS, seed: int = 0, max_length: int = 1024,
                   batch_size: int = 8, progress: bool = True) -> WeightSearchResult:
    """LoraHub's gradient-free search of one weight per adapter (seeded; deterministic for a given seed)."""
    import nevergrad as ng

    if len(adapters) < 2:
        raise ConfigError("LoraHub needs at least two adapters")
    if budget < 1 or bounds[0] >= bounds[1]:
        raise ConfigError(f"invalid LoraHub search: budget {budget}, bounds {bounds}")
    data, _ = ChatFormatter(tokenizer, max_length=max_length).encode_examples(examples)
    pad_id = tokenizer.pad_token_id
    parametrization = ng.p.Array(init=np.zeros(len(adapters)), lower=bounds[0], upper=bounds[1])
    parametrization.random_state = np.random.RandomState(seed)
    optimizer = ng.optimizers.NGOpt(parametrization=parametrization, budget=budget)
    history: list[float] = []
    bar = tqdm(total=budget, desc="lorahub", disable=not progress, dynamic_ncols=True)

    def objective(weights: np.ndarray) -> float:
        loss = adapter_loss(model, lorahub(adapters, [float(w) for w in weights]), data, pad_id, batch_size)
        value = loss + l1 * float(np.mean(np.abs(weights)))
        history.append(value)
        bar.update(1)
        bar.set_postfix(best=f"{min(history):.4f}")
        return value

    try:
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            # NGOpt's Cobyla start passes scipy a stopping radius it corrects itself: nothing a user can act on
            warnings.filterwarnings("ignore", message="COBYLA: Invalid RHOEND", category=UserWarning)
            recommendation = optimizer.minimize(objective)
    finally:
        bar.close()
    weights = [float(w) for w in recommendation.value]
    loss = adapter_loss(model, lorahub(adapters, weights), data, pad_id, batch_size)
    return WeightSearchResult("lorahub", weights, loss, len(history), history)


def lm_cocktail_weights(model: nn.Module, tokenizer, examples: Sequence[Example],
                        adapters: Sequence[LoraAdapter], temperature: float = LM_COCKTAIL_TEMPERATURE,
                        max_length: int = 1024, batch_size: int = 8) -> WeightSearchResult:
    """LM-Cocktail's weights ``softmax(-L_i / T)`` from each adapter's loss ``L_i`` on the examples."""
    if len(adapters) < 2:
        raise ConfigError("LM-Cocktail needs at least two adapters")
    if temperature <= 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    data, _ = ChatFormatter(tokenizer, max_length=max_length).encode_examples(examples)
    losses = [adapter_loss(model, adapter, data, tokenizer.pad_token_id, batch_size) for adapter in adapters]
    weights = torch.softmax(-torch.tensor(losses, dtype=torch.float64) / temperature, dim=0).tolist()
    return WeightSearchResult("lm-cocktail", weights, float(np.dot(weights, losses)), len(adapters), losses)
