"""Calibration trained over sub-tasks that compose different LoRAs (a family, the shared variant): every example
starts from the mean of its own sub-task's LoRAs, as ``compbench evaluate`` applies them."""

from __future__ import annotations

import pytest
import torch

from compbench.adapters.calibration import fold_calibration, init_calibration, mean_factors
from compbench.bundle import write_bundle
from compbench.errors import ConfigError
from compbench.training.bundles import (
    InputAdapter,
    load_calibrated_bundle,
    subtask_chains,
    train_calibration_bundle,
)
from compbench.training.calibrate import _Starts
from compbench.training.data import Example
from compbench.training.formatting import ChatFormatter, collate, user_message
from compbench.training.loop import TrainConfig
from tests.support.split_fixtures import write_split
from tests.support.tiny_chat import save_tiny_chat_model, tiny_chat_model
from tests.support.tiny_peft import random_adapter


def _examples() -> list[Example]:
    return [Example(f"{subtask}-{i}", subtask, f"Prompt of {subtask}:", f"input {i} of {subtask}", f"answer {i}")
            for subtask in ("sum+tr-es", "sum+tr-fr") for i in range(3)]


def test_each_row_runs_on_its_own_sub_tasks_merged_lora():
    model, tokenizer = tiny_chat_model(seed=2)
    sum_lora, es, fr = (random_adapter(model, seed=s, r=4, alpha=8) for s in (1, 2, 3))
    starts = {"sum+tr-es": mean_factors([sum_lora, es]), "sum+tr-fr": mean_factors([sum_lora, fr])}
    formatter = ChatFormatter(tokenizer)
    examples = _examples()
    encoded = [formatter.encode(user_message(e), e.reference) for e in examples]
    groups = {tuple(item.input_ids): e.subtask for item, e in zip(encoded, examples, strict=True)}
    order = [0, 3, 1, 4, 5, 2]  # sub-tasks interleaved in one batch
    batch = collate([encoded[i] for i in order], tokenizer.pad_token_id)
    calibration = init_calibration(model, "lc++", rank=2, merged=starts["sum+tr-es"], seed=0)
    with torch.no_grad():
        for param in calibration.parameters():
            param.add_(0.05)  # not the zero start: the calibration term counts too

    from compbench.adapters.calibration import apply_calibration, remove_calibration

    apply_calibration(model, calibration, starts["sum+tr-es"])
    with torch.no_grad():
        mixed = _Starts(model, starts).loss(batch, groups)
    remove_calibration(model)

    total = count = 0.0
    for subtask, start in starts.items():  # direct: ΔW folded into a fresh copy, one sub-task's rows at a time
        folded, _ = tiny_chat_model(seed=2)
        fold_calibration(folded, calibration, start)
        rows = [i for i, e in enumerate(examples) if e.subtask == subtask]
        part = collate([encoded[i] for i in rows], tokenizer.pad_token_id)
        tokens = int((part["labels"][:, 1:] != -100).sum())
        with torch.no_grad():
            total += float(folded(**part).loss) * tokens
        count += tokens
    assert float(mixed) == pytest.approx(total / count, rel=1e-5)

    with torch.no_grad():  # the bug this guards against: every row on the first sub-task's LoRAs
        apply_calibration(model, calibration, starts["sum+tr-es"])
        single = float(model(**batch).loss)
        remove_calibration(model)
    assert single != pytest.approx(total / count, rel=1e-3)


def _input(name: str, task: str | None, adapter) -> InputAdapter:
    return InputAdapter(name, task, adapter)


def test_subtask_chains():
    model, _ = tiny_chat_model(seed=2)
    loras = {task: random_adapter(model, seed=i, r=4, alpha=8) for i, task in enumerate(("sum", "tr-es", "tr-fr"))}
    named = {task: _input(task, task, lora) for task, lora in loras.items()}
    chains = subtask_chains(["sum+tr-es", "sum+tr-fr"], named)
    assert chains == {"sum+tr-es": [loras["sum"], loras["tr-es"]], "sum+tr-fr": [loras["sum"], loras["tr-fr"]]}
    pair = {task: named[task] for task in ("sum", "tr-es")}
    assert subtask_chains(["sum+tr-es"], pair) is None  # one sub-task: the mean of its two LoRAs, as before
    unnamed = {task: _input(task, None, lora) for task, lora in loras.items()}
    assert subtask_chains(["sum+tr-es", "sum+tr-fr"], unnamed) is None  # no tasks known: the mean of all
    with pytest.raises(ConfigError, match="no adapter given for tr-de"):
        subtask_chains(["sum+tr-de"], named)


def test_family_calibration_bundle_trains_and_loads_per_sub_task(tmp_path):
    model_dir = save_tiny_chat_model(tmp_path / "model", seed=1)
    for subtask in ("sum+tr-es", "sum+tr-fr"):
        write_split(tmp_path / "release", subtask, "train", n=4)
    model, _ = tiny_chat_model(seed=1)
    paths = []
    for i, task in enumerate(("sum", "tr-es", "tr-fr")):
        paths.append(write_bundle(tmp_path / task, base_model=str(model_dir), method="main-lora" if task == "sum"
                                  else "aux-lora", adapters={task: random_adapter(model, seed=i, r=4, alpha=8)},
                                  tasks={task: task}).path)
    config = TrainConfig(learning_rate=1e-3, batch_size=3, max_steps=2, checkpoint_every=0)
    bundle = train_calibration_bundle(str(model_dir), tmp_path / "release", ["sum+tr-es", "sum+tr-fr"], paths,
                                      tmp_path / "lc", kind="lc", examples=None, config=config, progress=False)
    assert bundle.manifest.parameters["start"] == "mean-factors of each sub-task's LoRAs"
    with pytest.raises(ConfigError, match="say which sub-task"):
        load_calibrated_bundle(bundle.path, tiny_chat_model(seed=1)[0])
    es = load_calibrated_bundle(bundle.path, tiny_chat_model(seed=1)[0], subtask="sum+tr-es")
    fr = load_calibrated_bundle(bundle.path, tiny_chat_model(seed=1)[0], subtask="sum+tr-fr")
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(es.state_dict()[name], fr.state_dict()[name])
    with pytest.raises(ConfigError, match="no one plain LoRA"):
        train_calibration_bundle(str(model_dir), tmp_path / "release", ["sum+tr-es", "sum+tr-fr"], paths,
                                 tmp_path / "lc2", kind="lc", examples=None, config=config, progress=False,
                                 export_lora=tmp_path / "export")
