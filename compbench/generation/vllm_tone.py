"""Tone references through vLLM's offline ``LLM.generate`` (optional extra ``[vllm]``, in its own environment).

vLLM pins its own torch and transformers, so it is never installed beside the main lock: ``pip install
'compbench[vllm]'`` into a separate virtual environment on a GPU machine (docs/engines.md). vLLM has no LoRA
support for GPT-NeoX, the tone model's base, so the adapter is merged exactly into the base weights once
(:func:`~compbench.generation.merged_lora.merged_checkpoint`, cached) and vLLM serves the merged checkpoint.

Same prompt, greedy decoding, ``max_length`` new tokens and ``### END`` handling as the transformers path: vLLM
stops at the marker and keeps it in the text (``include_stop_str_in_output``), and the shared
:func:`~compbench.generation.tone.cut_at_end_marker` turns a text without it into a failure (``None``). The
runtime is part of the identity (``settings["backend"] == "vllm"``), since its kernels are not the transformers
ones. vLLM cannot run Marian (encoder-decoder) models: translation stays on transformers or CTranslate2.
vLLM is imported only when the model is first used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError
from compbench.generation.merged_lora import MERGE_METHOD, merged_checkpoint
from compbench.generation.tone import END_MARKER, ToneRewriter, cut_at_end_marker, tone_prompt

VLLM_CANNOT_TRANSLATE = ("vLLM cannot run Marian (OpusMT, encoder-decoder) models: translate with --backend "
                         "transformers or ctranslate2 (vLLM serves the tone stage: --tone-backend vllm)")
VLLM_MISSING = ("{what} needs the [vllm] extra, which pins its own torch and transformers: pip install "
                "'compbench[vllm]' into a separate virtual environment on a GPU machine (docs/engines.md)")
#: vLLM's seed for the engine; greedy decoding does not use it, it only makes the run reproducible as a whole.
VLLM_SEED = 0
# One vLLM engine per merged checkpoint and process: the four tones share it (an engine holds most of the GPU's
# memory, and a deleted one does not reliably give it back).
_ENGINES: dict[str, Any] = {}


def sampling_options(max_length: int) -> dict[str, Any]:
    """``SamplingParams`` keyword arguments: greedy, ``max_length`` new tokens, stop at ``### END`` and keep it."""
    return {"n": 1, "temperature": 0.0, "max_tokens": max_length, "stop": [END_MARKER],
            "include_stop_str_in_output": True, "skip_special_tokens": True}


def tone_requests(tone: str, texts: Sequence[str]) -> list[str]:
    """The prompts sent to vLLM, one per text, in input order (the adapter's training format)."""
    return [tone_prompt(tone, text) for text in texts]


def completion_output(request_output: Any) -> str | None:
    """The reference in one of vLLM's ``RequestOutput``: the text before ``### END``, or ``None`` without it."""
    return cut_at_end_marker(request_output.outputs[0].text)


def vllm_missing(what: str = "--tone-backend vllm") -> str:
    """The error text for ``what`` without vLLM installed: the extra, and its own environment."""
    return VLLM_MISSING.format(what=what)


def import_vllm(what: str = "--tone-backend vllm"):
    """Import ``vllm`` or explain how to install it (its own environment)."""
    try:
        import vllm
    except ImportError:
        raise ConfigError(vllm_missing(what)) from None
    return vllm


class VLLMToneRewriter(ToneRewriter):
    """The tone model on vLLM (a :class:`Generator`): the LoRA merged into the base once, greedy ``LLM.generate``.

    ``engine_options`` go to ``vllm.LLM`` (e.g. ``gpu_memory_utilization``, ``tensor_parallel_size``,
    ``max_num_seqs``): they change how it runs, not what it computes, and are not part of :attr:`settings`.
    ``merged_dir`` is where merged checkpoints are cached (default ``$COMPBENCH_CACHE/merged-lora``).
    """

    backend = "vllm"

    def __init__(self, base: str | Path, adapter: str | Path, tone: str, *,
                 engine_options: Mapping[str, Any] | None = None, merged_dir: str | Path | None = None,
                 **options: Any):
        super().__init__(base, adapter, tone, **options)
        config = self._base.path / "config.json"
        try:
            model_config = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            model_config = {}
        if model_config.get("model_type") == "marian" or model_config.get("is_encoder_decoder"):
            raise ConfigError(VLLM_CANNOT_TRANSLATE)
        self.engine_options = dict(engine_options or {})
        self._merged_dir = merged_dir

    @property
    def settings(self) -> dict[str, object]:
        return {**super().settings, "lora_merge": MERGE_METHOD}

    @cached_property
    def merged_path(self) -> Path:
        """The base with the adapter merged in, in :attr:`dtype` (written once, then read from the cache)."""
        return merged_checkpoint(self._base, self._adapter, self.dtype, self._merged_dir)

    @cached_property
    def llm(self):
        """The process's vLLM engine for the merged checkpoint (shared by every tone on the same checkpoint)."""
        vllm = import_vllm()
        path = str(self.merged_path)
        key = json.dumps([path, self.dtype, self.engine_options], sort_keys=True, default=str)
        if key not in _ENGINES:
            _ENGINES[key] = vllm.LLM(model=path, tokenizer=path, dtype=self.dtype, seed=VLLM_SEED,
                                     **self.engine_options)
        return _ENGINES[key]

    @cached_property
    def sampling_params(self):
        return import_vllm().SamplingParams(**sampling_options(self.max_length))

    def generate(self, texts: Sequence[str]) -> list[str | None]:
        """Rewrite ``texts`` in the tone; one output per input, in input order (``None`` = never ended)."""
        prompts = tone_requests(self.tone, texts)
        if not prompts:
            return []
        outputs = self.llm.generate(prompts, self.sampling_params, use_tqdm=False)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        return [completion_output(output) for output in outputs]
