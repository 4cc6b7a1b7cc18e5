"""A tiny chat model for training and evaluation tests: a byte-level BPE tokenizer trained on our own sentences,
with a simple chat template, and a tiny Llama (or Qwen2, with a ChatML template as Qwen's chat models have)
whose vocabulary matches it. Everything is built offline in seconds."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from compbench.tasks import REGISTRY
from tests.support.tiny_peft import tiny_llama

# Our own sentences (not taken from any dataset).
SENTENCES = [
    "The ferry to the island leaves at nine, so pack the blue umbrella tonight.",
    "Maria asked whether the bakery on Elm Street still sells rye bread on Sundays.",
    "Tom forgot the meeting notes, and the team rebuilt the plan on the whiteboard.",
    "Could you water the tomatoes while I visit my grandmother this weekend?",
    "The library extended its hours because students asked for quiet evenings.",
    "Our neighbour repaired the fence after the storm knocked two posts down.",
    "She booked a table by the window and ordered soup for everyone.",
    "El perro duerme junto a la puerta cuando llueve por la tarde.",
    "Le train pour Lyon part du quai trois dans dix minutes.",
    "Der Kuchen ist fertig, aber die Sahne fehlt noch im Kühlschrank.",
    "Please summarize the chat and reply in a calm, professional way.",
    "Honestly, that sounds like a fantastic plan, count me in!",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>", "<|im_start|>",
            "<|im_end|>"]


def tiny_tokenizer(chat_template: bool = True, vocab_size: int = 1000, chatml: bool = False) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on our sentences and the registry's prompts (short sequences keep tests fast).

    ``chatml``: Qwen-style, ``<|im_start|>role ... <|im_end|>`` turns and ``<|im_end|>`` as end of turn."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    prompts = [task.prompt for task in REGISTRY.values()]
    tokenizer.train_from_iterator((SENTENCES + prompts) * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=None if chatml else "<s>",
                                   eos_token="<|im_end|>" if chatml else "</s>", pad_token="<pad>", unk_token="<unk>")
    if chat_template:
        fast.chat_template = CHATML_TEMPLATE if chatml else CHAT_TEMPLATE
    return fast


def tiny_chat_model(seed: int = 0, tokenizer: PreTrainedTokenizerFast | None = None, **overrides):
    """``(model, tokenizer)``: a tiny Llama (float32, eval mode) sized to the tokenizer's vocabulary."""
    tokenizer = tokenizer or tiny_tokenizer()
    model = tiny_llama(seed=seed, vocab_size=len(tokenizer), max_position_embeddings=512,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, **{"initializer_range": 0.2, **overrides})
    return model, tokenizer


def tiny_qwen2_chat_model(seed: int = 0, **overrides):
    """``(model, tokenizer)``: a tiny Qwen2 (biases on q, k, v; ChatML template), float32, eval mode."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = tiny_tokenizer(chatml=True)
    values = dict(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False,
                  initializer_range=0.2, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                  bos_token_id=None)
    values.update(overrides)
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(Qwen2Config(**values)).eval(), tokenizer


def save_tiny_chat_model(directory: Path, seed: int = 0, architecture: str = "llama") -> Path:
    """Write a tiny chat model (``llama`` or ``qwen2``) and its tokenizer to ``directory`` (safetensors), as a
    Hub repo would hold them."""
    model, tokenizer = tiny_qwen2_chat_model(seed=seed) if architecture == "qwen2" else tiny_chat_model(seed=seed)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
