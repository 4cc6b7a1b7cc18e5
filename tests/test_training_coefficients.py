"""DAM / ZipLoRA column-wise coefficients: start point, training, and agreement with the merge that applies them."""

from __future__ import annotations

import copy

import pytest
import torch

from compbench.adapters.lora_io import save_lora
from compbench.adapters.merges.weighted import columnwise_combination
from compbench.errors import ConfigError
from compbench.training.coefficients import (
    attach_coefficients,
    detach_coefficients,
    initial_coefficients,
    train_merge_coefficients,
)
from compbench.training.data import load_examples
from compbench.training.formatting import ChatFormatter
from compbench.training.loop import TrainConfig, mean_loss
from tests.support.split_fixtures import write_split
from tests.support.tiny_chat import tiny_chat_model
from tests.support.tiny_peft import input_ids, load_peft, logits, random_adapter, with_deltas


@pytest.fixture
def setup(tmp_path):
    write_split(tmp_path / "release", "sum+tone-casual", "train", n=8)
    examples = load_examples(tmp_path / "release", ["sum+tone-casual"])
    model, tokenizer = tiny_chat_model(seed=4)
    adapters = [random_adapter(model, seed=s, r=4, alpha=8) for s in (21, 22)]
    return model, tokenizer, examples, adapters


def test_initial_coefficients_average_the_updates(setup):
    model, _, _, adapters = setup
    coefficients = {n: torch.nn.Parameter(c) for n, c in initial_coefficients(adapters).items()}
    assert all(torch.all(c == 0.5) for c in coefficients.values())
    ids = input_ids(seed=2, vocab=300)
    direct = {n: (adapters[0].delta(n) + adapters[1].delta(n)) / 2 for n in adapters[0].modules}
    wrapped = attach_coefficients(copy.deepcopy(model), adapters, coefficients)
    assert (logits(wrapped, ids) - logits(with_deltas(model, direct), ids)).abs().max() < 1e-5
    assert detach_coefficients(wrapped) is wrapped
    assert (logits(wrapped, ids) - logits(model, ids)).abs().max() == 0


def test_training_lowers_the_loss_and_the_merge_reproduces_it(tmp_path, setup):
    model, tokenizer, examples, adapters = setup
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(examples)
    start = {n: torch.nn.Parameter(c) for n, c in initial_coefficients(adapters).items()}
    before = mean_loss(attach_coefficients(copy.deepcopy(model), adapters, start), data, tokenizer.pad_token_id)
    config = TrainConfig(learning_rate=5e-2, batch_size=4, epochs=3, checkpoint_every=0)
    learned, result = train_merge_coefficients(model, tokenizer, examples, adapters, config=config,
                                               max_length=256, progress=False)
    assert result.steps == 6
    assert set(learned) == set(adapters[0].modules)
    assert all(tuple(m.shape) == (2, adapters[0].modules[n].out_features) for n, m in learned.items())
    params = {n: torch.nn.Parameter(m) for n, m in learned.items()}
    after = mean_loss(attach_coefficients(copy.deepcopy(model), adapters, params), data, tokenizer.pad_token_id)
    assert after < before - 0.05, (before, after)
    # The merge that applies the coefficients (exported as a plain LoRA) gives the same model.
    save_lora(columnwise_combination(adapters, learned), tmp_path / "dam")
    assert abs(mean_loss(load_peft(model, tmp_path / "dam"), data, tokenizer.pad_token_id) - after) < 1e-4


def test_needs_two_adapters(setup):
    model, tokenizer, examples, adapters = setup
    with pytest.raises(ConfigError, match="at least two"):
        train_merge_coefficients(model, tokenizer, examples, adapters[:1], progress=False)
