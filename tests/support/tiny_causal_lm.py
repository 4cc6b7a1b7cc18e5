"""Write a tiny GPT-NeoX base (random weights, BPE tokenizer trained on our text) and PEFT LoRA adapters for it.

``write_tiny_tone_model`` returns a directory with ``base/`` and ``adapter/`` (the layout
``make_tone_rewriter`` accepts). With ``train_pairs`` the LoRA is trained for a few seconds to answer each
training prompt with its rewrite followed by ``\\n\\n### END``, so a real greedy run reaches the marker.
``pickle_adapter`` turns an adapter directory into the shape the real llm-toys adapter ships in
(``adapter_model.bin`` only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from compbench.generation.tone import END_MARKER, tone_prompt
from tests.support.generation_text import ENGLISH, TONE_PAIRS

EOS = "<|endoftext|>"


def write_tiny_tokenizer(directory: Path, texts: Sequence[str], vocab_size: int = 400) -> None:
    """Train a byte-level BPE tokenizer on ``texts`` and save it as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS)
    wrapped.save_pretrained(directory)


def _training_texts(pairs: Sequence[tuple[str, str]]) -> list[str]:
    prompts = [tone_prompt(tone, text) for tone in ("professional", "casual", "witty", "paraphrase") for text in ENGLISH]
    answers = [f"{tone_prompt('professional', source)}{target}\n\n{END_MARKER}" for source, target in pairs]
    return prompts + answers + list(ENGLISH)


def write_tiny_tone_model(
    directory: str | Path,
    *,
    train_pairs: Sequence[tuple[str, str]] = TONE_PAIRS,
    tone: str = "professional",
    steps: int = 150,
    seed: int = 0,
) -> Path:
    """Write ``directory/base`` (GPT-NeoX, 2 layers, hidden 64) and ``directory/adapter`` (LoRA r=8)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, GPTNeoXConfig, GPTNeoXForCausalLM

    directory = Path(directory)
    base_dir, adapter_dir = directory / "base", directory / "adapter"
    write_tiny_tokenizer(base_dir, _training_texts(train_pairs))
    tokenizer = AutoTokenizer.from_pretrained(base_dir)

    torch.manual_seed(seed)
    config = GPTNeoXConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=256,
        rotary_pct=0.25,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    base = GPTNeoXForCausalLM(config)
    base.save_pretrained(base_dir)

    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["query_key_value", "dense_4h_to_h"],
                      task_type="CAUSAL_LM")
    model = get_peft_model(base, lora)
    if train_pairs:
        _train(model, tokenizer, [(tone_prompt(tone, source), f"{target}\n\n{END_MARKER}") for source, target in train_pairs], steps)
    model.save_pretrained(adapter_dir)
    return directory


def _train(model, tokenizer, examples: Sequence[tuple[str, str]], steps: int) -> None:
    """Teach the LoRA to continue each prompt with its answer (loss on the answer tokens only)."""
    import torch

    batches = []
    for prompt, answer in examples:
        prompt_ids = tokenizer(prompt)["input_ids"]
        answer_ids = tokenizer(answer)["input_ids"]
        ids = torch.tensor([prompt_ids + answer_ids])
        labels = torch.tensor([[-100] * len(prompt_ids) + answer_ids])
        batches.append((ids, labels))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for step in range(steps):
        ids, labels = batches[step % len(batches)]
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def pickle_adapter(adapter_dir: str | Path) -> Path:
    """Replace ``adapter_model.safetensors`` by a pickled ``adapter_model.bin`` of the same tensors."""
    import torch
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    safe = adapter_dir / "adapter_model.safetensors"
    torch.save(load_file(safe), adapter_dir / "adapter_model.bin")
    safe.unlink()
    return adapter_dir / "adapter_model.bin"


class _Payload:
    """An object whose unpickling would run code: what ``weights_only=True`` must refuse."""

    def __reduce__(self):
        return (print, ("unpickled arbitrary code",))


def write_unsafe_pickle(path: str | Path) -> Path:
    """A ``.bin`` that holds a non-tensor object beside a tensor."""
    import torch

    path = Path(path)
    torch.save({"weight": torch.zeros(2), "payload": _Payload()}, path)
    return path


def adapter_config(adapter_dir: str | Path) -> dict:
    return json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
