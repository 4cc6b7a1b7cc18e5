"""A picklable recipe for a generator, so that any process (a Ray actor on another machine) can build its own.

A generator object is not what travels: it holds resolved local paths (a Hub snapshot in the driver's cache) and,
once used, loaded weights. A :class:`GeneratorSpec` names a factory by import path and the keyword arguments to
call it with; each worker calls it once and so resolves and loads the model itself. The device is kept apart
from the other arguments because it never changes a generator's identity (see ``compbench.generation.base``):
the driver of a cluster job, which may have no GPU, builds the same generator on ``cpu`` only to learn its
identity (weights load lazily, so nothing is loaded there).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compbench.errors import ConfigError
from compbench.generation.base import Generator


@dataclass(frozen=True)
class GeneratorSpec:
    """``factory(**kwargs, device=device)`` names a generator; ``factory`` is ``"package.module:callable"``."""

    factory: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    device: str | None = None  # passed as ``device=`` when set

    def __post_init__(self) -> None:
        module, _, name = self.factory.partition(":")
        if not module or not name:
            raise ConfigError(f"a generator factory is 'package.module:callable', got {self.factory!r}")
        if "device" in self.kwargs:
            raise ConfigError("give the device as GeneratorSpec(device=...), not among its kwargs")

    def build(self, *, device: str | None = None) -> Generator:
        """Call the factory (on ``device`` instead of the spec's own, when given) and check the result."""
        kwargs = dict(self.kwargs)
        if self.device is not None:
            kwargs["device"] = device or self.device
        generator = import_factory(self.factory)(**kwargs)
        if not isinstance(generator, Generator):
            raise ConfigError(f"{self.factory} made a {type(generator).__name__}, which does not implement "
                              "compbench.generation.base.Generator")
        return generator

    def build_identity(self) -> Generator:
        """The same generator on ``cpu``: what the cache keys and the manifest need, on a machine without a GPU."""
        return self.build(device="cpu")


def import_factory(factory: str) -> Callable[..., Any]:
    """The callable that ``"package.module:callable"`` names; a :class:`ConfigError` if there is none."""
    module_name, _, attribute = factory.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import the generator factory {factory!r} ({exc})") from None
    if not callable(target):
        raise ConfigError(f"the generator factory {factory!r} is not callable")
    return target
