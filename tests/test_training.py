"""Training on built splits: data loading, label masks, LoRA and calibration training, resumable checkpoints."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from compbench.adapters.calibration import apply_calibration, mean_factors
from compbench.errors import ConfigError, InputError
from compbench.fileio import sha256_file
from compbench.schemas import ReleaseFile, split_file_path
from compbench.training.calibrate import train_calibration
from compbench.training.data import load_examples, load_split, resolve_subtasks
from compbench.training.formatting import IGNORE_INDEX, ChatFormatter, collate, user_message
from compbench.training.loop import TrainConfig, batch_order, mean_loss, train
from compbench.training.lora import LoraSettings, train_lora
from tests.support.split_fixtures import record_in_manifest, write_split
from tests.support.tiny_chat import tiny_chat_model, tiny_tokenizer
from tests.support.tiny_peft import random_adapter


@pytest.fixture
def release(tmp_path):
    root = tmp_path / "release"
    for subtask in ("sum+tr-es", "sum+tr-fr", "sum+tr-de", "sum"):
        write_split(root, subtask, "train", n=8)
    return root


# ------------------------------------------------------------------------------------------------ data
def test_families_expand_and_samples_are_seeded(release):
    assert resolve_subtasks(["sum+tr", "sum+tr-es"]) == ["sum+tr-es", "sum+tr-fr", "sum+tr-de"]
    every = load_examples(release, ["sum+tr"])
    assert len(every) == 24
    a = load_examples(release, ["sum+tr"], limit=10, seed=3)
    b = load_examples(release, ["sum+tr"], limit=10, seed=3)
    c = load_examples(release, ["sum+tr"], limit=10, seed=4)
    assert [e.id for e in a] == [e.id for e in b] != [e.id for e in c]
    assert len({e.id for e in a}) == 10 and {e.subtask for e in every} == {"sum+tr-es", "sum+tr-fr", "sum+tr-de"}
    # The prompt is the registry's.
    assert a[0].prompt.startswith("Summarize the following text and translate it from English to")


def test_the_sample_equals_random_sample_over_the_union(tmp_path):
    import random

    for subtask, n in (("sum+tr-es", 7), ("sum+tr-fr", 11), ("sum+tr-de", 5)):
        write_split(tmp_path, subtask, "train", n=n)
    union = load_examples(tmp_path, ["sum+tr"])
    assert len(union) == 23
    for seed in range(5):
        for k in (1, 9, 22):
            expected = [e.id for e in random.Random(seed).sample(union, k)]
            assert [e.id for e in load_examples(tmp_path, ["sum+tr"], limit=k, seed=seed)] == expected


def test_bad_data_inputs(release):
    with pytest.raises(InputError, match="split file not found"):
        load_split(release, "reply+tr-es")
    with pytest.raises(ConfigError, match="nor a family"):
        resolve_subtasks(["sum+klingon"])
    bad = release / split_file_path("sum_tr_es", "train")
    bad.write_bytes(b"PAR1 broken")
    with pytest.raises(InputError, match="sha256 differs from the manifest"):
        load_split(release, "sum+tr-es")
    record_in_manifest(release, ReleaseFile(path=split_file_path("sum_tr_es", "train"), subtask="sum+tr-es",
                                            split="train", rows=8, sha256=sha256_file(bad)))
    with pytest.raises(InputError, match="cannot read Parquet"):
        load_split(release, "sum+tr-es")


# ------------------------------------------------------------------------------------------ formatting
def test_labels_mask_the_prompt_and_keep_the_response(release):
    tokenizer = tiny_tokenizer()
    example = load_examples(release, ["sum+tr-es"])[0]
    formatter = ChatFormatter(tokenizer, max_length=512)
    item = formatter.encode(user_message(example), example.reference)
    prompt_ids = tokenizer(formatter.prompt_text(user_message(example)), add_special_tokens=False)["input_ids"]
    n = len(prompt_ids)
    assert item.input_ids[:n] == prompt_ids
    assert item.labels[:n] == [IGNORE_INDEX] * n
    assert item.labels[n:] == item.input_ids[n:]
    assert tokenizer.decode(item.labels[n:]) == example.reference + "</s>\n"
    assert "\n\n#Person1#:" in tokenizer.decode(item.input_ids[:n])  # prompt, blank line, input
    batch = collate([item, formatter.encode("short", "ok")], tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert int(batch["attention_mask"][1].sum()) < batch["input_ids"].shape[1]
    assert (batch["labels"][1][batch["attention_mask"][1] == 0] == IGNORE_INDEX).all()


def test_without_a_chat_template_falls_back_clearly():
    tokenizer = tiny_tokenizer(chat_template=False)
    with pytest.warns(UserWarning, match="no chat template"):
        formatter = ChatFormatter(tokenizer)
    item = formatter.encode("Summarize the following text:\n\nhello", "a reply")
    n = item.labels.count(IGNORE_INDEX)
    assert tokenizer.decode(item.input_ids[n:]) == "a reply</s>"


def test_too_long_prompts_are_left_out_and_counted():
    from compbench.training.data import Example

    tokenizer = tiny_tokenizer()
    short = Example("short", "sum", "Summarize the following text:", "hi", "ok")
    long = Example("long", "sum", "Summarize the following text:", "the ferry " * 40, "ok")
    formatter = ChatFormatter(tokenizer, max_length=40)
    assert len(formatter.encode(user_message(long), "ok").input_ids) == 40
    with pytest.warns(UserWarning, match="1 of 2 examples left out"):
        encoded, skipped = formatter.encode_examples([short, long])
    assert skipped == ["long"] and len(encoded) == 1
    with pytest.raises(ConfigError, match="max-length"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formatter.encode_examples([long])


# -------------------------------------------------------------------------------------------- training
def test_batch_order_is_a_seeded_permutation_per_epoch():
    order = batch_order(10, 3, 2, seed=7)
    assert [len(b) for b in order] == [3, 3, 3, 1] * 2
    assert sorted(i for b in order[:4] for i in b) == list(range(10))
    assert order == batch_order(10, 3, 2, seed=7) and order != batch_order(10, 3, 2, seed=8)


def test_lora_training_lowers_the_loss_and_saves_a_peft_adapter(tmp_path, release):
    from peft import PeftModel

    model, tokenizer = tiny_chat_model(seed=2)
    examples = load_examples(release, ["sum"])
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(examples)
    before = mean_loss(model, data, tokenizer.pad_token_id)
    config = TrainConfig(learning_rate=3e-2, batch_size=4, epochs=3, checkpoint_every=0)
    result = train_lora(model, tokenizer, examples, tmp_path / "adapter", settings=LoraSettings(r=4, alpha=8),
                        config=config, max_length=256, progress=False)
    after = mean_loss(model, data, tokenizer.pad_token_id)
    assert result.steps == 6 and len(result.losses) == 6
    assert after < before - 0.1
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    fresh, _ = tiny_chat_model(seed=2)
    reloaded = PeftModel.from_pretrained(fresh, str(tmp_path / "adapter")).eval()
    assert abs(mean_loss(reloaded, data, tokenizer.pad_token_id) - after) < 1e-5


@pytest.mark.parametrize("kind", ["lc", "lc++"])
@pytest.mark.parametrize("with_loras", [True, False])
def test_calibration_training_lowers_the_loss(release, kind, with_loras):
    model, tokenizer = tiny_chat_model(seed=3)
    adapters = [random_adapter(model, seed=s, r=4, alpha=8) for s in (1, 2)] if with_loras else None
    examples = load_examples(release, ["sum+tr"], limit=16, seed=0)
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(examples)
    merged = mean_factors(adapters) if adapters else None
    start = apply_calibration(copy.deepcopy(model), None, merged)
    before = mean_loss(start, data, tokenizer.pad_token_id)
    config = TrainConfig(learning_rate=2e-2, batch_size=4, epochs=3, checkpoint_every=0)
    calibration, result = train_calibration(model, tokenizer, examples, kind, adapters, rank=4, config=config,
                                            max_length=256, progress=False)
    after = mean_loss(apply_calibration(copy.deepcopy(model), calibration, merged), data, tokenizer.pad_token_id)
    assert result.steps == 12
    assert after < before - 0.05, (before, after)
    # Only the calibration learned: the base model's weights are unchanged and unwrapped.
    fresh, _ = tiny_chat_model(seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values(),
                                                 strict=True))


# ---------------------------------------------------------------------------------------------- resume
class Interrupt(Exception):
    pass


def _peft_run(release, tmp_path, checkpoint_dir, stop_at=None):
    """Train a tiny LoRA with dropout through ``train``; optionally raise inside step ``stop_at``."""
    from peft import get_peft_model

    model, tokenizer = tiny_chat_model(seed=5)
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraSettings(r=4, alpha=8, dropout=0.3).peft_config())
    peft_model.train()
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(load_examples(release, ["sum+tr-es"]))
    params = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    calls = []

    def loss_fn(batch):
        calls.append(1)
        if stop_at is not None and len(calls) == stop_at:
            raise Interrupt
        return peft_model(**batch).loss

    config = TrainConfig(learning_rate=1e-2, batch_size=4, epochs=2, seed=11, checkpoint_every=2)
    result = train(params, loss_fn, data, tokenizer.pad_token_id, config, checkpoint_dir=checkpoint_dir,
                   progress=False)
    return {n: p.detach().clone() for n, p in params.items()}, result, len(calls)


def test_an_interrupted_run_resumes_to_the_same_parameters(release, tmp_path):
    straight, straight_result, _ = _peft_run(release, tmp_path, tmp_path / "a")
    with pytest.raises(Interrupt):
        _peft_run(release, tmp_path, tmp_path / "b", stop_at=4)  # killed inside step 4 (2nd epoch)
    resumed, result, calls = _peft_run(release, tmp_path, tmp_path / "b")
    assert result.resumed_from == 2  # last checkpoint after step 2
    assert straight_result.steps == 4 and calls == 2  # finished steps are not redone
    assert result.losses == straight_result.losses
    for name, value in straight.items():
        assert torch.equal(value, resumed[name]), name
    # Running again after completion trains nothing.
    _, again, calls = _peft_run(release, tmp_path, tmp_path / "b")
    assert calls == 0 and again.resumed_from == again.steps


def test_a_checkpoint_of_another_run_is_refused(release, tmp_path):
    _peft_run(release, tmp_path, tmp_path / "c")
    from peft import get_peft_model

    model, tokenizer = tiny_chat_model(seed=5)
    peft_model = get_peft_model(model, LoraSettings(r=4, alpha=8).peft_config())
    data, _ = ChatFormatter(tokenizer, 256).encode_examples(load_examples(release, ["sum"]))
    params = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    with pytest.raises(ConfigError, match="other settings"):
        train(params, lambda b: peft_model(**b).loss, data, tokenizer.pad_token_id,
              TrainConfig(learning_rate=1e-2), checkpoint_dir=tmp_path / "c", progress=False)
