"""The hand-set tiny tone model writes what it was designed to write, through the real loading path.

It is what the tone tests and the build tests rely on, so its promises are tested here: the designed answer
for each trigger (and the default), by wide logit margins, the same in a batch as alone; loops that never
reach ``### END``; the LoRA as the switch that makes it end; padding that changes the answer if attended to.
"""

from __future__ import annotations

import pytest

from compbench.generation.registry import make_tone_rewriter
from compbench.generation.tone import tone_prompt
from tests.support.tiny_causal_lm import (
    ANSWERS,
    DEFAULT_ANSWER,
    END_TEXT,
    LOOPS,
    PAD_LEAK_ANSWER,
    TONE_DESIGN,
    greedy_margins,
    write_tiny_tone_model,
)

# (input, what the model writes before ### END; None = never gets there)
CASES = [
    ("hey send me the file", ANSWERS["file"]),
    ("the meeting is moved to monday", ANSWERS["monday"]),
    ("#Person2# tells #Person1# the green apples cost two euros a kilo.", ANSWERS["apples"]),
    ("Your bike has a flat tyre.", ANSWERS["tyre"]),
    ("send the green apples and the file", ANSWERS["file"]),  # two triggers: the first in ANSWERS wins
    ("apples are cheap", DEFAULT_ANSWER),  # the first word follows no space: not its own trigger token
    ("Maria asks Tom to water the plants while she visits her sister in Lisbon.", DEFAULT_ANSWER),
    ("we walked to the harbour", None),
    ("please feed the cat", None),
]
MIN_MARGIN = 50.0  # logits; measured 64.6 at the narrowest designed step


@pytest.fixture(scope="module")
def tone_dir(tmp_path_factory):
    return write_tiny_tone_model(tmp_path_factory.mktemp("tone") / "tiny-tone")


@pytest.fixture(scope="module")
def rewriter(tone_dir):
    return make_tone_rewriter(tone_dir, "professional", batch_size=4, max_length=24)


def test_designed_answers_batched_and_alone(rewriter):
    inputs = [text for text, _ in CASES]
    expected = [answer for _, answer in CASES]
    assert [TONE_DESIGN.expected(text) for text in inputs] == expected
    assert rewriter.generate(inputs) == expected
    assert [rewriter.generate([text])[0] for text in inputs] == expected


def test_every_designed_step_wins_by_a_wide_margin(rewriter):
    finishing = [(text, answer) for text, answer in CASES if answer is not None]
    for tone in ("professional", "witty", "paraphrase"):  # the prompt's wording does not matter
        prompts = [tone_prompt(tone, text) for text, _ in finishing]
        margins = greedy_margins(rewriter.model, rewriter.tokenizer, prompts, [a for _, a in finishing])
        assert min(margins) > MIN_MARGIN, margins


def _greedy(model, tokenizer, texts, max_new_tokens=24, **options):
    import torch

    encoded = tokenizer([tone_prompt("casual", text) for text in texts], return_tensors="pt", padding=True)
    options.setdefault("attention_mask", encoded["attention_mask"])
    with torch.no_grad():
        output = model.generate(input_ids=encoded["input_ids"], do_sample=False, max_new_tokens=max_new_tokens,
                                pad_token_id=tokenizer.eos_token_id, **options)
    return output[:, encoded["input_ids"].shape[1]:]


def test_answer_then_end_marker_then_end_of_text(rewriter):
    tokenizer = rewriter.tokenizer
    (tokens,) = _greedy(rewriter.model, tokenizer, ["hey send me the file"]).tolist()
    designed = tokenizer(ANSWERS["file"] + END_TEXT)["input_ids"] + [tokenizer.eos_token_id]
    assert tokens[: len(designed)] == designed


def test_loops_never_reach_the_end_marker(rewriter):
    new = _greedy(rewriter.model, rewriter.tokenizer, ["we walked to the harbour", "please feed the cat"], 16)
    texts = rewriter.tokenizer.batch_decode(new, skip_special_tokens=True)
    for text, (opening, repeated) in zip(texts, [LOOPS["harbour"], LOOPS["cat"]], strict=True):
        assert text.startswith(opening + repeated * 3) and "###" not in text


def test_the_adapter_is_what_writes_the_end_marker(tone_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tone_dir / "base").eval()
    rewriter = make_tone_rewriter(tone_dir, "professional")
    texts = [ANSWERS["file"], DEFAULT_ANSWER]
    new = _greedy(base, rewriter.tokenizer, ["hey send me the file", "Maria asks Tom to water the plants."])
    # The base alone writes the answer and stops (end of text) without "### END"
    assert rewriter.tokenizer.batch_decode(new, skip_special_tokens=True) == texts
    without = write_tiny_tone_model(tmp_path / "no-end", writes_end=False)
    silent = make_tone_rewriter(without, "professional", max_length=24)
    assert silent.generate([text for text, _ in CASES]) == [None] * len(CASES)


def test_attending_to_padding_changes_the_answer(rewriter):
    import torch

    texts = ["hey send me the file", "Maria asks Tom to water the plants while she visits her sister in Lisbon."]
    tokenizer = rewriter.tokenizer
    encoded = tokenizer([tone_prompt("casual", text) for text in texts], return_tensors="pt", padding=True)
    assert encoded["attention_mask"][0].min() == 0  # the first prompt is padded on the left
    new = _greedy(rewriter.model, tokenizer, texts, attention_mask=torch.ones_like(encoded["input_ids"]))
    decoded = [text.split(END_TEXT)[0] for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
    assert decoded == [PAD_LEAK_ANSWER, DEFAULT_ANSWER]
