"""The build: recipes -> source examples -> generation stages (cached) -> a release directory.

``build`` and ``plan`` share everything but the last step: the plan looks every generation up in the cache and
generates nothing. Stages run breadth-first by chain position, so a three-way chain's translation stage sees the
tone stage's outputs; within a stage, identical input texts are generated once, whatever sub-task they come from.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from builders.recipes import RECIPES, Recipe, SplitRecipe
from compbench import __version__
from compbench.build.cache import GenerationCache, default_cache_dir
from compbench.build.release import check_output, finish_release, publish, start_staging, write_split
from compbench.build.rows import split_row
from compbench.build.stages import (
    DEFAULT_MAX_FAILURE_RATE,
    BuildFailure,
    StageStats,
    check_failure_rate,
    record_failure,
    run_stage,
)
from compbench.engines import Engine, GeneratorSpec, LocalEngine
from compbench.errors import ConfigError, InputError
from compbench.fileio import sha256_file
from compbench.generation.base import Generator
from compbench.schemas import EngineInfo, GeneratorInfo, ReleaseManifest, SourceRef
from compbench.sources import load_examples, local_path
from compbench.sources.base import Example
from compbench.tasks import SPLITS, get_task

#: Makes the generator of an auxiliary task ("tr-es", "tone-witty"), or the picklable recipe of one (what an engine
#: that builds generators elsewhere, e.g. Ray, needs); called once per task and build.
GeneratorProvider = Callable[[str], Generator | GeneratorSpec]


@dataclass
class BuildResult:
    """What a build (or a plan) did: its stages with their counters, the generators and engine, the release."""

    stages: list[StageStats]
    out: Path | None = None
    manifest: ReleaseManifest | None = None
    generators: dict[str, GeneratorInfo] = field(default_factory=dict)  # task -> identity of its generator
    engine: EngineInfo | None = None

    @property
    def model_calls(self) -> int:
        return sum(stage.model_calls for stage in self.stages)

    @property
    def generated(self) -> int:
        return sum(stage.generated for stage in self.stages)


@dataclass(frozen=True)
class _Identity:
    """What the release records of a generator, kept after the model itself is freed."""

    task: str
    model_id: str
    revision: str
    settings: dict

    @classmethod
    def of(cls, generator: Generator) -> _Identity:
        return cls(generator.task, generator.model_id, generator.revision, dict(generator.settings))

    def info(self) -> GeneratorInfo:
        return GeneratorInfo(task=self.task, model_id=self.model_id, revision=self.revision,
                             settings=dict(self.settings))


@dataclass
class _Row:
    recipe: Recipe
    split: str
    example: Example
    chain: list[tuple[str, str]]
    text: str | None  # the text the next stage rewrites; None in a plan once it depends on an ungenerated output
    failed: bool = False


@dataclass
class _Sources:
    """Loads each source split once per build and remembers what it read, for the manifest."""

    sources_dir: Path | None
    loaded: dict[tuple, list[Example]] = field(default_factory=dict)
    refs: dict[str, SourceRef] = field(default_factory=dict)

    def examples(self, recipe: Recipe, split: SplitRecipe) -> list[Example]:
        key = (recipe.source, split.source_split, tuple(sorted(recipe.source_options.items())))
        if key not in self.loaded:
            examples = load_examples(recipe.source, split.source_split, sources_dir=self.sources_dir,
                                     location=recipe.pin.location, **recipe.source_options)
            where = self._record(recipe, split.source_split)
            if not examples:
                options = ", ".join(f"{k}={v}" for k, v in recipe.source_options.items())
                raise InputError(f"split {split.source_split!r} has no usable examples"
                                 + (f" ({options})" if options else ""), where)
            self.loaded[key] = examples
        return self.loaded[key]

    def _record(self, recipe: Recipe, source_split: str) -> str:
        pin = recipe.pin
        ref = self.refs.setdefault(pin.name, SourceRef(name=pin.name))
        if self.sources_dir is None:
            ref.hub_id, ref.revision = pin.location.hub_id, pin.location.revision
            return f"{pin.location.hub_id}@{pin.location.revision[:12]}:{source_split}"
        path = local_path(pin.name, self.sources_dir, source_split)
        ref.local_files[f"{pin.name}/{path.name}"] = sha256_file(path)
        return str(path)


def select_recipes(only: Iterable[str] | None = None) -> list[Recipe]:
    """The recipes of the given sub-task ids (registry order), or all of them."""
    if not only:
        return list(RECIPES.values())
    wanted = {get_task(task_id).id for task_id in only}
    return [recipe for recipe in RECIPES.values() if recipe.task_id in wanted]


def select_examples(examples: Sequence[Example], split: SplitRecipe, limit: int | None) -> list[Example]:
    """The split's sample (seeded, kept in source order) capped at ``limit`` rows."""
    chosen = list(examples)
    if split.sample is not None and split.sample < len(chosen):
        indices = sorted(random.Random(split.seed).sample(range(len(chosen)), split.sample))
        chosen = [chosen[i] for i in indices]
    return chosen if limit is None else chosen[:limit]


