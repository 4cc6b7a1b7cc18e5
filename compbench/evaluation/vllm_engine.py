"""``compbench evaluate --engine vllm``: greedy generation with vLLM's offline ``LLM.generate``, bundles as LoRAs.

vLLM (extra ``[vllm]``) pins its own torch and transformers, so it lives in its own environment on a GPU machine
(docs/engines.md); it is imported only when the first prompt is generated, and everything up to that call is
plain Python that the tests run without it.

- **One engine per base model.** ``vllm.LLM(model=base, dtype=plan dtype, enable_lora=True, max_loras,
  max_lora_rank)`` is made once and kept while the base model stays the same; every pass of every bundle on that
  base is served by it.
- **Each pass's update as a LoRA request.** The update is written once as a plain PEFT LoRA directory
  (:func:`compbench.evaluation.lora_export.export_update`, cached on disk: single LoRAs, merges, calibrated
  bundles through their rank ``r+1`` / ``r+s`` export) and sent as ``LoRARequest(name, int_id, path)``, the int
  id taken from the exported adapter's content hash and unique within the engine. Multi-step is one ``generate``
  call per step, each with its step's adapter; zero-shot and ICL send no LoRA.
- **max_lora_rank** is the smallest value vLLM allows (:data:`VLLM_LORA_RANKS`) that holds the largest rank
  served; :meth:`VllmEngine.prepare` learns it from every plan of the run before the engine is made.
- **Same prompts and decoding as the transformers path.** Prompts go in as token ids made by the base model's
  tokenizer exactly as the transformers engine makes them (``add_special_tokens`` as the decoding says), with
  ``SamplingParams(temperature=0, max_tokens, min_tokens, stop_token_ids=<the model's end-of-turn ids>,
  skip_special_tokens=True)``, and ``generation_config="vllm"`` so that the model's own sampling defaults
  (temperature, repetition penalty) are not applied: pure greedy, as in process. Outputs are stripped.
- **Refused with one line (exit 2), naming the transformers engine**: LoRAs on architectures vLLM serves no
  LoRA for (StableLM in the pinned vLLM, GPT-NeoX), Marian / encoder-decoder models, adapters that declare
  features vLLM rejects (``lora_bias``, ``modules_to_save``, a bias), and ranks above 512.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from compbench.errors import ConfigError, InputError
from compbench.evaluation.lora_export import ExportedLora, export_update
from compbench.evaluation.plan import BaseModel, Decoding, ModelPlan

#: The values vLLM accepts for ``max_lora_rank``.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
#: vLLM's seed for the engine; greedy decoding does not use it, it only makes the run reproducible as a whole.
VLLM_SEED = 0
#: Architectures (``model_type``) on which the pinned vLLM serves no LoRA, by name.
NO_LORA_ARCHITECTURES = {"stablelm": "StableLM", "gpt_neox": "GPT-NeoX"}
FALLBACK = "evaluate it with --engine local (transformers, the LoRA folded into the weights) or --engine ray"
_MAX_INT_ID = 2**31 - 1


def max_lora_rank_for(rank: int) -> int:
    """The smallest ``max_lora_rank`` vLLM allows that holds a LoRA of ``rank`` (an LC export of rank 33: 64)."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise ConfigError(f"a LoRA of rank {rank} is more than vLLM serves (max_lora_rank {VLLM_LORA_RANKS[-1]}): "
                      + FALLBACK)


def lora_int_id(sha256: str, taken: Mapping[int, str]) -> int:
    """The LoRA request id of the adapter with content hash ``sha256``: from its hash, in ``1 .. 2**31-1``, and
    unlike every id in ``taken`` (id -> hash) that belongs to another adapter (vLLM does not check uniqueness)."""
    candidate = int(sha256[:15], 16) % _MAX_INT_ID + 1
    while taken.get(candidate, sha256) != sha256:
        candidate = candidate % _MAX_INT_ID + 1
    return candidate


def sampling_options(decoding: Decoding, stop_token_ids: Sequence[int]) -> dict[str, Any]:
    """``SamplingParams`` keyword arguments: greedy, the decoding's length limits, the model's end-of-turn ids."""
    return {"n": 1, "temperature": 0.0, "max_tokens": decoding.max_new_tokens, "min_tokens": decoding.min_new_tokens,
            "stop_token_ids": list(stop_token_ids), "skip_special_tokens": True}


def token_prompts(tokenizer, prompts: Sequence[str], decoding: Decoding) -> list[dict[str, list[int]]]:
    """vLLM token prompts (``{"prompt_token_ids": [...]}``): the ids the transformers engine gives the model."""
    ids = tokenizer(list(prompts), add_special_tokens=decoding.add_special_tokens)["input_ids"]
    return [{"prompt_token_ids": list(row)} for row in ids]


