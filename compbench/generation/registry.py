"""The one place that turns build options into generators: translation backends and the tone model's backends.

A new translation backend is one module with a class taking ``(model, lang, *, revision, device, dtype,
batch_size, max_length, **options)`` and one line in :data:`TRANSLATION_BACKENDS`; a tone backend is a
:class:`~compbench.generation.tone.ToneRewriter` subclass and one line in :data:`TONE_BACKENDS`. The ``synthetic``
backend of both is the demo world's rules, named by a world id ``synthetic-world:SEED`` in place of a model
(:mod:`compbench.generation.synthetic`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError
from compbench.generation.base import Generator
from compbench.generation.ctranslate2_backend import CT2Translator
from compbench.generation.synthetic import SYNTHETIC, SyntheticToneRewriter, SyntheticTranslator
from compbench.generation.tone import ToneRewriter
from compbench.generation.translation import MarianTranslator, translation_task
from compbench.generation.vllm_tone import VLLM_CANNOT_TRANSLATE, VLLMToneRewriter

TRANSLATION_BACKENDS: dict[str, Callable[..., Generator]] = {
    "transformers": MarianTranslator,
    "ctranslate2": CT2Translator,
    SYNTHETIC: SyntheticTranslator,
}
TONE_BACKENDS: dict[str, type[ToneRewriter] | type[SyntheticToneRewriter]] = {
    "transformers": ToneRewriter,
    "vllm": VLLMToneRewriter,
    SYNTHETIC: SyntheticToneRewriter,
}

DEFAULT_TRANSLATOR = "Helsinki-NLP/opus-mt-en-{lang}"
DEFAULT_TONE_BASE = "togethercomputer/RedPajama-INCITE-Base-3B-v1"
DEFAULT_TONE_ADAPTER = "llm-toys/RedPajama-INCITE-Base-3B-v1-paraphrase-tone"

# Hub revisions used for the default models. ``None`` fetches the default branch; the commit actually
# fetched is recorded with every generation (Generator.revision), in the cache key and the release manifest.
# Pin a commit here to make online builds fetch exactly that one.
PINNED_REVISIONS: dict[str, str | None] = {
    "Helsinki-NLP/opus-mt-en-es": None,
    "Helsinki-NLP/opus-mt-en-fr": None,
    "Helsinki-NLP/opus-mt-en-de": None,
    DEFAULT_TONE_BASE: None,
    DEFAULT_TONE_ADAPTER: None,
}


def translator_source(model: str | Path | Mapping[str, str] | None, lang: str) -> str:
    """The model for ``lang``: a per-language mapping entry, a ``{lang}`` template filled in, or as given."""
    translation_task(lang)
    if model is None:
        return DEFAULT_TRANSLATOR.format(lang=lang)
    if isinstance(model, Mapping):
        if lang not in model:
            raise ConfigError(f"no translator given for language {lang!r} (given: {', '.join(model)})")
        return str(model[lang])
    return str(model).replace("{lang}", lang)


def check_translation_backend(backend: str) -> None:
    """Raise :class:`ConfigError` for a translation backend that does not exist (vLLM: why it cannot)."""
    if backend == "vllm":
        raise ConfigError(VLLM_CANNOT_TRANSLATE)
    if backend not in TRANSLATION_BACKENDS:
        raise ConfigError(f"unknown translation backend {backend!r} (choose one of {', '.join(TRANSLATION_BACKENDS)})")


def make_translator(
    backend: str,
    model: str | Path | Mapping[str, str] | None,
    lang: str,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    batch_size: int = 32,
    max_length: int = 256,
    revision: str | None = None,
    **options: Any,
) -> Generator:
    """An English -> ``lang`` translator on ``backend`` (``transformers`` or ``ctranslate2``).

    ``model``: ``None`` for OpusMT, a Hub id or local directory, a template containing ``{lang}``, or a
    mapping language -> id/directory. ``options`` go to the backend class (e.g. ``compute_type``).
    """
    check_translation_backend(backend)
    source = translator_source(model, lang)
    if revision is None:
        revision = PINNED_REVISIONS.get(source)
    return TRANSLATION_BACKENDS[backend](
        source, lang, revision=revision, device=device, dtype=dtype, batch_size=batch_size,
        max_length=max_length, **options,
    )


def tone_model_sources(model: str | Path | None, base: str | Path | None = None) -> tuple[str, str]:
    """(base, adapter) for ``model``: ``None`` (the defaults), an adapter id/dir, or a dir with ``base/`` + ``adapter/``."""
    if model is None:
        return str(base or DEFAULT_TONE_BASE), DEFAULT_TONE_ADAPTER
    path = Path(model).expanduser()
    if (path / "base").is_dir() and (path / "adapter").is_dir():
        return str(base or path / "base"), str(path / "adapter")
    return str(base or DEFAULT_TONE_BASE), str(model)


def make_tone_rewriter(
    model: str | Path | None,
    tone: str,
    *,
    base: str | Path | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    batch_size: int = 8,
    max_length: int = 128,
    backend: str = "transformers",
    **options: Any,
) -> Generator:
    """The tone generator for ``tone`` (``professional``, ``casual``, ``witty`` or ``paraphrase``).

    ``model``: ``None`` for the RedPajama base + llm-toys LoRA, the adapter (Hub id or directory), or a
    directory holding ``base/`` and ``adapter/``; ``base`` overrides the base model. ``backend``: ``transformers``
    (PEFT merge, ``generate``) or ``vllm`` (:class:`~compbench.generation.vllm_tone.VLLMToneRewriter`);
    ``options`` go to the backend class (e.g. vLLM's ``engine_options``). ``synthetic``: ``model`` is a world id.
    """
    if backend not in TONE_BACKENDS:
        raise ConfigError(f"unknown tone backend {backend!r} (choose one of {', '.join(TONE_BACKENDS)})")
    if backend == SYNTHETIC:  # rules, not a model: nothing to download, no base and adapter to resolve
        return SyntheticToneRewriter(str(model), tone)
    base_source, adapter_source = tone_model_sources(model, base)
    return TONE_BACKENDS[backend](
        base_source, adapter_source, tone,
        base_revision=PINNED_REVISIONS.get(base_source), adapter_revision=PINNED_REVISIONS.get(adapter_source),
        device=device, dtype=dtype, batch_size=batch_size, max_length=max_length, **options,
    )
