"""The generation cache in front of an engine: only misses reach the model, each batch committed as it ends.

For one model plan and a list of prompts, :class:`GenerationRunner` keys every prompt
(:func:`~compbench.evaluation.plan.generation_key`), drops repeats (the references of one DialogSum dialogue share
a prompt), looks the keys up in the :class:`~compbench.build.cache.GenerationCache` (SQLite, shared with the
build), and sends the rest to the engine batch by batch. Batches are formed over *all* of the plan's prompts,
sorted by token length (longest first) and cut every ``batch_size``, whatever the cache holds: a run killed
after some batches resumes with exactly the batches an uninterrupted run would have generated, so its outputs
are the same. Each batch's outputs are committed as soon as the engine returns them: before the next batch
starts in process; as each one finishes when the engine spreads them (``generate_batches``, e.g. Ray).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from compbench.build.cache import GenerationCache
from compbench.evaluation.engine import Engine
from compbench.evaluation.plan import Decoding, ModelPlan, generation_key
from compbench.generation.batching import length_sorted_batches


class GenerationRunner:
    """Cached, batched generation for one evaluation; counts what it generated and what the cache held."""

    def __init__(self, engine: Engine, cache: GenerationCache | None, tokenizer, batch_size: int,
                 progress: bool = True):
        self.engine = engine
        self.cache = cache
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.progress = progress
        self.generated = 0  # distinct generations the engine ran
        self.cached = 0  # distinct generations found in the cache
        self.model_calls = 0  # batches the engine generated

    def run(self, plan: ModelPlan, prompts: Sequence[str], decoding: Decoding, desc: str = "generating") -> list[str]:
        """One output per prompt, in order."""
        from tqdm.auto import tqdm

        keys = [generation_key(plan, prompt, decoding) for prompt in prompts]
        unique = dict(zip(keys, prompts, strict=True))  # first occurrence of each key, in order
        order = list(unique)
        known: dict[str, str] = {}
        if self.cache is not None:
            known = {k: v for k, v in self.cache.lookup(order).items() if v is not None}
        self.cached += len(known)
        if len(known) < len(order):
            texts = [unique[k] for k in order]
            lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=decoding.add_special_tokens)
                       ["input_ids"]]
            batches = [missing for missing in ([order[i] for i in batch if order[i] not in known]
                                               for batch in length_sorted_batches(lengths, self.batch_size)) if missing]
            with tqdm(total=len(order), initial=len(known), desc=desc, unit="ex", disable=not self.progress,
                      dynamic_ncols=True) as bar:
                for index, outputs in self._generate(plan, [[unique[k] for k in batch] for batch in batches],
                                                     decoding):
                    missing = batches[index]
                    self.model_calls += 1
                    if (not isinstance(outputs, list) or len(outputs) != len(missing)
                            or not all(isinstance(o, str) for o in outputs)):
                        got = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
                        raise RuntimeError(f"engine {self.engine.name} returned {got} outputs for "
                                           f"{len(missing)} prompts (or a non-string)")
                    if self.cache is not None:
                        self.cache.store(zip(missing, outputs, strict=True))
                    known.update(zip(missing, outputs, strict=True))
                    self.generated += len(missing)
                    bar.update(len(missing))
        return [known[k] for k in keys]

    def _generate(self, plan: ModelPlan, batches: list[list[str]], decoding: Decoding
                  ) -> Iterator[tuple[int, list[str]]]:
        """``(batch index, outputs)`` per batch: all at once to an engine that spreads them (Ray; in the order they
        finish), else one ``generate`` call after the other."""
        if hasattr(self.engine, "generate_batches"):
            yield from self.engine.generate_batches(plan, batches, decoding)
            return
        for index, batch in enumerate(batches):
            yield index, self.engine.generate(plan, batch, decoding)
