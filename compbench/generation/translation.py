"""English -> Spanish/French/German references with OpusMT (Marian) through transformers.

transformers 5 has no translation pipeline: this calls ``MarianMTModel.generate`` directly, beam 4, on
length-sorted batches (inputs sorted by token length, outputs put back in input order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError
from compbench.generation.batching import check_options, map_length_sorted, torch_dtype
from compbench.generation.checkpoints import Checkpoint, require_safetensors, resolve_checkpoint
from compbench.tasks import LANGUAGES

NUM_BEAMS = 4


def translation_task(lang: str) -> str:
    """The auxiliary task id for a target language (``es`` -> ``tr-es``); unknown languages are an error."""
    if lang not in LANGUAGES:
        raise ConfigError(f"unknown target language {lang!r} (choose one of {', '.join(LANGUAGES)})")
    return f"tr-{lang}"


def punctuation_normalizer() -> str:
    """Which punctuation normalizer the Marian tokenizer applies: ``sacremoses-<version>`` or ``none``.

    MarianTokenizer normalizes punctuation with sacremoses when it is installed and silently skips it
    otherwise, which changes tokens (and outputs); so it is part of every translator's settings.
    """
    try:
        from importlib.metadata import PackageNotFoundError, version

        return f"sacremoses-{version('sacremoses')}"
    except PackageNotFoundError:
        return "none"


def load_marian_tokenizer(path: Path):
    """The checkpoint's Marian sentencepiece tokenizer (without the warning when sacremoses is absent)."""
    import warnings

    from transformers import MarianTokenizer

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
        return MarianTokenizer.from_pretrained(path)


def _beam_search_cache():
    """An encoder-decoder cache that skips reordering the cross-attention keys/values during beam search.

    Beam search only reorders beams within each input, and all beams of one input hold the same
    cross-attention keys/values (computed from the same encoder output), so reordering them copies
    identical rows: on CPU that copy was most of the batched path's time. Outputs are unchanged (tested).
    """
    from transformers import DynamicCache, EncoderDecoderCache

    class SelfAttentionReorderingCache(EncoderDecoderCache):
        def reorder_cache(self, beam_idx):
            self.self_attention_cache.reorder_cache(beam_idx)

    return SelfAttentionReorderingCache(DynamicCache(), DynamicCache())


def _cache_argument(model) -> str:
    """The keyword ``generate`` takes a cache under: the one the model's ``forward`` names.

    transformers 5.x renamed ``past_key_values`` to ``cache`` (the old name still works there, with a
    FutureWarning); older versions know only ``past_key_values``.
    """
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def translator_settings(translator: Any, **precision: object) -> dict[str, object]:
    """The output-changing settings every translation backend records (and the cache key includes)."""
    return {
        "backend": translator.backend,
        "num_beams": translator.num_beams,
        "max_length": translator.max_length,
        **precision,
        "keep_unfinished": translator.keep_unfinished,
        "punctuation_normalizer": punctuation_normalizer(),
        **({"generation_options": translator.generation_options} if translator.generation_options else {}),
    }


class MarianTranslator:
    """OpusMT translation through transformers' ``MarianMTModel.generate`` (a :class:`Generator`).

    ``model`` is a Hub id (fetched at ``revision``, safetensors only) or a local checkpoint directory.
    An output that has not ended (no ``</s>``) within ``max_length`` new tokens is a failure (``None``)
    unless ``keep_unfinished`` is set. ``generation_options`` are extra ``generate`` keyword arguments
    (recorded in :attr:`settings`, so they are part of the cache key). ``skip_cross_attention_reorder``
    (a speed-up with identical outputs, see :func:`_beam_search_cache`) can be turned off for comparison.
    """

    backend = "transformers"

    def __init__(
        self,
        model: str | Path,
        lang: str,
        *,
        revision: str | None = None,
        model_id: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        batch_size: int = 32,
        max_length: int = 256,
        num_beams: int = NUM_BEAMS,
        keep_unfinished: bool = False,
        generation_options: Mapping[str, Any] | None = None,
        skip_cross_attention_reorder: bool = True,
    ):
        self.task = translation_task(lang)
        check_options(batch_size=batch_size, max_length=max_length, dtype=dtype, device=device)
        checkpoint: Checkpoint = resolve_checkpoint(model, revision, model_id=model_id)
        require_safetensors(checkpoint.path)
        self.model_id, self.revision = checkpoint.model_id, checkpoint.revision
        self.device, self.dtype, self.batch_size, self.max_length = device, dtype, batch_size, max_length
        self.num_beams, self.keep_unfinished = num_beams, keep_unfinished
        self.generation_options = dict(generation_options or {})
        self.skip_cross_attention_reorder = skip_cross_attention_reorder
        self._path = checkpoint.path

    # Weights load on first use: a fully cached rebuild or ``compbench build --plan`` never loads them.
    @cached_property
    def tokenizer(self):
        return load_marian_tokenizer(self._path)

    @cached_property
    def model(self):
        from transformers import MarianMTModel

        model = MarianMTModel.from_pretrained(self._path, dtype=torch_dtype(self.dtype), use_safetensors=True)
        model = model.to(self.device).eval()
        # The decoding settings: beam search, a cap on new tokens, and no forced </s> at the cap (OpusMT's
        # config forces one), so that an output that did not end is recognisable as unfinished. Set on the
        # model's own config because generate() fills unset (None) values of a passed config from it.
        model.generation_config.update(
            num_beams=self.num_beams, do_sample=False, max_length=None, max_new_tokens=self.max_length,
            forced_eos_token_id=None,
        )
        return model

    @property
    def settings(self) -> dict[str, object]:
        return translator_settings(self, dtype=self.dtype)

    def generate(self, texts: Sequence[str]) -> list[str | None]:
        """Translate ``texts``; one output per input, in input order (``None`` = unfinished)."""
        texts = list(texts)
        if not texts:
            return []
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=True)["input_ids"]]
        return map_length_sorted(texts, lengths, self.batch_size, self._translate_batch)

    def _translate_batch(self, batch: list[str]) -> list[str | None]:
        import torch

        encoded = self.tokenizer(batch, return_tensors="pt", padding=True, truncation=True).to(self.device)
        cache = {_cache_argument(self.model): _beam_search_cache()} if self.skip_cross_attention_reorder else {}
        with torch.inference_mode():
            output = self.model.generate(**encoded, **cache, **self.generation_options)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        results: list[str | None] = []
        for sequence in output.tolist():
            generated = sequence[1:]  # drop the decoder start token (<pad>)
            if not self.keep_unfinished and not eos_ids.intersection(generated):
                results.append(None)
                continue
            results.append(self.tokenizer.decode(generated, skip_special_tokens=True).strip() or None)
        return results
