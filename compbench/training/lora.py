"""Training single-task and joint-expert LoRAs with PEFT (paper settings by default)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from torch import nn

from compbench.adapters.calibration import MODULE_TYPES
from compbench.errors import ConfigError
from compbench.training.data import Example
from compbench.training.formatting import ChatFormatter
from compbench.training.loop import TrainConfig, TrainResult, train

LORA_LEARNING_RATE = 5e-5


@dataclass
class LoraSettings:
    """The adapter's shape: rank 32, alpha 16, dropout 0.05 on q, k, v, o, gate, up, down (the paper's)."""

    r: int = 32
    alpha: float = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(MODULE_TYPES))

    def to_dict(self) -> dict:
        return asdict(self)

    def peft_config(self):
        from peft import LoraConfig

        if self.r < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ConfigError(f"invalid LoRA settings: r={self.r}, alpha={self.alpha}, dropout={self.dropout}")
        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(self.target_modules), bias="none", task_type="CAUSAL_LM")


def train_lora(model: nn.Module, tokenizer, examples: Sequence[Example], output_dir: str | Path,
               settings: LoraSettings | None = None, config: TrainConfig | None = None,
               checkpoint_dir: str | Path | None = None, max_length: int = 1024,
               progress: bool = True) -> TrainResult:
    """Train a LoRA on ``examples`` (one task: single-task; compositional data: joint-expert) and save it.

    ``output_dir`` receives ``adapter_config.json`` + ``adapter_model.safetensors`` (PEFT's own writer). The
    base model is wrapped in place by PEFT.
    """
    from peft import get_peft_model

    settings = settings or LoraSettings()
    config = config or TrainConfig(learning_rate=LORA_LEARNING_RATE)
    formatter = ChatFormatter(tokenizer, max_length=max_length)
    data, skipped = formatter.encode_examples(examples)
    peft_model = get_peft_model(model, settings.peft_config())
    params = {name: p for name, p in peft_model.named_parameters() if p.requires_grad}
    peft_model.train()

    def loss_fn(batch):
        return peft_model(**batch).loss

    result = train(params, loss_fn, data, tokenizer.pad_token_id, config, checkpoint_dir=checkpoint_dir,
                   desc="lora", progress=progress, extra={"lora": settings.to_dict(), "max_length": max_length})
    peft_model.eval()
    peft_model.save_pretrained(str(output_dir), safe_serialization=True)
    result.skipped = skipped
    return result
