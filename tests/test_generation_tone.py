"""Tone rewriting end to end on a tiny GPT-NeoX + LoRA, the ### END cut, and the safe adapter conversion."""

from __future__ import annotations

import shutil
import warnings

import pytest

from compbench.errors import ConfigError, InputError
from compbench.generation.base import Generator
from compbench.generation.checkpoints import convert_pickled_weights
from compbench.generation.registry import (
    DEFAULT_TONE_ADAPTER,
    DEFAULT_TONE_BASE,
    make_tone_rewriter,
    tone_model_sources,
)
from compbench.generation.tone import cut_at_end_marker, tone_prompt
from tests.support.generation_text import ENGLISH
from tests.support.tiny_causal_lm import (
    ANSWERS,
    DEFAULT_ANSWER,
    END_TEXT,
    pickle_adapter,
    write_tiny_tone_model,
    write_unsafe_pickle,
)

# Inputs and what the designed tone model (tests/support/tiny_causal_lm.py) writes for each before ### END.
SOURCES = ["hey send me the file", "the meeting is moved to monday"]
DESIGNED = [ANSWERS["file"], ANSWERS["monday"]]


@pytest.fixture(scope="module")
def tone_dir(tmp_path_factory):
    return write_tiny_tone_model(tmp_path_factory.mktemp("tone") / "tiny-tone")


@pytest.fixture(scope="module")
def rewriter(tone_dir):
    return make_tone_rewriter(tone_dir, "professional", batch_size=2, max_length=24)


def test_prompts_are_the_adapters_training_format():
    assert tone_prompt("witty", "I am late.") == (
        "### Instruction:\nChange the tone of the following Input sentence to witty.\n\n"
        "### Input:\nI am late.\n\n### Response:\n"
    )
    assert tone_prompt("paraphrase", "I am late.") == (
        "### Instruction:\nGenerate a paraphrase for the following Input sentence.\n\n"
        "### Input:\nI am late.\n\n### Response:\n"
    )
    with pytest.raises(ConfigError, match="unknown tone 'angry'"):
        tone_prompt("angry", "x")


@pytest.mark.parametrize(
    ("generated", "expected"),
    [
        ("Kindly reply.\n\n### END", "Kindly reply."),
        ("Kindly reply.\n\n### END\n\n### Instruction:\nmore", "Kindly reply."),
        ("Kindly reply. And then some more words", None),
        ("\n\n### END", None),
        ("### EN", None),
    ],
)
def test_cut_at_end_marker(generated, expected):
    assert cut_at_end_marker(generated) == expected


def test_real_run_cuts_at_end_and_keeps_input_order(rewriter):
    assert isinstance(rewriter, Generator) and rewriter.task == "tone-professional"
    # Different prompt lengths, batch size 2: left padding and length sorting are both exercised.
    inputs = [SOURCES[1], ENGLISH[0], SOURCES[0], ENGLISH[20], "we walked to the harbour"]
    expected = [DESIGNED[1], DEFAULT_ANSWER, DESIGNED[0], DEFAULT_ANSWER, None]  # the harbour one never ends
    assert rewriter.generate(inputs) == expected
    assert [rewriter.generate([text])[0] for text in inputs] == expected


def test_output_that_never_reaches_end_is_a_failure(tone_dir, rewriter):
    # "Could you kindly share the document?" and "\n\n### END": finished when the limit covers every token.
    needed = len(rewriter.tokenizer(ANSWERS["file"] + END_TEXT)["input_ids"])
    exact = make_tone_rewriter(tone_dir, "professional", max_length=needed)
    short = make_tone_rewriter(tone_dir, "professional", max_length=needed - 1)  # stops at "\n\n###"
    assert exact.generate([SOURCES[0]]) == [ANSWERS["file"]]
    assert short.generate([SOURCES[0]]) == [None]
    assert make_tone_rewriter(tone_dir, "professional", max_length=4).generate(SOURCES) == [None, None]


def test_our_calls_use_no_deprecated_arguments(tone_dir):
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("error", category=category, module=r"compbench\.")
        assert make_tone_rewriter(tone_dir, "casual", max_length=24).generate(SOURCES) == DESIGNED


def test_identity_records_base_and_adapter(rewriter, tone_dir):
    assert rewriter.model_id == "base+adapter"
    base_revision, adapter_revision = rewriter.revision.split("+")
    assert base_revision.startswith("sha256:") and adapter_revision.startswith("sha256:")
    assert rewriter.settings["decoding"] == "greedy" and rewriter.settings["end_marker"] == "### END"
    witty = make_tone_rewriter(tone_dir, "witty", max_length=24)
    assert witty.settings["prompt"] != rewriter.settings["prompt"]


