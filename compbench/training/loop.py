"""The one training loop every trainer uses: Adam, seeded data order, tqdm with the loss, resumable checkpoints.

Data order: epoch ``e`` visits the examples in ``randperm(n)`` drawn from a generator seeded with ``seed + e``,
in consecutive batches; step ``k`` is always the same batch, so a resumed run skips exactly the finished
steps. Randomness inside a step (LoRA dropout) is seeded with ``(seed, step)``, so a resumed run is the same
run. A checkpoint (every ``checkpoint_every`` steps and at the end) holds the trained tensors (safetensors), the
optimizer state (``torch.save``, read back with ``weights_only=True``) and the losses so far; ``latest.json``
is written last and names the complete checkpoint, so a run killed while writing one resumes from the previous.
A checkpoint directory belongs to one run (fingerprint of the settings, the data and the parameter shapes):
resuming with different settings is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from compbench.errors import ConfigError, InputError
from compbench.fileio import atomic_path, write_json
from compbench.training.formatting import Encoded, collate

LATEST = "latest.json"


@dataclass
class TrainConfig:
    """Optimisation settings shared by every trainer (defaults: one epoch of Adam)."""

    learning_rate: float
    batch_size: int = 8
    epochs: int = 1
    max_steps: int | None = None  # stop earlier than the epochs would
    seed: int = 0
    checkpoint_every: int = 100  # steps; 0 disables intermediate checkpoints
    max_grad_norm: float | None = None

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ConfigError(f"learning rate must be positive, got {self.learning_rate}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ConfigError("batch size and epochs must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max steps must be at least 1, got {self.max_steps}")
        if self.checkpoint_every < 0:
            raise ConfigError("checkpoint_every must be 0 (off) or positive")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    steps: int
    losses: list[float] = field(default_factory=list)
    resumed_from: int = 0
    skipped: list[str] = field(default_factory=list)  # example ids left out (prompt alone too long)

    @property
    def first_loss(self) -> float | None:
        return self.losses[0] if self.losses else None

    @property
    def last_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None


def batch_order(n: int, batch_size: int, epochs: int, seed: int) -> list[list[int]]:
    """Example indices of every step: a seeded permutation per epoch, cut into consecutive batches."""
    steps = []
    for epoch in range(epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
        steps.extend(order[i:i + batch_size] for i in range(0, n, batch_size))
    return steps


def fingerprint(config: TrainConfig, data: Sequence[Encoded], params: dict[str, nn.Parameter],
                extra: dict | None = None) -> str:
    digest = hashlib.sha256()
    settings = {k: v for k, v in config.to_dict().items() if k != "checkpoint_every"}  # does not change results
    digest.update(json.dumps({"config": settings, "extra": extra or {},
                              "params": {k: list(v.shape) for k, v in params.items()}}, sort_keys=True,
                             default=str).encode())
    for item in data:
        digest.update(json.dumps([item.input_ids, item.labels]).encode())
    return digest.hexdigest()


def train(params: dict[str, nn.Parameter], loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor],
          data: Sequence[Encoded], pad_id: int, config: TrainConfig, checkpoint_dir: str | Path | None = None,
          desc: str = "train", progress: bool = True, extra: dict | None = None) -> TrainResult:
    """Minimise ``loss_fn(batch)`` over ``params`` with Adam; resume from ``checkpoint_dir`` if it has a run."""
    if not data:
        raise ConfigError("no training examples")
    if not params:
        raise ConfigError("nothing to train: no parameters")
    batches = batch_order(len(data), config.batch_size, config.epochs, config.seed)
    total = len(batches) if config.max_steps is None else min(config.max_steps, len(batches))
    optimizer = torch.optim.Adam(list(params.values()), lr=config.learning_rate)
    run_id = fingerprint(config, data, params, extra)
    losses: list[float] = []
    start = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and (ckpt / LATEST).exists():
        start, losses = _load_checkpoint(ckpt, run_id, params, optimizer)
    device = next(iter(params.values())).device
    bar = tqdm(total=total, initial=start, desc=desc, disable=not progress, dynamic_ncols=True)
    try:
        for step in range(start, total):
            torch.manual_seed(_step_seed(config.seed, step))
            batch = {k: v.to(device) for k, v in collate([data[i] for i in batches[step]], pad_id).items()}
            loss = loss_fn(batch)
            if not torch.isfinite(loss):
                raise ConfigError(f"the loss became {loss.item()} at step {step + 1}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(list(params.values()), config.max_grad_norm)
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            done = step + 1
            if ckpt is not None and (done == total or (config.checkpoint_every and done % config.checkpoint_every == 0)):
                _save_checkpoint(ckpt, done, run_id, params, optimizer, losses)
    finally:
        bar.close()
    return TrainResult(steps=total, losses=losses, resumed_from=start)


def _step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63 - 1)


# ------------------------------------------------------------------------------------------ checkpoints
def _save_checkpoint(directory: Path, step: int, run_id: str, params: dict[str, nn.Parameter],
                     optimizer: torch.optim.Optimizer, losses: list[float]) -> None:
    name = f"step-{step:08d}"
    target = directory / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    tensors = {key: value.detach().contiguous().cpu() for key, value in params.items()}
    with atomic_path(target / "params.safetensors") as tmp:
        save_file(tensors, str(tmp))
    with atomic_path(target / "optimizer.pt") as tmp:
        torch.save(optimizer.state_dict(), tmp)
    write_json(target / "state.json", {"step": step, "fingerprint": run_id, "losses": losses})
    write_json(directory / LATEST, {"step": step, "checkpoint": name, "fingerprint": run_id})
    for old in directory.glob("step-*"):
        if old.name != name and old.is_dir():
            shutil.rmtree(old)


def _load_checkpoint(directory: Path, run_id: str, params: dict[str, nn.Parameter],
                     optimizer: torch.optim.Optimizer) -> tuple[int, list[float]]:
    try:
        latest = json.loads((directory / LATEST).read_text())
        target = directory / latest["checkpoint"]
        state = json.loads((target / "state.json").read_text())
        tensors = load_file(target / "params.safetensors")
        optim_state = torch.load(target / "optimizer.pt", map_location="cpu", weights_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InputError(f"unreadable checkpoint ({exc}); delete the directory to start over", directory) from None
    if latest.get("fingerprint") != run_id or state.get("fingerprint") != run_id:
        raise ConfigError(f"the checkpoint in {directory} belongs to a run with other settings or data; "
                          "use a new output directory or delete it to start over")
    with torch.no_grad():
        for key, param in params.items():
            param.copy_(tensors[key].to(param.device, param.dtype))
    optimizer.load_state_dict(optim_state)
    return int(state["step"]), [float(x) for x in state["losses"]]


def total_steps(n_examples: int, config: TrainConfig) -> int:
    steps = config.epochs * math.ceil(n_examples / config.batch_size)
    return steps if config.max_steps is None else min(steps, config.max_steps)


@torch.no_grad()
def mean_loss(model: nn.Module, data: Sequence[Encoded], pad_id: int, batch_size: int = 8) -> float:
    """Token-weighted mean cross-entropy of ``model`` on ``data`` (response tokens only), in eval mode."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    device = next(model.parameters()).device
    try:
        for start in range(0, len(data), batch_size):
            batch = collate(data[start:start + batch_size], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            n = int((batch["labels"][:, 1:] != -100).sum())
            total += float(model(**batch).loss) * n
            count += n
    finally:
        model.train(was_training)
    return total / max(count, 1)
