"""Engines: where generations run, behind one interface (``compbench.engines.base.Engine``).

- ``local`` (:class:`LocalEngine`, the default): in this process, through whatever runtime the generator uses
  (transformers, CTranslate2, vLLM).
- ``ray`` (:class:`~compbench.engines.ray_engine.RayEngine`, extra ``[ray]``): a Ray Data actor pool across a
  cluster, each actor building its generator once from a picklable :class:`GeneratorSpec`.

What runs is a generator's business and part of its identity (``settings["backend"]``, in the cache key); where
it runs is the engine's, recorded in the release manifest and never in a cache key. docs/engines.md has the rest.
"""

from __future__ import annotations

from typing import Any

from compbench.engines.base import Engine, GeneratorOutputError, check_outputs, chunked
from compbench.engines.local import LocalEngine
from compbench.engines.spec import GeneratorSpec
from compbench.errors import ConfigError

ENGINES = ("local", "ray")


def make_engine(name: str = "local", **options: Any) -> Engine:
    """The engine called ``name`` with its options (``ray``: ``address``, ``actors``, ``gpus_per_actor``,
    ``cpus_per_actor``, ``init_options``). Use it as a context manager so that what it started is stopped."""
    if name == "local":
        if options:
            given = ", ".join("--ray-address" if o == "address" else "--" + o.replace("_", "-") for o in sorted(options))
            raise ConfigError(f"{given}: only with --engine ray")
        return LocalEngine()
    if name == "ray":
        from compbench.engines.ray_engine import RayEngine

        return RayEngine(**options)
    raise ConfigError(f"unknown engine {name!r} (choose one of {', '.join(ENGINES)})")


__all__ = ["ENGINES", "Engine", "GeneratorOutputError", "GeneratorSpec", "LocalEngine", "check_outputs", "chunked",
           "make_engine"]
