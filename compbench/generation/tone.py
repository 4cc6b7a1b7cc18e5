"""Tone references with the RedPajama-INCITE 3B base plus the llm-toys paraphrase/tone LoRA.

The prompt is the adapter's training format; decoding is greedy and stops at ``### END`` (per sequence, in
batches with left padding). The text before the marker is the output; an output that never reaches the
marker within ``max_length`` new tokens is a generation failure (``None``), never a reference.
The adapter ships as a pickled ``adapter_model.bin``: convert it once with
:func:`compbench.generation.checkpoints.convert_pickled_weights`; pickles are never loaded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from compbench.errors import ConfigError, InputError
from compbench.generation.batching import check_options, map_length_sorted, torch_dtype
from compbench.generation.checkpoints import Checkpoint, require_safetensors, resolve_checkpoint
from compbench.tasks import TONES

END_MARKER = "### END"
TONE_PROMPT = (
    "### Instruction:\nChange the tone of the following Input sentence to {tone}.\n\n"
    "### Input:\n{text}\n\n### Response:\n"
)
PARAPHRASE_PROMPT = (
    "### Instruction:\nGenerate a paraphrase for the following Input sentence.\n\n"
    "### Input:\n{text}\n\n### Response:\n"
)


def tone_prompt(tone: str, text: str) -> str:
    """The adapter's prompt for ``tone`` (``paraphrase`` has its own instruction)."""
    if tone not in TONES:
        raise ConfigError(f"unknown tone {tone!r} (choose one of {', '.join(TONES)})")
    template = PARAPHRASE_PROMPT if tone == "paraphrase" else TONE_PROMPT
    return template.format(tone=tone, text=text)


def cut_at_end_marker(text: str) -> str | None:
    """The text before ``### END``, stripped; ``None`` when the marker never came or nothing precedes it."""
    head, found, _ = text.partition(END_MARKER)
    return (head.strip() or None) if found else None


class ToneRewriter:
    """Greedy tone rewriting with a causal LM base plus a PEFT LoRA adapter (a :class:`Generator`).

    ``base`` and ``adapter`` are Hub ids (fetched at their revisions, safetensors only) or local
    directories. The adapter is merged into the base weights after loading (``merge_and_unload``).
    """

    backend = "transformers"

    def __init__(
        self,
        base: str | Path,
        adapter: str | Path,
        tone: str,
        *,
        base_revision: str | None = None,
        adapter_revision: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        batch_size: int = 8,
        max_length: int = 128,
    ):
        tone_prompt(tone, "")  # validates the tone
        check_options(batch_size=batch_size, max_length=max_length, dtype=dtype, device=device)
        self.task, self.tone = f"tone-{tone}", tone
        base_ckpt: Checkpoint = resolve_checkpoint(base, base_revision)
        adapter_ckpt: Checkpoint = resolve_checkpoint(adapter, adapter_revision)
        require_safetensors(base_ckpt.path)
        if not (adapter_ckpt.path / "adapter_config.json").is_file():
            raise InputError("not a PEFT adapter directory (adapter_config.json missing)", adapter_ckpt.path)
        require_safetensors(adapter_ckpt.path, adapter=True)
        self.model_id = f"{base_ckpt.model_id}+{adapter_ckpt.model_id}"
        self.revision = f"{base_ckpt.revision}+{adapter_ckpt.revision}"
        self.device, self.dtype, self.batch_size, self.max_length = device, dtype, batch_size, max_length
        self._base, self._adapter = base_ckpt, adapter_ckpt
        self._base_path, self._adapter_path = base_ckpt.path, adapter_ckpt.path

    # Weights load on first use: a fully cached rebuild or ``compbench build --plan`` never loads them.
    @cached_property
    def tokenizer(self):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self._base_path, padding_side="left")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    @cached_property
    def model(self):
        import warnings

        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(self._base_path, dtype=torch_dtype(self.dtype),
                                                     use_safetensors=True)
        with warnings.catch_warnings():
            # peft reads transformers' deprecated ``is_gradient_checkpointing`` inside from_pretrained: a
            # warning about peft's code that a user of this one can do nothing about.
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            model = PeftModel.from_pretrained(model, str(self._adapter_path), use_safetensors=True)
        return model.merge_and_unload().to(self.device).eval()

    @property
    def settings(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "decoding": "greedy",
            "max_length": self.max_length,
            "dtype": self.dtype,
            "prompt": tone_prompt(self.tone, "{text}"),
            "end_marker": END_MARKER,
        }

    def generate(self, texts: Sequence[str]) -> list[str | None]:
        """Rewrite ``texts`` in the tone; one output per input, in input order (``None`` = never ended)."""
        prompts = [tone_prompt(self.tone, text) for text in texts]
        if not prompts:
            return []
        lengths = [len(ids) for ids in self.tokenizer(prompts)["input_ids"]]
        return map_length_sorted(prompts, lengths, self.batch_size, self._rewrite_batch)

    def _rewrite_batch(self, prompts: list[str]) -> list[str | None]:
        import torch

        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(
                **encoded,
                do_sample=False,
                num_beams=1,
                max_new_tokens=self.max_length,
                stop_strings=[END_MARKER],
                tokenizer=self.tokenizer,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [cut_at_end_marker(text) for text in texts]
