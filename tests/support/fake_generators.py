"""Deterministic stand-ins for the reference generators, for testing the build pipeline without models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

FIXTURE_SOURCES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


class FakeGenerator:
    """Prefixes each text with ``[task]``; returns None (a failure) for texts containing ``fail_if``."""

    def __init__(self, task: str, provider: FakeProvider):
        self.task, self.model_id, self.revision = task, f"fake/{task}", "rev-1"
        self._provider = provider

    @property
    def settings(self) -> dict[str, object]:
        return {"style": "prefix"}

    def generate(self, texts: Sequence[str]) -> list[str | None]:
        self._provider.before_call()
        self._provider.generated.extend((self.task, t) for t in texts)
        return [None if self._provider.fail_if and self._provider.fail_if in t else f"[{self.task}] {t}"
                for t in texts]


class Interrupted(RuntimeError):
    """What the fake generators raise to simulate a build killed mid-way."""


@dataclass
class FakeProvider:
    """A generator provider that counts model calls and can fail texts or stop after ``raise_after`` calls."""

    fail_if: str | None = None
    raise_after: int | None = None
    calls: int = 0
    made: list[str] = field(default_factory=list)
    generated: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, task: str) -> FakeGenerator:
        self.made.append(task)
        return FakeGenerator(task, self)

    def before_call(self) -> None:
        if self.raise_after is not None and self.calls >= self.raise_after:
            raise Interrupted(f"interrupted after {self.calls} model calls")
        self.calls += 1


def tree_bytes(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative POSIX path -> content), to compare two builds byte for byte."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
