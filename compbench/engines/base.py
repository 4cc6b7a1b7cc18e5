"""What every engine offers: chunks of texts in, ``(chunk index, outputs)`` out as they finish.

An engine decides where generations run, never what they are: the caller (the build's stage runner) keeps the
generation cache, writes every chunk's outputs to it as the engine yields them, and so a killed run resumes
whatever engine ran it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from compbench.engines.spec import GeneratorSpec
from compbench.generation.base import Generator
from compbench.schemas import EngineInfo

Outputs = list[str | None]


class GeneratorOutputError(RuntimeError):
    """A generator broke its contract (wrong number or type of outputs)."""


@runtime_checkable
class Engine(Protocol):
    """Runs a generator over chunks of texts. ``prepare`` gives the driver's generator (its identity, and, in
    process, the one that runs); ``run`` yields each chunk's outputs, in any order, as soon as it is done."""

    name: str

    def prepare(self, made: Generator | GeneratorSpec) -> tuple[Generator, GeneratorSpec | None]: ...

    def run(self, generator: Generator, spec: GeneratorSpec | None,
            chunks: Sequence[Sequence[str]]) -> Iterator[tuple[int, Outputs]]: ...

    def info(self) -> EngineInfo: ...

    def close(self) -> None: ...


def check_outputs(results: object, chunk: Sequence[str], generator: Generator) -> Outputs:
    """``results`` if it is one ``str | None`` per input of ``chunk``; else :class:`GeneratorOutputError`."""
    if not isinstance(results, list) or len(results) != len(chunk):
        got = len(results) if isinstance(results, list) else type(results).__name__
        raise GeneratorOutputError(f"{generator.task} generator {generator.model_id!r} returned {got} outputs "
                                   f"for {len(chunk)} inputs")
    bad = [r for r in results if r is not None and not isinstance(r, str)]
    if bad:
        raise GeneratorOutputError(f"{generator.task} generator returned a {type(bad[0]).__name__}, expected str")
    return results


def chunked(texts: Sequence[str], size: int) -> list[list[str]]:
    """``texts`` in consecutive chunks of ``size`` (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [list(texts[start:start + size]) for start in range(0, len(texts), size)]
