"""The default generator provider: OpusMT translators and the tone model, as recipes for ``compbench.generation.registry``.

The provider returns :class:`~compbench.engines.GeneratorSpec` recipes rather than generators, so that any engine can
use them: the local engine builds each one in process, the Ray engine in every actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from builders.recipes import DEFAULT_TONE_MODEL, DEFAULT_TRANSLATOR
from compbench.engines import GeneratorSpec
from compbench.errors import ConfigError
from compbench.extras import missing_modules, require_extra

TRANSLATOR_FACTORY = "compbench.generation.registry:make_translator"
TONE_FACTORY = "compbench.generation.registry:make_tone_rewriter"
SYNTHETIC = "synthetic"  # compbench.generation.synthetic.SYNTHETIC, named here without importing the generators
SYNTHETIC_WORLD = "synthetic-world:0"


def model_provider(*, backend: str = "transformers", translator: str | Path | Mapping[str, str] | None = None,
                   tone_model: str | Path | None = None, tone_backend: str = "transformers",
                   compute_type: str | None = None, vllm_options: Mapping[str, object] | None = None,
                   device: str = "cpu", dtype: str = "float32", batch_size: int | None = None,
                   max_length: int | None = None):
    """A provider making the generator recipe of ``tr-xx`` / ``tone-xx`` tasks from the recipes' models or overrides.

    ``translator``: a Hub id or directory, a template with ``{lang}``, or a mapping language -> id/directory;
    ``backend``: ``transformers`` or ``ctranslate2`` (``compute_type``: CTranslate2's, default int8 on CPU and
    int8_float16 on CUDA); ``tone_model``: the LoRA adapter (Hub id or directory) or a directory holding ``base/``
    and ``adapter/``; ``tone_backend``: ``transformers`` or ``vllm`` (extra ``[vllm]``, its own environment;
    ``vllm_options`` go to ``vllm.LLM``, e.g. ``{"gpu_memory_utilization": 0.85}``). ``backend`` /
    ``tone_backend`` ``synthetic``: the demo world's rules (no extra needed); ``translator`` / ``tone_model`` are
    then its world id, ``synthetic-world:SEED`` (default seed 0).
    ``batch_size`` / ``max_length`` left at None use each generator's own default.
    """
    from compbench.generation.registry import TONE_BACKENDS, check_translation_backend
    from compbench.generation.vllm_tone import vllm_missing

    check_translation_backend(backend)
    if tone_backend not in TONE_BACKENDS:
        raise ConfigError(f"unknown tone backend {tone_backend!r} (choose one of {', '.join(TONE_BACKENDS)})")
    if compute_type is not None and backend != "ctranslate2":
        raise ConfigError("--compute-type is CTranslate2's: use it with --backend ctranslate2")
    if tone_backend == "vllm" and missing_modules("vllm"):
        raise ConfigError(vllm_missing())
    if vllm_options and tone_backend != "vllm":
        raise ConfigError("vllm_options are for tone_backend='vllm'")
    tone_options = {"engine_options": dict(vllm_options)} if vllm_options else {}
    sizes = {key: value for key, value in (("batch_size", batch_size), ("max_length", max_length))
             if value is not None}
    translator_options: dict[str, object] = {}
    if backend == "ctranslate2":
        from compbench.generation.ctranslate2_backend import check_compute_type, default_compute_type

        # Resolved here, not by the device the generator is built on: the compute type is part of the identity.
        translator_options["compute_type"] = check_compute_type(compute_type or default_compute_type(device, dtype))
    if isinstance(translator, Mapping):
        translator = {lang: str(model) for lang, model in translator.items()}
    elif translator is not None:
        translator = str(translator)

    def provide(task: str) -> GeneratorSpec:
        kind, _, variant = task.partition("-")
        if kind == "tr":
            if backend != SYNTHETIC:  # the synthetic world's rules need no model, hence no extra
                require_extra("ctranslate2" if backend == "ctranslate2" else "build", f"generating {task} references")
            return GeneratorSpec(TRANSLATOR_FACTORY, {
                "backend": backend, "model": translator or (SYNTHETIC_WORLD if backend == SYNTHETIC
                                                            else DEFAULT_TRANSLATOR), "lang": variant, "dtype": dtype,
                **translator_options, **sizes}, device=device)
        if kind == "tone":
            if tone_backend != SYNTHETIC:
                require_extra("build", f"generating {task} references")
            return GeneratorSpec(TONE_FACTORY, {
                "model": str(tone_model or (SYNTHETIC_WORLD if tone_backend == SYNTHETIC else DEFAULT_TONE_MODEL)),
                "tone": variant, "backend": tone_backend, "dtype": dtype, **tone_options, **sizes}, device=device)
        raise ConfigError(f"no generator for task {task!r}")

    return provide
