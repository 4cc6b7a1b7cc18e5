"""The demo's tiny base model: a byte-level BPE tokenizer trained on the world's text, a chat template, and a
small Llama pretrained from scratch on the world's plain text (language-model loss on every token).

Pretraining runs through the package's own training loop (:func:`compbench.training.loop.train`: Adam, seeded
batch order, resumable checkpoints), with every token of a document as a label. The result is a model directory
(``config.json``, ``model.safetensors``, the tokenizer files) that any ``--base-model DIR`` accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from compbench.tasks import REGISTRY

#: A template in the style of small chat models: each turn ``<|role|>\\n...</s>\\n``.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]


@dataclass(frozen=True)
class ModelSize:
    """The Llama's shape and its pretraining."""

    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate_size: int = 384
    vocab_size: int = 1536
    max_positions: int = 512
    tied: bool = False
    pretrain_documents: int = 8000
    pretrain_steps: int = 1200
    pretrain_batch: int = 16
    pretrain_lr: float = 3e-3

    def to_dict(self) -> dict:
        return asdict(self)


def train_tokenizer(texts: Sequence[str], vocab_size: int):
    """A byte-level BPE tokenizer trained on ``texts`` and the registry's prompts, with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    prompts = sorted({task.prompt for task in REGISTRY.values()})
    tokenizer.train_from_iterator([*texts, *prompts], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def new_model(tokenizer, size: ModelSize, seed: int):
    """A randomly initialised Llama (float32) whose vocabulary matches ``tokenizer``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=size.hidden_size,
                         intermediate_size=size.intermediate_size, num_hidden_layers=size.layers,
                         num_attention_heads=size.heads, num_key_value_heads=size.kv_heads,
                         max_position_embeddings=size.max_positions, tie_word_embeddings=size.tied,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def pretrain(model, tokenizer, corpus: Sequence[str], size: ModelSize, seed: int,
             checkpoint_dir: str | Path | None = None, progress: bool = True):
    """Plain language-model training on ``corpus`` (each document ``<s> text </s>``, loss on every token)."""
    from compbench.training.formatting import Encoded
    from compbench.training.loop import TrainConfig, train

    data = []
    for text in corpus:
        ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        data.append(Encoded(ids[: size.max_positions], ids[: size.max_positions]))
    config = TrainConfig(learning_rate=size.pretrain_lr, batch_size=size.pretrain_batch,
                         epochs=max(1, -(-size.pretrain_steps * size.pretrain_batch // len(data))),
                         max_steps=size.pretrain_steps, seed=seed, max_grad_norm=1.0)
    params = {name: p for name, p in model.named_parameters()}
    model.train()

    def loss_fn(batch):
        return model(**batch).loss

    result = train(params, loss_fn, data, tokenizer.pad_token_id, config, checkpoint_dir=checkpoint_dir,
                   desc="pretrain", progress=progress, extra={"pretrain": size.to_dict()})
    model.eval()
    return result


def save_model(model, tokenizer, directory: str | Path) -> Path:
    """The model and tokenizer as a model directory (safetensors)."""
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return Path(directory)
