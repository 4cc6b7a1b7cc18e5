"""Engines: what turns ``(model plan, prompts)`` into outputs. The in-process transformers engine lives here.

An engine is any object with a ``name`` and ``generate(plan, prompts, decoding) -> list[str]`` returning one
output per prompt, in order (:class:`Engine`). Optionally it has ``prepare(plans)`` (check and get ready for
every plan of a run, before anything is written), ``generate_batches(plan, batches, decoding)`` (take all of a
plan's batches at once and yield ``(index, outputs)`` as each finishes), ``options`` (what the results record of
it) and ``close()``. Engines know nothing of caching:
:class:`compbench.evaluation.generations.GenerationRunner` sits in front of them, and the cache key never names
the engine. :func:`evaluation_engine` makes one by name:

- ``local``: :class:`TransformersEngine`, in this process;
- ``vllm``: :class:`compbench.evaluation.vllm_engine.VllmEngine`, vLLM in this process, bundles as LoRA requests;
- ``ray``: :class:`compbench.evaluation.ray_evaluator.RayEvaluator`, a Ray Data actor pool per model plan, each
  actor running the transformers engine (or vLLM).

:class:`TransformersEngine` loads the base model (safetensors, no remote code), folds the plan's weight update
into it (:mod:`compbench.evaluation.updates`) and generates greedily in length-sorted, left-padded batches. It
keeps the last plan's model loaded, loads weights only when asked to generate, and pickles without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from compbench.evaluation.plan import BaseModel, Decoding, ModelPlan

#: ``--engine`` of ``compbench evaluate`` and ``run-grid``.
EVALUATION_ENGINES = ("local", "ray", "vllm")


@runtime_checkable
class Engine(Protocol):
    name: str

    def generate(self, plan: ModelPlan, prompts: Sequence[str], decoding: Decoding) -> list[str]: ...


def evaluation_engine(name: str = "local", *, device: str = "cpu", batch_size: int = 16,
                      cache_dir: str | Path | None = None, **options: Any) -> Engine:
    """The engine ``name`` (:data:`EVALUATION_ENGINES`) on ``device``; ``options`` are the Ray engine's (``address``,
    ``actors``, ``gpus_per_actor``, ``cpus_per_actor``, ``runtime``) or vLLM's (``max_loras``, ``max_lora_rank``,
    ``engine_options``, ``export_dir``: default ``CACHE_DIR/lora-exports`` when ``cache_dir`` is given). Close it
    when done (:func:`close_engine`)."""
    from compbench.errors import ConfigError

    ray_only = {"address", "actors", "gpus_per_actor", "cpus_per_actor", "runtime", "runtime_options",
                "init_options"}
    if name != "ray" and ray_only & set(options):
        given = ", ".join("--ray-address" if o == "address" else "--" + o.replace("_", "-")
                          for o in sorted(ray_only & set(options)))
        raise ConfigError(f"{given}: only with --engine ray")
    if name == "local":
        if options:
            raise ConfigError(f"the local engine takes no options ({', '.join(sorted(options))})")
        return TransformersEngine(device=device, batch_size=batch_size)
    if name == "vllm":
        from compbench.evaluation.vllm_engine import VllmEngine

        if cache_dir is not None:
            options.setdefault("export_dir", Path(cache_dir) / "lora-exports")
        return VllmEngine(device=device, **options)
    if name == "ray":
        from compbench.evaluation.ray_evaluator import RayEvaluator

        return RayEvaluator(device=device, batch_size=batch_size, **options)
    raise ConfigError(f"unknown engine {name!r} (choose one of {', '.join(EVALUATION_ENGINES)})")


def close_engine(engine: object) -> None:
    """Release what ``engine`` holds (loaded weights, a vLLM engine, a Ray instance it started)."""
    close = getattr(engine, "close", None)
    if callable(close):
        close()


class TransformersEngine:
    """Greedy generation with transformers, in process (CPU or one GPU)."""

    name = "transformers"

    def __init__(self, device: str = "cpu", batch_size: int = 16):
        from compbench.generation.batching import check_options

        check_options(batch_size=batch_size, max_length=1, device=device)
        self.device = device
        self.batch_size = batch_size
        self.loads = 0  # how many times weights were loaded (a fully cached evaluation loads none)
        self._loaded: tuple[str, object, object] | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_loaded"] = None  # ship the recipe, never the weights
        return state

    def load(self, plan: ModelPlan):
        """``(model, tokenizer)`` for ``plan``: the base model with its update folded in (kept until the next)."""
        if self._loaded is not None and self._loaded[0] == plan.key:
            return self._loaded[1], self._loaded[2]
        self._loaded = None  # free the previous model before loading the next
        model, tokenizer = load_plan(plan, self.device)
        self.loads += 1
        self._loaded = (plan.key, model, tokenizer)
        return model, tokenizer

    def generate(self, plan: ModelPlan, prompts: Sequence[str], decoding: Decoding) -> list[str]:
        if not prompts:
            return []
        model, tokenizer = self.load(plan)
        return greedy_generate(model, tokenizer, list(prompts), decoding, self.batch_size)

    def close(self) -> None:
        self._loaded = None


def load_plan(plan: ModelPlan, device: str = "cpu"):
    """Load ``plan.base`` in ``plan.dtype`` on ``device`` and fold ``plan.update`` into its weights."""
    from transformers import AutoModelForCausalLM

    from compbench.errors import InputError
    from compbench.evaluation.base_model import linear_shapes, load_tokenizer
    from compbench.evaluation.updates import build_update, check_fits, fold_lora
    from compbench.generation.batching import torch_dtype

    try:
        model = AutoModelForCausalLM.from_pretrained(plan.base.path, dtype=torch_dtype(plan.dtype),
                                                     use_safetensors=True, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        text = str(exc).strip()
        raise InputError(f"cannot load the base model ({text.splitlines()[0] if text else type(exc).__name__})",
                         plan.base.path) from None
    model.to(device).eval()
    if plan.update is not None:
        update = build_update(plan.update, model)
        check_fits(update, linear_shapes(model), f"the {plan.update.combine} update")
        fold_lora(model, update)
    return model, load_tokenizer(plan.base)


def eos_ids(model, tokenizer) -> list[int]:
    """Every id that ends a turn: the generation config's EOS ids (chat models list their end-of-turn token)
    and the tokenizer's EOS."""
    return _turn_end_ids(getattr(model.generation_config, "eos_token_id", None), tokenizer)


