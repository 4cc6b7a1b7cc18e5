"""Turning examples into token ids and labels: the base model's chat template, loss on the response only.

The user message is ``prompt + "\\n\\n" + input`` (the registry's prompt). With a chat template, the prompt
part is ``apply_chat_template([user], add_generation_prompt=True)`` -- exactly what generation will feed the
model -- and the response part is whatever the template adds after it for the assistant turn (the reference
and the template's end-of-turn marker). The two parts are tokenized separately, so the label mask is exact:
every prompt token gets label -100. Without a chat template the prompt is ``message + "\\n\\n"`` with the
tokenizer's special tokens and the response is ``reference + eos`` (a warning says so).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from compbench.errors import ConfigError
from compbench.training.data import Example

IGNORE_INDEX = -100


def user_message(example: Example) -> str:
    return f"{example.prompt}\n\n{example.input}"


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]

    @property
    def num_target_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


class ChatFormatter:
    """Encode (message, response) pairs for a causal LM with its tokenizer's chat template."""

    def __init__(self, tokenizer, max_length: int = 1024):
        if max_length < 2:
            raise ConfigError(f"max_length must be at least 2, got {max_length}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        if not self.has_template:
            warnings.warn("the tokenizer has no chat template: using '<prompt>\\n\\n<response><eos>' instead",
                          stacklevel=2)

    def prompt_text(self, message: str, shots: Sequence[tuple[str, str]] = ()) -> str:
        """What the model sees before it starts answering (also what generation uses).

        ``shots`` are solved examples ``(message, response)`` shown first as earlier turns of the conversation
        (in-context learning).
        """
        if self.has_template:
            turns = [turn for shot_message, response in shots for turn in (
                {"role": "user", "content": shot_message}, {"role": "assistant", "content": response})]
            return self.tokenizer.apply_chat_template([*turns, {"role": "user", "content": message}], tokenize=False,
                                                      add_generation_prompt=True)
        return "".join(f"{m}\n\n{r}\n\n" for m, r in shots) + f"{message}\n\n"

    def response_text(self, message: str, response: str) -> str:
        if not self.has_template:
            return response + (self.tokenizer.eos_token or "")
        prompt = self.prompt_text(message)
        full = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": message}, {"role": "assistant", "content": response}], tokenize=False)
        if not full.startswith(prompt):
            raise ConfigError("the chat template's assistant turn does not extend its generation prompt; "
                              "cannot mask the prompt tokens reliably")
        return full[len(prompt):]

    def encode(self, message: str, response: str) -> Encoded:
        """Token ids and labels (-100 on the prompt), cut to ``max_length`` from the end."""
        # Templates write their own BOS; the fallback uses the tokenizer's usual special tokens.
        prompt_ids = self.tokenizer(self.prompt_text(message), add_special_tokens=not self.has_template)["input_ids"]
        response_ids = self.tokenizer(self.response_text(message, response), add_special_tokens=False)["input_ids"]
        ids = (list(prompt_ids) + list(response_ids))[: self.max_length]
        labels = ([IGNORE_INDEX] * len(prompt_ids) + list(response_ids))[: self.max_length]
        return Encoded(ids, labels)

    def encode_examples(self, examples: Sequence[Example]) -> tuple[list[Encoded], list[str]]:
        """Encode every example; returns the encoded ones and the ids of those left out because the prompt
        alone fills ``max_length`` (no response token would be left to learn from)."""
        encoded, skipped = [], []
        for example in examples:
            item = self.encode(user_message(example), example.reference)
            if item.num_target_tokens == 0:
                skipped.append(example.id)
            else:
                encoded.append(item)
        if skipped:
            warnings.warn(f"{len(skipped)} of {len(examples)} examples left out: their prompt alone fills "
                          f"max_length={self.max_length}", stacklevel=2)
        if not encoded:
            raise ConfigError(f"every example's prompt fills max_length={self.max_length}; raise --max-length")
        return encoded, skipped


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch: ``input_ids``, ``attention_mask`` and ``labels`` (-100 on padding)."""
    width = max(len(item.input_ids) for item in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, item in enumerate(batch):
        n = len(item.input_ids)
        ids[row, :n] = torch.tensor(item.input_ids)
        labels[row, :n] = torch.tensor(item.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
