"""A deterministic fake generator that any process can build from a spec, and that logs every call to a file.

For the engine tests: a Ray actor builds :class:`RecordingGenerator` from a :class:`GeneratorSpec`, so the calls it
makes cannot be counted in the test's memory; they go to a JSON Lines log instead (one line per ``generate`` call,
written under an exclusive lock, so calls from several actors never interleave). ``fail_after`` makes every call
after the first N (counted over all processes) raise :class:`Interrupted`: a job killed midway.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from compbench.engines import GeneratorSpec

FACTORY = "tests.support.recording_generators:RecordingGenerator"


class Interrupted(RuntimeError):
    """What the recording generator raises to simulate a job killed mid-way."""


class RecordingGenerator:
    """Prefixes each text with ``[task]``; ``None`` for texts containing ``fail_if``; logs each call to ``log``."""

    def __init__(self, task: str, *, log: str, fail_after: int | None = None, fail_if: str | None = None,
                 device: str = "cpu"):
        self.task, self.model_id, self.revision = task, f"fake/{task}", "rev-1"
        self.log, self.fail_after, self.fail_if, self.device = Path(log), fail_after, fail_if, device

    @property
    def settings(self) -> dict[str, object]:
        return {"style": "prefix"}

    def generate(self, texts: Sequence[str]) -> list[str | None]:
        log_call(self.log, {"task": self.task, "texts": list(texts), "threads": os.environ.get("OMP_NUM_THREADS")},
                 self.fail_after)
        return [None if self.fail_if and self.fail_if in text else f"[{self.task}] {text}" for text in texts]


def log_call(log: Path, record: dict, fail_after: int | None = None) -> None:
    """Append ``record`` (with this process's pid) to ``log`` as one JSON line, under an exclusive lock; raise
    :class:`Interrupted` instead once ``fail_after`` calls (over all processes) are logged."""
    with open(log, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        calls = sum(1 for _ in handle)
        if fail_after is not None and calls >= fail_after:
            raise Interrupted(f"interrupted after {calls} calls")
        handle.write(json.dumps({"pid": os.getpid(), **record}) + "\n")


def recording_provider(log: Path, **options: object):
    """A build provider returning :class:`RecordingGenerator` specs that log to ``log``."""

    def provide(task: str) -> GeneratorSpec:
        return GeneratorSpec(FACTORY, {"task": task, "log": str(log), **options}, device="cpu")

    return provide


def logged_calls(log: Path) -> list[dict]:
    """Every call recorded in ``log`` (task, pid, texts, the process's OMP_NUM_THREADS), in the order they were made."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


class DeviceNamedGenerator(RecordingGenerator):
    """A generator whose identity wrongly depends on its device (what a worker-side identity check must catch)."""

    def __init__(self, task: str, *, device: str = "cpu", **options):
        super().__init__(task, device=device, **options)
        self.model_id = f"fake/{task}-{device}"