def base_eos_ids(base: BaseModel, tokenizer) -> list[int]:
    """:func:`eos_ids` read from the base model's files, without loading it (``generation_config.json``, else
    the model config, as ``from_pretrained`` reads them)."""
    from transformers import GenerationConfig

    from compbench.evaluation.base_model import load_config

    try:
        config = GenerationConfig.from_pretrained(base.path)
    except OSError:  # no generation_config.json: the model config's tokens, as transformers does
        config = GenerationConfig.from_model_config(load_config(base))
    return _turn_end_ids(getattr(config, "eos_token_id", None), tokenizer)


def _turn_end_ids(configured, tokenizer) -> list[int]:
    ids: list[int] = []
    for value in (configured if isinstance(configured, (list, tuple)) else [configured]):
        if value is not None and value not in ids:
            ids.append(int(value))
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(int(tokenizer.eos_token_id))
    return ids


def greedy_generate(model, tokenizer, prompts: list[str], decoding: Decoding, batch_size: int) -> list[str]:
    """Greedy outputs of ``prompts``, batched by length (longest first) with left padding; in input order.

    Pure greedy decoding: the model's own generation config (sampling, repetition penalty) is not used, only
    its end-of-turn ids. Outputs are decoded without special tokens and stripped.
    """
    from compbench.generation.batching import map_length_sorted

    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=decoding.add_special_tokens)["input_ids"]]
    return map_length_sorted(prompts, lengths, batch_size,
                             lambda batch: generate_batch(model, tokenizer, batch, decoding))


def generate_batch(model, tokenizer, prompts: list[str], decoding: Decoding) -> list[str]:
    """One left-padded batch through ``model.generate`` (greedy)."""
    import torch
    from transformers import GenerationConfig

    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    encoded = tokenizer(prompts, return_tensors="pt", padding=True,
                        add_special_tokens=decoding.add_special_tokens).to(device)
    config = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=decoding.max_new_tokens,
                              min_new_tokens=decoding.min_new_tokens or None, eos_token_id=eos_ids(model, tokenizer),
                              pad_token_id=tokenizer.pad_token_id)
    with torch.inference_mode():
        output = model.generate(**encoded, generation_config=config)
    new_tokens = output[:, encoded["input_ids"].shape[1]:]
    return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
