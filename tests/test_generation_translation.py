"""Translators on a tiny OpusMT-layout Marian checkpoint: order, batching, failures, backends agree, errors."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from compbench.errors import ConfigError, InputError
from compbench.generation.base import Generator, cache_key
from compbench.generation.batching import length_sorted_batches, map_length_sorted
from compbench.generation.ctranslate2_backend import CT2Translator
from compbench.generation.registry import DEFAULT_TRANSLATOR, make_translator, translator_source
from compbench.generation.translation import MarianTranslator
from tests.support.generation_text import ENGLISH
from tests.support.tiny_marian import write_marian_checkpoint

# Inputs of very different lengths, in an order that length sorting changes.
INPUTS = [ENGLISH[20], ENGLISH[0], ENGLISH[21], ENGLISH[3], ENGLISH[24], ENGLISH[13], ENGLISH[22], ENGLISH[7]]


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory):
    # init_std 1.0 makes outputs depend on the input; the </s> bias makes some outputs end early.
    return write_marian_checkpoint(tmp_path_factory.mktemp("opus") / "tiny-es", init_std=1.0, eos_bias=10.0)


@pytest.fixture(scope="module")
def translator(marian_dir):
    return MarianTranslator(marian_dir, "es", batch_size=3, max_length=12, keep_unfinished=True)


def test_length_sorted_batches_longest_first_and_stable():
    assert length_sorted_batches([3, 9, 1, 9, 5], 2) == [[1, 3], [4, 0], [2]]
    assert map_length_sorted(["a", "bbb", "cc"], [1, 3, 2], 2, lambda b: [s.upper() for s in b]) == ["A", "BBB", "CC"]


def test_batched_outputs_equal_one_at_a_time_in_input_order(translator):
    batched = translator.generate(INPUTS)
    single = [translator.generate([text])[0] for text in INPUTS]
    assert batched == single
    assert len({o for o in batched if o is not None}) >= 3  # distinct outputs, so a mix-up would show


def test_generator_identity_and_settings(translator, marian_dir):
    assert isinstance(translator, Generator)
    assert translator.task == "tr-es"
    assert translator.model_id == "tiny-es"
    assert translator.revision.startswith("sha256:")
    assert translator.settings["num_beams"] == 4 and translator.settings["backend"] == "transformers"
    again = MarianTranslator(marian_dir, "es", batch_size=3, max_length=12, keep_unfinished=True)
    assert cache_key(again, "x") == cache_key(translator, "x")  # batch size is not part of the identity
    longer = MarianTranslator(marian_dir, "es", max_length=13, keep_unfinished=True)
    assert cache_key(longer, "x") != cache_key(translator, "x")


def test_unfinished_outputs_are_failures(marian_dir, translator):
    strict = MarianTranslator(marian_dir, "es", batch_size=3, max_length=12)
    loose_out, strict_out = translator.generate(INPUTS), strict.generate(INPUTS)
    assert all(s is None or s == lo for s, lo in zip(strict_out, loose_out, strict=True))
    assert any(s is None and lo is not None for s, lo in zip(strict_out, loose_out, strict=True))
    assert any(s is not None for s in strict_out)
    assert strict.generate([]) == []


def test_ctranslate2_greedy_matches_transformers_greedy(marian_dir, tmp_path):
    ours = MarianTranslator(marian_dir, "es", num_beams=1, max_length=12, keep_unfinished=True).generate(INPUTS)
    ct2 = CT2Translator(
        marian_dir, "es", num_beams=1, max_length=12, keep_unfinished=True, compute_type="float32",
        cache_dir=tmp_path, generation_options={"min_decoding_length": 0},
    )
    assert ct2.generate(INPUTS) == ours


def test_ctranslate2_beam_int8_order_and_cached_conversion(marian_dir, tmp_path):
    first = CT2Translator(marian_dir, "es", batch_size=3, max_length=12, keep_unfinished=True, cache_dir=tmp_path)
    assert first.settings["compute_type"] == "int8" and first.revision.startswith("sha256:")
    assert not any(tmp_path.iterdir())  # nothing converted or loaded before the first generation
    batched = first.generate(INPUTS)
    assert batched == [first.generate([text])[0] for text in INPUTS]
    assert all(isinstance(o, str) and o for o in batched)
    (converted,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    stamp = (converted / "model.bin").stat().st_mtime_ns
    assert CT2Translator(marian_dir, "es", max_length=12, cache_dir=tmp_path).translator is not None
    assert (converted / "model.bin").stat().st_mtime_ns == stamp  # reused, not converted again
    assert CT2Translator(marian_dir, "es", max_length=12, cache_dir=tmp_path, compute_type="float32").translator
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 2  # keyed by quantization


def test_ctranslate2_missing_is_a_clear_error(marian_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)
    with pytest.raises(ConfigError, match=r"pip install 'compbench\[ctranslate2\]'"):
        CT2Translator(marian_dir, "es")


def test_registry_resolves_templates_and_mappings(marian_dir):
    assert translator_source(None, "fr") == DEFAULT_TRANSLATOR.format(lang="fr") == "Helsinki-NLP/opus-mt-en-fr"
    assert translator_source("/m/opus-{lang}", "de") == "/m/opus-de"
    assert translator_source({"es": "/a", "fr": "/b"}, "fr") == "/b"
    with pytest.raises(ConfigError, match="no translator given for language 'de'"):
        translator_source({"es": "/a"}, "de")
    template = str(marian_dir).replace("tiny-es", "tiny-{lang}")
    made = make_translator("transformers", template, "es", batch_size=3, max_length=12, keep_unfinished=True)
    assert made.model_id == "tiny-es" and isinstance(made, MarianTranslator)
    ct2 = make_translator("ctranslate2", template, "es", max_length=12, cache_dir=marian_dir.parent / "ct2")
    assert isinstance(ct2, CT2Translator)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lang": "it"}, ConfigError, "unknown target language 'it'"),
        ({"dtype": "float8"}, ConfigError, "unknown dtype"),
        ({"batch_size": 0}, ConfigError, "batch size must be a positive integer"),
        ({"max_length": -1}, ConfigError, "max length must be a positive integer"),
        ({"device": "tpu-ish"}, ConfigError, "unknown device"),
        ({"backend": "onnx"}, ConfigError, "unknown translation backend 'onnx'"),
        ({"model": "./missing/opus"}, InputError, "model directory not found"),
    ],
)
def test_bad_options_are_clear_errors(marian_dir, kwargs, error, message):
    options = {"backend": "transformers", "model": str(marian_dir), "lang": "es", **kwargs}
    with pytest.raises(error, match=message):
        make_translator(options.pop("backend"), options.pop("model"), options.pop("lang"), **options)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(marian_dir):
    with pytest.raises(ConfigError, match="no usable CUDA GPU"):
        make_translator("transformers", marian_dir, "es", device="cuda")
    with pytest.raises(ConfigError, match="CTranslate2 sees no CUDA GPU"):
        make_translator("ctranslate2", marian_dir, "es", device="cuda")
    with pytest.raises(ConfigError, match="runs on cpu or cuda"):
        make_translator("ctranslate2", marian_dir, "es", device="mps")


def test_pickled_only_checkpoint_is_refused(marian_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    copy = shutil.copytree(marian_dir, tmp_path / "pickled")
    torch.save(load_file(copy / "model.safetensors"), copy / "pytorch_model.bin")
    (copy / "model.safetensors").unlink()
    with pytest.raises(InputError, match="only pickled .*convert_pickled_weights"):
        MarianTranslator(copy, "es")


def test_hub_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="cannot reach the Hugging Face Hub for model Helsinki-NLP/opus-mt-en-es"):
        make_translator("transformers", None, "es")


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("COMPBENCH_NETWORK_TESTS") != "1", reason="needs the Hugging Face Hub")
def test_real_opus_mt_translates_to_spanish():
    translator = make_translator("transformers", None, "es", max_length=64)
    assert len(translator.revision) == 40
    (output,) = translator.generate(["The two friends meet at the station on Friday morning."])
    assert output and output != "The two friends meet at the station on Friday morning."


def test_skipping_the_cross_attention_reorder_changes_no_output(marian_dir):
    fast = MarianTranslator(marian_dir, "es", batch_size=4, max_length=12, keep_unfinished=True)
    stock = MarianTranslator(
        marian_dir, "es", batch_size=4, max_length=12, keep_unfinished=True, skip_cross_attention_reorder=False
    )
    assert fast.generate(ENGLISH) == stock.generate(ENGLISH)


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("COMPBENCH_NETWORK_TESTS") != "1", reason="needs the Hugging Face Hub")
def test_real_opus_mt_through_ctranslate2(tmp_path):
    translator = make_translator("ctranslate2", None, "fr", max_length=64, cache_dir=tmp_path)
    (output,) = translator.generate(["The two friends meet at the station on Friday morning."])
    assert output and translator.settings["compute_type"] == "int8"
