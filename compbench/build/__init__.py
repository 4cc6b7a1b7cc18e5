"""Building the benchmark: ``compbench.build.build(out, ...)`` and ``compbench.build.plan(...)``."""

from compbench.build.cache import GenerationCache, default_cache_dir
from compbench.build.pipeline import BuildResult, GeneratorProvider, build, plan, select_recipes
from compbench.build.stages import StageStats

__all__ = ["BuildResult", "GenerationCache", "GeneratorProvider", "StageStats", "build", "default_cache_dir", "plan",
           "select_recipes"]