def _collect_rows(recipes: Sequence[Recipe], splits: Sequence[str] | None, sources: _Sources,
                  limit: int | None) -> list[_Row]:
    if splits:
        unknown = [s for s in splits if s not in SPLITS]
        if unknown:
            raise ConfigError(f"unknown split {unknown[0]!r} (expected one of {', '.join(SPLITS)})")
    rows: list[_Row] = []
    for recipe in recipes:
        for split, split_recipe in recipe.splits.items():
            if splits and split not in splits:
                continue
            for example in select_examples(sources.examples(recipe, split_recipe), split_recipe, limit):
                chain = [(recipe.main_step, example.target)] if recipe.main_step else []
                rows.append(_Row(recipe, split, example, chain, example.target))
    if not rows:
        raise ConfigError("nothing to build: no selected sub-task has the selected split(s)")
    return rows


def _run_stages(rows: list[_Row], provider: GeneratorProvider, cache: GenerationCache, engine: Engine, *,
                generate: bool, progress: bool, chunk_size: int, max_failure_rate: float | None
                ) -> tuple[list[StageStats], dict[str, _Identity]]:
    stages: list[StageStats] = []
    generators: dict[str, _Identity] = {}
    live: dict[str, tuple[Generator, GeneratorSpec | None]] = {}
    depth = 0
    while True:
        by_task: dict[str, list[_Row]] = {}
        for row in rows:
            if not row.failed and depth < len(row.recipe.generator_steps):
                by_task.setdefault(row.recipe.generator_steps[depth], []).append(row)
        if not by_task:
            return stages, generators
        for task, task_rows in by_task.items():
            generator, spec = live.get(task) or _make_generator(provider, engine, task)
            live[task], generators[task] = (generator, spec), _Identity.of(generator)
            stats = StageStats(task if depth == 0 else f"{task} (step {depth + 1})", task)
            known = [row for row in task_rows if row.text is not None]
            outputs = run_stage(stats, generator, [row.text for row in known], cache, chunk_size=chunk_size,
                                generate=generate, progress=progress, engine=engine, spec=spec)
            stats.unknown = len(task_rows) - len(known)
            stats.needed += stats.unknown
            for row in known:
                if row.text not in outputs:  # plan: not generated yet, so later stages cannot know their input
                    row.text = None
                elif outputs[row.text] is None:
                    row.failed = True
                    record_failure(stats, row.text)
                else:
                    row.text = outputs[row.text]
                    row.chain.append((task, row.text))
            stages.append(stats)
            if max_failure_rate is not None:  # a broken stage stops before later stages spend compute on it
                check_failure_rate(stats, max_failure_rate)
            if not _needed_later(rows, task, depth + 1):
                del live[task]  # free the model (e.g. a 3B tone model) as soon as no later stage needs it
        depth += 1


def _needed_later(rows: list[_Row], task: str, depth: int) -> bool:
    return any(not row.failed and task in row.recipe.generator_steps[depth:] for row in rows)


def _make_generator(provider: GeneratorProvider, engine: Engine, task: str) -> tuple[Generator, GeneratorSpec | None]:
    made = provider(task)
    if not isinstance(made, GeneratorSpec | Generator):
        raise ConfigError(f"the generator for {task!r} does not implement compbench.generation.base.Generator")
    generator, spec = engine.prepare(made)
    if generator.task != task:
        raise ConfigError(f"asked for a {task!r} generator, got one for {generator.task!r}")
    return generator, spec


def _default_provider(**options: object) -> GeneratorProvider:
    from compbench.build.generators import model_provider  # imports the generation backends only when needed

    return model_provider(**options)


def plan(*, only: Iterable[str] | None = None, splits: Sequence[str] | None = None,
         sources_dir: str | Path | None = None, limit: int | None = None, cache_dir: str | Path | None = None,
         generators: GeneratorProvider | None = None, engine: Engine | None = None,
         **generator_options: object) -> BuildResult:
    """Per stage, how many generations a build needs and how many are already cached. Generates nothing (and
    starts no engine: ``engine`` only decides how the generators are prepared, as in :func:`build`)."""
    return _build(None, only=only, splits=splits, sources_dir=sources_dir, limit=limit, cache_dir=cache_dir,
                  generators=generators, generator_options=generator_options, generate=False, progress=False,
                  max_failure_rate=None, engine=engine)


