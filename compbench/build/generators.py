"""The default generator provider: OpusMT translators and the tone model (or the demo world's rules), made by
``compbench.generation.registry``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from builders.recipes import DEFAULT_TONE_MODEL, DEFAULT_TRANSLATOR
from compbench.errors import ConfigError
from compbench.extras import require_extra
from compbench.generation.base import Generator

SYNTHETIC_WORLD = "synthetic-world:0"


def model_provider(*, backend: str = "transformers", translator: str | Path | Mapping[str, str] | None = None,
                   tone_model: str | Path | None = None, device: str = "cpu", dtype: str = "float32",
                   batch_size: int | None = None, max_length: int | None = None):
    """A provider making the generator of ``tr-xx`` / ``tone-xx`` tasks from the recipes' models or overrides.

    ``translator``: a Hub id or directory, a template with ``{lang}``, or a mapping language -> id/directory;
    ``tone_model``: the LoRA adapter (Hub id or directory) or a directory holding ``base/`` and ``adapter/``.
    ``backend="synthetic"``: both are the demo world's rules, ``translator`` / ``tone_model`` its world id
    (``synthetic-world:SEED``, default seed 0).
    ``batch_size`` / ``max_length`` left at None use each generator's own default.
    """
    sizes = {key: value for key, value in (("batch_size", batch_size), ("max_length", max_length))
             if value is not None}

    synthetic = backend == "synthetic"

    def provide(task: str) -> Generator:
        kind, _, variant = task.partition("-")
        if not synthetic:  # the synthetic world's rules need no model, hence no extra
            require_extra("ctranslate2" if kind == "tr" and backend == "ctranslate2" else "build",
                          f"generating {task} references")
        from compbench.generation.registry import make_tone_rewriter, make_translator

        if kind == "tr":
            return make_translator(backend, translator or (SYNTHETIC_WORLD if synthetic else DEFAULT_TRANSLATOR),
                                   variant, device=device, dtype=dtype, **sizes)
        if kind == "tone" and synthetic:
            return make_tone_rewriter(tone_model or SYNTHETIC_WORLD, variant, backend="synthetic")
        if kind == "tone":
            return make_tone_rewriter(tone_model or DEFAULT_TONE_MODEL, variant, device=device, dtype=dtype, **sizes)
        raise ConfigError(f"no generator for task {task!r}")

    return provide
