"""OpusMT translation through CTranslate2 (optional extra: ``pip install 'compbench[ctranslate2]'``).

The local Marian checkpoint is converted once with CTranslate2's transformers converter (offline) into a
cache directory keyed by the checkpoint's revision (its commit or content hash) and the quantization; then
``Translator.translate_batch`` runs beam 4 on length-sorted batches. Tokenization is the Marian
sentencepiece tokenizer of the checkpoint itself, so both backends see the same subword tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError
from compbench.fileio import cache_root, make_staging_dir
from compbench.generation.batching import check_options, map_length_sorted
from compbench.generation.checkpoints import Checkpoint, require_safetensors, resolve_checkpoint
from compbench.generation.translation import (
    NUM_BEAMS,
    load_marian_tokenizer,
    translation_task,
    translator_settings,
)


def import_ctranslate2():
    """Import ``ctranslate2`` or explain how to install it."""
    try:
        import ctranslate2
    except ImportError:
        raise ConfigError(
            "the ctranslate2 backend needs the optional dependency: pip install 'compbench[ctranslate2]'"
        ) from None
    return ctranslate2


#: CTranslate2's compute types that name their numerics (``auto`` / ``default`` depend on the hardware, so they
#: cannot be part of a cache key: pick one of these).
COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")


def default_compute_type(device: str, dtype: str = "float32") -> str:
    """int8 on CPU; on GPU int8 weights with float16 compute, or the requested half-precision dtype."""
    if device.startswith("cpu"):
        return "int8"
    return dtype if dtype in ("float16", "bfloat16") else "int8_float16"


def check_compute_type(compute_type: str) -> str:
    """``compute_type`` if CTranslate2 has it and it names its numerics; else :class:`ConfigError`."""
    if compute_type not in COMPUTE_TYPES:
        raise ConfigError(f"unknown CTranslate2 compute type {compute_type!r} (choose one of {', '.join(COMPUTE_TYPES)})")
    return compute_type


def default_threads() -> int:
    """``$OMP_NUM_THREADS`` when set (Ray sets it to each actor's CPUs), else 0: CTranslate2's default (4)."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else 0


def convert_marian_checkpoint(checkpoint: Checkpoint, quantization: str, cache_dir: str | Path | None = None) -> Path:
    """Convert ``checkpoint`` to CTranslate2 format once; return the converted directory (cached)."""
    ctranslate2 = import_ctranslate2()
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_root() / "ctranslate2"
    key = hashlib.sha256(f"{checkpoint.model_id}\n{checkpoint.revision}\n{quantization}".encode()).hexdigest()[:24]
    target = cache_dir / f"{checkpoint.path.name}-{quantization}-{key}"
    if (target / "model.bin").is_file():
        return target

    class SafetensorsConverter(ctranslate2.converters.TransformersConverter):
        def load_model(self, model_class, model_name_or_path, **kwargs):
            return model_class.from_pretrained(model_name_or_path, use_safetensors=True, **kwargs)

    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = make_staging_dir(target)
    try:
        SafetensorsConverter(str(checkpoint.path)).convert(str(staging / "model"), quantization=quantization)
        with contextlib.suppress(OSError):  # another process finished the same conversion first
            os.replace(staging / "model", target)
    except (ValueError, OSError, RuntimeError) as exc:
        raise ConfigError(f"CTranslate2 could not convert {checkpoint.path}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class CT2Translator:
    """OpusMT translation through CTranslate2 (a :class:`Generator`); same identity as the checkpoint.

    ``compute_type`` defaults to int8 on CPU (see :func:`default_compute_type`); a type the device does not
    support is an error when the model loads (CTranslate2 would silently run another one, which the cache key
    would not say). ``threads`` is the number of CPU threads for one translation (default
    :func:`default_threads`; 0 = CTranslate2's default). An output that has not ended
    within ``max_length`` tokens is a failure (``None``) unless ``keep_unfinished`` is set.
    ``generation_options`` are extra ``translate_batch`` keyword arguments (recorded in :attr:`settings`).
    """

    backend = "ctranslate2"

    def __init__(
        self,
        model: str | Path,
        lang: str,
        *,
        revision: str | None = None,
        model_id: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        compute_type: str | None = None,
        batch_size: int = 32,
        max_length: int = 256,
        num_beams: int = NUM_BEAMS,
        threads: int | None = None,
        cache_dir: str | Path | None = None,
        keep_unfinished: bool = False,
        generation_options: Mapping[str, Any] | None = None,
    ):
        ctranslate2 = import_ctranslate2()
        self.task = translation_task(lang)
        check_options(batch_size=batch_size, max_length=max_length, dtype=dtype)
        device_type, _, index = device.partition(":")
        if device_type not in ("cpu", "cuda") or (index and not index.isdigit()):
            raise ConfigError(f"the ctranslate2 backend runs on cpu or cuda[:N], not {device!r}")
        if device_type == "cuda" and ctranslate2.get_cuda_device_count() == 0:
            raise ConfigError(f"device {device!r} asked for, but CTranslate2 sees no CUDA GPU")
        self.compute_type = check_compute_type(compute_type or default_compute_type(device_type, dtype))
        checkpoint = resolve_checkpoint(model, revision, model_id=model_id)
        require_safetensors(checkpoint.path)
        self.model_id, self.revision = checkpoint.model_id, checkpoint.revision
        self.batch_size, self.max_length, self.num_beams = batch_size, max_length, num_beams
        self.keep_unfinished = keep_unfinished
        self.generation_options = dict(generation_options or {})
        self._checkpoint, self._cache_dir, self._device = checkpoint, cache_dir, device
        self._threads = default_threads() if threads is None else threads

    # Conversion and loading happen on first use: a fully cached rebuild or ``--plan`` never loads the model.
    @cached_property
    def tokenizer(self):
        return load_marian_tokenizer(self._checkpoint.path)

    @cached_property
    def translator(self):
        ctranslate2 = import_ctranslate2()
        device_type, _, index = self._device.partition(":")
        supported = ctranslate2.get_supported_compute_types(device_type, int(index or 0))
        if self.compute_type not in supported:
            raise ConfigError(f"CTranslate2 cannot run compute type {self.compute_type!r} on {self._device} "
                              f"(supported here: {', '.join(sorted(supported))}); choose one with --compute-type")
        converted = convert_marian_checkpoint(self._checkpoint, self.compute_type, self._cache_dir)
        try:
            return ctranslate2.Translator(
                str(converted),
                device=device_type,
                device_index=int(index or 0),
                compute_type=self.compute_type,
                intra_threads=self._threads,
            )
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"CTranslate2 cannot load {converted} on {self._device}: {exc}") from None

    @property
    def settings(self) -> dict[str, object]:
        return translator_settings(self, compute_type=self.compute_type)

    def generate(self, texts: Sequence[str]) -> list[str | None]:
        """Translate ``texts``; one output per input, in input order (``None`` = unfinished)."""
        texts = list(texts)
        if not texts:
            return []
        limit = self.tokenizer.model_max_length
        tokens = [
            self.tokenizer.convert_ids_to_tokens(ids)
            for ids in self.tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
        ]
        return map_length_sorted(tokens, [len(t) for t in tokens], self.batch_size, self._translate_batch)

    def _translate_batch(self, batch: list[list[str]]) -> list[str | None]:
        results = self.translator.translate_batch(
            batch,
            beam_size=self.num_beams,
            max_batch_size=self.batch_size,
            max_decoding_length=self.max_length,
            return_end_token=True,
            max_input_length=0,
            **self.generation_options,
        )
        outputs: list[str | None] = []
        for result in results:
            hypothesis = result.hypotheses[0]
            finished = bool(hypothesis) and hypothesis[-1] == self.tokenizer.eos_token
            if not finished and not self.keep_unfinished:
                outputs.append(None)
                continue
            ids = self.tokenizer.convert_tokens_to_ids(hypothesis)
            outputs.append(self.tokenizer.decode(ids, skip_special_tokens=True).strip() or None)
        return outputs