def build(out: str | Path, *, only: Iterable[str] | None = None, splits: Sequence[str] | None = None,
          sources_dir: str | Path | None = None, limit: int | None = None, cache_dir: str | Path | None = None,
          generators: GeneratorProvider | None = None, release: str | None = None, progress: bool = True,
          chunk_size: int = 256, max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE, engine: Engine | None = None,
          **generator_options: object) -> BuildResult:
    """Build the benchmark (or the ``only`` sub-tasks) into the release directory ``out``.

    Sources come from the Hub at the recipes' pinned revisions, or from ``sources_dir`` (original files). Every
    generation goes through the cache in ``cache_dir`` (default :func:`~compbench.build.cache.default_cache_dir`):
    a rebuild makes no model call for what is cached, and a killed build resumes. ``generators`` makes the
    generator of a task; by default the OpusMT / tone models, configured by ``generator_options`` (``backend``,
    ``translator``, ``tone_model``, ``tone_backend``, ``compute_type``, ``device``, ``dtype``, ``batch_size``,
    ``max_length``; see :func:`compbench.build.generators.model_provider`).

    ``engine`` (``compbench.engines``; default in process) runs the missing generations in chunks of
    ``chunk_size``, e.g. ``RayEngine(actors=8, gpus_per_actor=1)`` on a Ray cluster; the caller closes it. The
    engine changes no cache key and no data file; the manifest records it (``engine``).

    A stage whose share of failed generations exceeds ``max_failure_rate`` (or where every generation failed)
    raises :class:`~compbench.build.stages.BuildFailure` before anything is written.
    """
    return _build(Path(out), only=only, splits=splits, sources_dir=sources_dir, limit=limit, cache_dir=cache_dir,
                  generators=generators, generator_options=generator_options, generate=True, progress=progress,
                  release=release, chunk_size=chunk_size, max_failure_rate=max_failure_rate, engine=engine)


def _build(out: Path | None, *, only, splits, sources_dir, limit, cache_dir, generators, generator_options,
           generate: bool, progress: bool, release: str | None = None, chunk_size: int = 256,
           max_failure_rate: float | None = DEFAULT_MAX_FAILURE_RATE, engine: Engine | None = None) -> BuildResult:
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {chunk_size}")
    engine = engine or LocalEngine()
    if max_failure_rate is not None and not 0.0 <= max_failure_rate <= 1.0:
        raise ConfigError(f"--max-failure-rate must be between 0 and 1, got {max_failure_rate}")
    if out is not None:
        check_output(out)
    sources = _Sources(Path(sources_dir) if sources_dir is not None else None)
    rows = _collect_rows(select_recipes(only), splits, sources, limit)
    provider = generators or _default_provider(**generator_options)
    with GenerationCache(cache_dir if cache_dir is not None else default_cache_dir()) as cache:
        stages, used = _run_stages(rows, provider, cache, engine, generate=generate, progress=progress,
                                   chunk_size=chunk_size, max_failure_rate=max_failure_rate)
    result = BuildResult(stages, generators={task: g.info() for task, g in used.items()}, engine=engine.info())
    if out is None:
        return result
    result.out, result.manifest = out, _write_release(out, rows, stages, used, sources,
                                                       release or f"compbench-{__version__}", engine.info())
    return result


def _write_release(out: Path, rows: list[_Row], stages: list[StageStats], used: dict[str, _Identity],
                   sources: _Sources, release: str, engine: EngineInfo) -> ReleaseManifest:
    grouped: dict[tuple[str, str], list[_Row]] = {}
    for row in rows:
        grouped.setdefault((row.recipe.task_id, row.split), [])
        if not row.failed:
            grouped[(row.recipe.task_id, row.split)].append(row)
    empty = [key for key, kept in grouped.items() if not kept]
    if empty:  # a sub-task whose every row failed is never published as an empty file
        (task_id, split), total = empty[0], sum(1 for row in rows if (row.recipe.task_id, row.split) == empty[0])
        raise BuildFailure(f"sub-task {task_id} ({split}): all {total:,} rows failed generation; nothing was "
                           f"written (the failures are counted per stage: {', '.join(f'{s.name} {s.failures}' for s in stages if s.failures)})")
    staging = start_staging(out)
    files = []
    for recipe in RECIPES.values():  # registry order, then split order; rows in source order: deterministic
        for split in recipe.splits:
            if (recipe.task_id, split) not in grouped:
                continue
            records = [split_row(recipe.task, split, recipe.source, row.example, row.chain,
                                 [used[task] for task in recipe.generator_steps])
                       for row in grouped[(recipe.task_id, split)]]  # one file's rows in memory at a time
            files.extend(write_split(staging, recipe.task_id, recipe.task.config_name, split, records))
    manifest = ReleaseManifest(
        release=release,
        compbench_version=__version__,
        files=sorted(files, key=lambda f: f.path),
        sources=[sources.refs[name] for name in sorted(sources.refs)],
        generators=[g.info() for _, g in sorted(used.items())],
        failures={stage.name: stage.failures for stage in stages},
        engine=engine,
    )
    finish_release(staging, manifest)
    publish(staging, out)
    return manifest
