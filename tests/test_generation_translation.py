"""Translators on a tiny OpusMT-layout Marian checkpoint: order, batching, failures, backends agree, errors."""

from __future__ import annotations

import os
import shutil
import sys
import warnings

import pytest

from compbench.errors import ConfigError, InputError
from compbench.generation.base import Generator, cache_key
from compbench.generation.batching import length_sorted_batches, map_length_sorted
from compbench.generation.ctranslate2_backend import CT2Translator
from compbench.generation.registry import DEFAULT_TRANSLATOR, make_translator, translator_source
from compbench.generation.translation import MarianTranslator
from tests.support.generation_text import ENGLISH
from tests.support.tiny_marian import DEFAULT_TRANSLATION, TRANSLATIONS, write_tiny_marian

# Inputs of very different lengths, in an order that length sorting changes, and what the designed
# checkpoint (tests/support/tiny_marian.py) translates each to; None: never ends (a loop).
CASES = [
    (ENGLISH[20], TRANSLATIONS["Hello"]),
    (ENGLISH[0], DEFAULT_TRANSLATION),
    (ENGLISH[21], TRANSLATIONS["Thanks"]),
    ("The chess club meets in room twelve.", None),
    (ENGLISH[24], DEFAULT_TRANSLATION),
    (ENGLISH[13], DEFAULT_TRANSLATION),
    (ENGLISH[22], TRANSLATIONS["dinner"]),
    (ENGLISH[7], TRANSLATIONS["train"]),
]
INPUTS = [text for text, _ in CASES]
EXPECTED = [translation for _, translation in CASES]


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory):
    return write_tiny_marian(tmp_path_factory.mktemp("opus") / "tiny-es")


@pytest.fixture(scope="module")
def translator(marian_dir):
    return MarianTranslator(marian_dir, "es", batch_size=3, max_length=16)


def test_length_sorted_batches_longest_first_and_stable():
    assert length_sorted_batches([3, 9, 1, 9, 5], 2) == [[1, 3], [4, 0], [2]]
    assert map_length_sorted(["a", "bbb", "cc"], [1, 3, 2], 2, lambda b: [s.upper() for s in b]) == ["A", "BBB", "CC"]


def test_batched_outputs_equal_one_at_a_time_in_input_order(translator):
    assert translator.generate(INPUTS) == EXPECTED
    assert [translator.generate([text])[0] for text in INPUTS] == EXPECTED


def test_generator_identity_and_settings(translator, marian_dir):
    assert isinstance(translator, Generator)
    assert translator.task == "tr-es"
    assert translator.model_id == "tiny-es"
    assert translator.revision.startswith("sha256:")
    assert translator.settings["num_beams"] == 4 and translator.settings["backend"] == "transformers"
    again = MarianTranslator(marian_dir, "es", batch_size=5, max_length=16)
    assert cache_key(again, "x") == cache_key(translator, "x")  # batch size is not part of the identity
    longer = MarianTranslator(marian_dir, "es", max_length=17)
    assert cache_key(longer, "x") != cache_key(translator, "x")
    kept = MarianTranslator(marian_dir, "es", max_length=16, keep_unfinished=True)
    assert cache_key(kept, "x") != cache_key(translator, "x")


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_unfinished_outputs_are_failures(marian_dir, tmp_path, backend):
    # The train translation is 9 pieces and </s>: finished at a limit of 10 tokens, unfinished at 9.
    text, translation = CASES[-1]
    options = {"cache_dir": tmp_path} if backend == "ctranslate2" else {}
    at = {n: make_translator(backend, marian_dir, "es", max_length=n, **options) for n in (9, 10)}
    assert at[10].generate([text]) == [translation]
    assert at[9].generate([text]) == [None]
    assert at[9].generate([]) == []
    kept = {n: make_translator(backend, marian_dir, "es", max_length=n, keep_unfinished=True, **options)
            for n in (8, 9)}
    assert kept[9].generate([text]) == [translation]  # every piece, but no </s>
    assert kept[8].generate([text]) == [translation.removesuffix(".")]


def test_our_calls_use_no_deprecated_arguments(marian_dir, tmp_path):
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("error", category=category, module=r"compbench\.")
        assert MarianTranslator(marian_dir, "es", max_length=16).generate(INPUTS[:3]) == EXPECTED[:3]
        assert CT2Translator(marian_dir, "es", max_length=16, cache_dir=tmp_path).generate(INPUTS[:3]) == EXPECTED[:3]


def test_ctranslate2_greedy_matches_transformers_greedy(marian_dir, tmp_path):
    ours = MarianTranslator(marian_dir, "es", num_beams=1, max_length=16).generate(INPUTS)
    ct2 = CT2Translator(marian_dir, "es", num_beams=1, max_length=16, compute_type="float32", cache_dir=tmp_path)
    assert ct2.generate(INPUTS) == ours == EXPECTED


def test_ctranslate2_beam_int8_order_and_cached_conversion(marian_dir, tmp_path):
    first = CT2Translator(marian_dir, "es", batch_size=3, max_length=16, cache_dir=tmp_path)
    assert first.settings["compute_type"] == "int8" and first.revision.startswith("sha256:")
    assert not any(tmp_path.iterdir())  # nothing converted or loaded before the first generation
    assert first.generate(INPUTS) == EXPECTED
    assert [first.generate([text])[0] for text in INPUTS] == EXPECTED
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


def test_skipping_the_cross_attention_reorder_changes_no_output(marian_dir, monkeypatch):
    """Our cache reorders the beams' self-attention states and never the cross-attention ones; same outputs."""
    from transformers import DynamicCache

    from compbench.generation import translation

    made, reordered = [], []
    make_cache = translation._beam_search_cache

    def recording_cache():
        made.append(make_cache())
        return made[-1]

    reorder = DynamicCache.reorder_cache

    def recording_reorder(cache, beam_idx):
        reordered.append((cache, beam_idx.tolist()))
        return reorder(cache, beam_idx)

    monkeypatch.setattr(translation, "_beam_search_cache", recording_cache)
    monkeypatch.setattr(DynamicCache, "reorder_cache", recording_reorder)
    fast = MarianTranslator(marian_dir, "es", batch_size=4, max_length=16)
    assert fast.generate(INPUTS) == EXPECTED
    self_attention = [c.self_attention_cache for c in made]
    assert len(made) == 2 and reordered  # one cache per batch
    assert all(any(cache is own for own in self_attention) for cache, _ in reordered)
    assert any(order != list(range(len(order))) for _, order in reordered)  # beams really moved
    steps = len(reordered)

    reordered.clear()
    stock = MarianTranslator(marian_dir, "es", batch_size=4, max_length=16, skip_cross_attention_reorder=False)
    assert stock.generate(INPUTS) == EXPECTED
    assert len(made) == 2 and len(reordered) == 2 * steps  # transformers' own cache reorders both every step


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("COMPBENCH_NETWORK_TESTS") != "1", reason="needs the Hugging Face Hub")
def test_real_opus_mt_through_ctranslate2(tmp_path):
    translator = make_translator("ctranslate2", None, "fr", max_length=64, cache_dir=tmp_path)
    (output,) = translator.generate(["The two friends meet at the station on Friday morning."])
    assert output and translator.settings["compute_type"] == "int8"
