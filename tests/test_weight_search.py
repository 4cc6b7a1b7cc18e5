"""LoraHub and LM-Cocktail weight search on a tiny chat model, checked against PEFT and direct formulas."""

from __future__ import annotations

import math

import pytest

from compbench.adapters.lora_io import load_lora, save_lora
from compbench.adapters.merges.weighted import lorahub
from compbench.errors import ConfigError
from compbench.training.data import load_examples
from compbench.training.formatting import ChatFormatter
from compbench.training.loop import TrainConfig, mean_loss
from compbench.training.lora import LoraSettings, train_lora
from compbench.training.weight_search import adapter_loss, lm_cocktail_weights, lorahub_search
from tests.support.split_fixtures import write_split
from tests.support.tiny_chat import tiny_chat_model
from tests.support.tiny_peft import load_peft, random_adapter


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny model, few examples, a LoRA trained on them ("useful") and a random one ("noise")."""
    root = tmp_path_factory.mktemp("ws")
    write_split(root / "release", "sum+tr-es", "train", n=8)
    examples = load_examples(root / "release", ["sum+tr-es"])
    trained, tokenizer = tiny_chat_model(seed=7)
    train_lora(trained, tokenizer, examples, root / "useful", settings=LoraSettings(r=4, alpha=8, dropout=0.0),
               config=TrainConfig(learning_rate=3e-2, batch_size=4, epochs=3, checkpoint_every=0),
               max_length=256, progress=False)
    useful = load_lora(root / "useful")
    model, _ = tiny_chat_model(seed=7)
    noise = random_adapter(model, seed=3, r=4, alpha=8)
    return model, tokenizer, examples, [useful, noise], root


def test_adapter_loss_equals_the_peft_model_loss(setup):
    model, tokenizer, examples, adapters, root = setup
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(examples)
    merged = lorahub(adapters, [0.7, -0.2])
    save_lora(merged, root / "merged")
    expected = mean_loss(load_peft(model, root / "merged"), data, tokenizer.pad_token_id)
    assert abs(adapter_loss(model, merged, data, tokenizer.pad_token_id) - expected) < 1e-5
    # The model is left as it was.
    assert abs(adapter_loss(model, None, data, tokenizer.pad_token_id)
               - mean_loss(model, data, tokenizer.pad_token_id)) < 1e-7


def test_lorahub_search_is_seeded_and_beats_its_start(setup):
    model, tokenizer, examples, adapters, _ = setup
    first = lorahub_search(model, tokenizer, examples, adapters, budget=12, seed=0, max_length=256, progress=False)
    again = lorahub_search(model, tokenizer, examples, adapters, budget=12, seed=0, max_length=256, progress=False)
    assert first.weights == again.weights and first.evaluations == 12
    assert all(-1.5 <= w <= 1.5 for w in first.weights)
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(examples)
    start = adapter_loss(model, None, data, tokenizer.pad_token_id)  # w = 0 is the base model
    assert first.history[0] == pytest.approx(start)
    objective = first.loss + 0.05 * sum(abs(w) for w in first.weights) / 2
    assert objective == pytest.approx(min(first.history), abs=1e-6)
    assert objective < start - 0.05
    assert first.weights[0] > abs(first.weights[1])  # the useful adapter gets the larger weight


def test_lm_cocktail_weights_are_the_softmax_of_negative_losses(setup):
    model, tokenizer, examples, adapters, root = setup
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(examples)
    losses = []
    for i, adapter in enumerate(adapters):
        save_lora(adapter, root / f"single{i}")
        losses.append(mean_loss(load_peft(model, root / f"single{i}"), data, tokenizer.pad_token_id))
    result = lm_cocktail_weights(model, tokenizer, examples, adapters, temperature=5.0, max_length=256)
    expected = [math.exp(-loss / 5.0) for loss in losses]
    expected = [e / sum(expected) for e in expected]
    assert result.weights == pytest.approx(expected, abs=1e-6)
    assert result.history == pytest.approx(losses, abs=1e-5)
    assert result.weights[0] > result.weights[1]  # lower loss, larger weight


def test_bad_settings(setup):
    model, tokenizer, examples, adapters, _ = setup
    with pytest.raises(ConfigError, match="at least two"):
        lorahub_search(model, tokenizer, examples, adapters[:1], progress=False)
    with pytest.raises(ConfigError, match="temperature"):
        lm_cocktail_weights(model, tokenizer, examples, adapters, temperature=0)