def llm_options(base: BaseModel, dtype: str, lora_rank: int | None, max_loras: int,
                engine_options: Mapping[str, Any]) -> dict[str, Any]:
    """``vllm.LLM`` keyword arguments for ``base`` in ``dtype``, with LoRA serving when ``lora_rank`` is given."""
    options: dict[str, Any] = {"model": base.path, "tokenizer": base.path, "dtype": dtype, "seed": VLLM_SEED,
                               "generation_config": "vllm"}
    if lora_rank is not None:
        options.update(enable_lora=True, max_loras=max_loras, max_lora_rank=max_lora_rank_for(lora_rank))
    return {**options, **engine_options}


def base_config(base: BaseModel) -> dict[str, Any]:
    """The base model's ``config.json`` (empty when unreadable: the transformers checks report that)."""
    try:
        config = json.loads((Path(base.path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def check_servable(plan: ModelPlan) -> None:
    """Refuse what vLLM cannot run: Marian, a LoRA on an architecture without vLLM LoRA support, adapters that
    declare features vLLM rejects. One :class:`ConfigError` / :class:`InputError` naming the fallback."""
    from compbench.adapters.lora_io import read_adapter_config

    config = base_config(plan.base)
    if config.get("model_type") == "marian" or config.get("is_encoder_decoder"):
        raise ConfigError("vLLM cannot run Marian (OpusMT, encoder-decoder) models; compbench evaluate runs causal "
                          "chat models")
    if plan.update is None:
        return
    kind = config.get("model_type")
    if kind in NO_LORA_ARCHITECTURES:
        raise ConfigError(f"vLLM has no LoRA support for {NO_LORA_ARCHITECTURES[kind]} ({plan.base.name}), so it "
                          f"cannot serve this {plan.update.combine} update: {FALLBACK} (zero-shot and ICL run on "
                          "vLLM)")
    for ref in plan.update.adapters:
        adapter = read_adapter_config(ref.path)
        declared = [name for name, present in (  # DoRA is refused on every engine (read_adapter_config)
            ("lora_bias", adapter.get("lora_bias")),
            ("modules_to_save", adapter.get("modules_to_save")),
            (f"bias={adapter.get('bias')!r}", adapter.get("bias") not in (None, "none"))) if present]
        if declared:
            raise InputError(f"LoRA {ref.name!r} declares {', '.join(declared)}, which vLLM does not load: "
                             + FALLBACK, ref.path)


class VllmEngine:
    """Greedy generation with vLLM in this process (an :class:`~compbench.evaluation.engine.Engine`).

    ``max_loras`` LoRAs are kept on the GPU at once (one per ``generate`` call is what evaluation uses);
    ``max_lora_rank`` overrides the rank learnt from the plans; ``engine_options`` go to ``vllm.LLM`` as they are
    (``gpu_memory_utilization``, ``tensor_parallel_size``, ``max_num_seqs``, ``max_model_len``, ...): they change
    how it runs, not what it computes. ``export_dir`` is where LoRA exports are cached (default
    ``$COMPBENCH_CACHE/lora-exports``). The engine pickles without its vLLM engine (for Ray actors).
    """

    name = "vllm"

    def __init__(self, *, device: str = "cuda", max_loras: int = 1, max_lora_rank: int | None = None,
                 engine_options: Mapping[str, Any] | None = None, export_dir: str | Path | None = None):
        if device != "cuda":
            raise ConfigError(f"vLLM runs on the machine's CUDA GPUs: pass --device cuda (got {device!r}; choose "
                              "GPUs with CUDA_VISIBLE_DEVICES)")
        if not isinstance(max_loras, int) or max_loras < 1:
            raise ConfigError(f"max_loras must be a positive integer, got {max_loras!r}")
        if max_lora_rank is not None and max_lora_rank not in VLLM_LORA_RANKS:
            raise ConfigError(f"max_lora_rank must be one of {', '.join(map(str, VLLM_LORA_RANKS))}, got "
                              f"{max_lora_rank!r}")
        self.device = device
        self.max_loras = max_loras
        self.max_lora_rank = max_lora_rank
        self.engine_options = dict(engine_options or {})
        self.export_dir = export_dir
        self.lora_rank: int | None = max_lora_rank  # the largest rank the LLM must serve (None: no LoRA)
        self.exports: dict[str, ExportedLora] = {}  # plan key -> its LoRA directory
        self.int_ids: dict[int, str] = {}  # LoRA request id -> adapter content hash
        self.loads = 0  # vllm.LLM engines made
        self._llm: tuple[tuple[str, str], Any] | None = None
        self._prepared: set[str] = set()  # plan keys checked (and exported)
        self._tokenizers: dict[str, tuple[Any, list[int]]] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        # ship the settings (and the rank learnt from the plans), never the engine; exports are made again (or
        # found in the cache) on the machine that unpickles it
        state.update(_llm=None, _tokenizers={}, _prepared=set(), exports={}, int_ids={})
        return state

    @property
    def options(self) -> dict[str, Any]:
        """What the results document records of this engine."""
        served = max_lora_rank_for(self.lora_rank) if self.lora_rank is not None else None
        return {"max_loras": self.max_loras, "max_lora_rank": served, **self.engine_options}

    def prepare(self, plans: Sequence[ModelPlan]) -> None:
        """Check that vLLM can serve every plan and export each update once, learning the largest rank. Call it
        with every plan of the run before generating (evaluate and run-grid do), so one engine serves them all."""
        plans = [plan for plan in plans if plan.key not in self._prepared]
        for plan in plans:
            check_servable(plan)
        for plan in plans:
            if plan.update is not None:
                exported = export_update(plan, self.export_dir)
                served = max_lora_rank_for(exported.rank)  # refuses ranks above what vLLM serves
                if self.max_lora_rank is not None and exported.rank > self.max_lora_rank:
                    raise ConfigError(f"a {plan.update.combine} update of rank {exported.rank} does not fit "
                                      f"max_lora_rank {self.max_lora_rank}")
                if self._llm is not None:
                    capacity = max_lora_rank_for(self.lora_rank) if self.lora_rank is not None else 0
                    if served > capacity:
                        raise ConfigError(f"the vLLM engine was made for LoRAs of rank {capacity} at most, and a "
                                          f"{plan.update.combine} update of rank {exported.rank} came after: give "
                                          "prepare() every plan before generating, or set max_lora_rank")
                self.lora_rank = max(self.lora_rank or 0, exported.rank)
                self.exports[plan.key] = exported
            self._prepared.add(plan.key)

    def lora_request(self, plan: ModelPlan):
        """The ``LoRARequest`` serving ``plan``'s update (``None`` for the base model alone)."""
        if plan.update is None:
            return None
        self.prepare([plan])
        exported = self.exports[plan.key]
        int_id = lora_int_id(exported.sha256, self.int_ids)
        self.int_ids[int_id] = exported.sha256
        from vllm.lora.request import LoRARequest

        return LoRARequest(f"compbench-{exported.sha256[:16]}", int_id, str(exported.path))

    def llm(self, plan: ModelPlan):
        """The vLLM engine for ``plan``'s base model and dtype, made on first use; a new base replaces it."""
        key = (plan.base.path, plan.dtype)
        if self._llm is not None and self._llm[0] == key:
            return self._llm[1]
        from compbench.generation.vllm_tone import import_vllm

        vllm = import_vllm("--engine vllm")
        self.close()  # one engine at a time: each holds most of the GPU's memory
        llm = vllm.LLM(**llm_options(plan.base, plan.dtype, self.lora_rank, self.max_loras, self.engine_options))
        self.loads += 1
        self._llm = (key, llm)
        return llm

    def tokenizer(self, base: BaseModel):
        """``(tokenizer, end-of-turn ids)`` of ``base``: what the transformers engine tokenizes and stops at."""
        if base.path not in self._tokenizers:
            from compbench.evaluation.base_model import load_tokenizer
            from compbench.evaluation.engine import base_eos_ids

            tokenizer = load_tokenizer(base)
            self._tokenizers[base.path] = (tokenizer, base_eos_ids(base, tokenizer))
        return self._tokenizers[base.path]

    def generate(self, plan: ModelPlan, prompts: Sequence[str], decoding: Decoding) -> list[str]:
        if not prompts:
            return []
        self.prepare([plan])
        tokenizer, stop_ids = self.tokenizer(plan.base)
        llm = self.llm(plan)
        from compbench.generation.vllm_tone import import_vllm

        params = import_vllm("--engine vllm").SamplingParams(**sampling_options(decoding, stop_ids))
        outputs = llm.generate(token_prompts(tokenizer, prompts, decoding), params,
                               lora_request=self.lora_request(plan), use_tqdm=False)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        return [output.outputs[0].text.strip() for output in outputs]

    def close(self) -> None:
        """Drop the vLLM engine (a deleted engine does not reliably give all GPU memory back: one base model per
        process is the safe way on a small GPU)."""
        if self._llm is not None:
            self._llm = None
            gc.collect()
            try:
                import torch

                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            except ImportError:
                pass