def test_tone_model_sources():
    assert tone_model_sources(None) == (DEFAULT_TONE_BASE, DEFAULT_TONE_ADAPTER)
    assert tone_model_sources("me/my-tone-lora") == (DEFAULT_TONE_BASE, "me/my-tone-lora")
    assert tone_model_sources("me/my-tone-lora", base="/models/base") == ("/models/base", "me/my-tone-lora")


def test_pickled_adapter_is_refused_then_converted_safely(tone_dir, tmp_path):
    copy = shutil.copytree(tone_dir, tmp_path / "tone")
    pickle_adapter(copy / "adapter")
    with pytest.raises(InputError, match="only pickled \\(adapter_model.bin\\).*convert_pickled_weights"):
        make_tone_rewriter(copy, "professional", max_length=24)
    assert convert_pickled_weights(copy / "adapter") == [copy / "adapter" / "adapter_model.safetensors"]
    assert convert_pickled_weights(copy / "adapter") == []  # once
    converted = make_tone_rewriter(copy, "professional", max_length=24)
    assert converted.generate(SOURCES) == DESIGNED


def test_conversion_refuses_arbitrary_objects(tmp_path, capsys):
    write_unsafe_pickle(tmp_path / "adapter_model.bin")
    with pytest.raises(InputError, match="refusing to load"):
        convert_pickled_weights(tmp_path)
    assert "unpickled arbitrary code" not in capsys.readouterr().out
    assert not (tmp_path / "adapter_model.safetensors").exists()


def test_conversion_refuses_non_state_dicts(tmp_path):
    import torch

    torch.save([torch.zeros(2)], tmp_path / "adapter_model.bin")
    with pytest.raises(InputError, match="expected a flat mapping of tensor names to tensors"):
        convert_pickled_weights(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="nothing to convert"):
        convert_pickled_weights(tmp_path / "empty")


def test_missing_adapter_config_is_a_clear_error(tone_dir, tmp_path):
    copy = shutil.copytree(tone_dir, tmp_path / "tone")
    (copy / "adapter" / "adapter_config.json").unlink()
    with pytest.raises(InputError, match="adapter_config.json missing"):
        make_tone_rewriter(copy, "casual")


SHA = "89abcdef0123456789abcdef0123456789abcdef"


def _fake_hub(monkeypatch, tmp_path, repos):
    """Serve ``repos`` (repo id -> directory) like ``snapshot_download`` does, honouring allow_patterns."""
    import fnmatch

    import huggingface_hub


    def snapshot_download(repo_id, *, revision=None, allow_patterns=None):
        snapshot = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / SHA
        snapshot.mkdir(parents=True, exist_ok=True)
        for file in repos[repo_id].iterdir():
            if any(fnmatch.fnmatch(file.name, pattern) for pattern in allow_patterns):
                shutil.copyfile(file, snapshot / file.name)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setenv("COMPBENCH_CACHE_DIR", str(tmp_path / "cache"))


def test_hub_adapter_with_only_a_pickle_is_converted_once(tone_dir, tmp_path, monkeypatch):
    remote = shutil.copytree(tone_dir / "adapter", tmp_path / "remote")
    pickle_adapter(remote)
    _fake_hub(monkeypatch, tmp_path, {"llm-toys/tone-lora": remote})
    made = make_tone_rewriter("llm-toys/tone-lora", "professional", base=tone_dir / "base", max_length=24)
    assert made.model_id == "base+llm-toys/tone-lora" and made.revision.endswith("+" + SHA)
    converted = tmp_path / "cache" / "converted" / f"llm-toys--tone-lora--{SHA}"
    assert sorted(p.name for p in converted.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert made.generate(SOURCES) == DESIGNED


def test_hub_repo_with_unsafe_pickle_is_refused(tone_dir, tmp_path, monkeypatch, capsys):
    remote = shutil.copytree(tone_dir / "adapter", tmp_path / "remote")
    (remote / "adapter_model.safetensors").unlink()
    write_unsafe_pickle(remote / "adapter_model.bin")
    _fake_hub(monkeypatch, tmp_path, {"llm-toys/tone-lora": remote})
    with pytest.raises(InputError, match="refusing to load"):
        make_tone_rewriter("llm-toys/tone-lora", "casual", base=tone_dir / "base")
    assert "unpickled arbitrary code" not in capsys.readouterr().out
    assert not (tmp_path / "cache" / "converted" / f"llm-toys--tone-lora--{SHA}").exists()
