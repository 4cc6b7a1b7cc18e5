"""One generation stage: a generator applied to a list of texts, through the cache, with counters and progress.

The texts still missing from the cache go to an engine (``compbench.engines``) in chunks; each chunk's outputs are
written to the cache and committed as soon as the engine yields them, whatever engine ran them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from compbench.build.cache import GenerationCache
from compbench.engines import Engine, GeneratorSpec, LocalEngine, check_outputs, chunked
from compbench.engines.base import GeneratorOutputError
from compbench.errors import ConfigError
from compbench.generation.base import Generator, cache_key

__all__ = ["DEFAULT_MAX_FAILURE_RATE", "BuildFailure", "GeneratorOutputError", "StageStats", "check_failure_rate",
           "record_failure", "run_stage"]


@dataclass
class StageStats:
    """What a stage needs and did. ``generated`` and ``model_calls`` are 0 on a warm rebuild."""

    name: str
    task: str  # the generator's task, e.g. "tr-es"
    model_id: str = ""
    needed: int = 0  # rows that pass through this stage
    unique: int = 0  # distinct input texts (identical inputs are generated once)
    cached: int = 0  # distinct inputs already in the cache
    unknown: int = 0  # plan only: inputs that depend on an earlier stage's outputs not generated yet
    generated: int = 0  # texts sent to the model
    model_calls: int = 0  # calls of Generator.generate
    failures: int = 0  # rows whose generation failed (left out of the release)
    failed_inputs: list[str] = field(default_factory=list)  # the first few inputs that failed, for messages

    @property
    def failure_rate(self) -> float:
        return self.failures / self.needed if self.needed else 0.0

    @property
    def to_generate(self) -> int:
        return self.unique - self.cached


#: Default ``--max-failure-rate``: a stage where more than 1 row in 20 fails stops the build (docs/building.md).
DEFAULT_MAX_FAILURE_RATE = 0.05
_SHOWN_FAILURES = 3


class BuildFailure(ConfigError):
    """A generation stage failed on too many rows: nothing is published."""


def record_failure(stats: StageStats, text: str) -> None:
    stats.failures += 1
    if len(stats.failed_inputs) < _SHOWN_FAILURES and text not in stats.failed_inputs:
        stats.failed_inputs.append(text)


def check_failure_rate(stats: StageStats, max_rate: float) -> None:
    """Raise :class:`BuildFailure` when the stage's share of failed rows exceeds ``max_rate`` (or is total)."""
    if not stats.failures or (stats.failure_rate <= max_rate and stats.failures < stats.needed):
        return
    shown = "; ".join(repr(text if len(text) <= 80 else text[:77] + "...") for text in stats.failed_inputs)
    raise BuildFailure(
        f"stage {stats.name} ({stats.model_id}): {stats.failures:,} of {stats.needed:,} generations failed "
        f"({stats.failure_rate:.1%}), above --max-failure-rate {max_rate:g}; nothing was written. "
        f"First failed inputs: {shown}. Failures are cached: check the generator (model, prompt, "
        f"--max-new-tokens), or rerun with a higher --max-failure-rate at no generation cost")


def run_stage(stats: StageStats, generator: Generator, texts: Sequence[str], cache: GenerationCache, *,
              chunk_size: int = 256, generate: bool = True, progress: bool = True, engine: Engine | None = None,
              spec: GeneratorSpec | None = None) -> dict[str, str | None]:
    """Outputs for the distinct ``texts``: cached ones looked up, the rest generated in chunks and cached.

    ``engine`` (default: in process) runs the chunks; ``spec`` is the generator's recipe, which engines that build
    generators elsewhere need. With ``generate=False`` (the plan) nothing is generated and only cached outputs are
    returned.
    """
    unique = list(dict.fromkeys(texts))
    keys = {text: cache_key(generator, text) for text in unique}
    found = cache.lookup(list(keys.values()))
    outputs = {text: found[keys[text]] for text in unique if keys[text] in found}
    stats.model_id = generator.model_id
    stats.needed += len(texts)
    stats.unique += len(unique)
    stats.cached += len(outputs)
    missing = [text for text in unique if text not in outputs]
    if not generate or not missing:
        return outputs
    chunks = chunked(missing, chunk_size)
    with tqdm(total=len(missing), desc=stats.name, unit="text", dynamic_ncols=True,
              disable=None if progress else True) as bar:
        for index, results in (engine or LocalEngine()).run(generator, spec, chunks):
            chunk = chunks[index]
            stats.model_calls += 1
            check_outputs(results, chunk, generator)
            stats.generated += len(chunk)
            cache.store((keys[text], result) for text, result in zip(chunk, results, strict=True))
            outputs.update(zip(chunk, results, strict=True))
            bar.update(len(chunk))
    return outputs
