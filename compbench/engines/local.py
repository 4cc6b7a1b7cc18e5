"""The default engine: every chunk through ``generator.generate`` in this process, in order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from compbench.engines.base import Outputs
from compbench.engines.spec import GeneratorSpec
from compbench.generation.base import Generator
from compbench.schemas import EngineInfo


class LocalEngine:
    """In process (transformers, CTranslate2 or vLLM, as the generator says): what ``compbench build`` does by
    default. A spec is built here, on its own device."""

    name = "local"

    def prepare(self, made: Generator | GeneratorSpec) -> tuple[Generator, GeneratorSpec | None]:
        if isinstance(made, GeneratorSpec):
            return made.build(), made
        return made, None

    def run(self, generator: Generator, spec: GeneratorSpec | None,
            chunks: Sequence[Sequence[str]]) -> Iterator[tuple[int, Outputs]]:
        for index, chunk in enumerate(chunks):
            yield index, generator.generate(chunk)

    def info(self) -> EngineInfo:
        return EngineInfo(name=self.name)

    def close(self) -> None:
        """Nothing to release (for symmetry with :class:`~compbench.engines.ray_engine.RayEngine`)."""

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
