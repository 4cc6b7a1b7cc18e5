"""An evaluation engine that logs every call to a file, for the Ray tests: a Ray actor builds it from an import
path, so its calls cannot be counted in the test's memory. Each ``generate`` call is one JSON line (pid, plan key,
prompts), written under an exclusive lock; ``fail_after`` makes every call after the first N (counted over all
processes) raise :class:`Interrupted`, a job killed midway. Outputs come from the transformers engine."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from compbench.evaluation.engine import TransformersEngine

RUNTIME = "tests.support.logging_engine:LoggingEngine"


class Interrupted(RuntimeError):
    """What the logging engine raises to simulate a job killed midway."""


class LoggingEngine(TransformersEngine):
    name = "logging"

    def __init__(self, device: str = "cpu", batch_size: int = 16, *, log: str, fail_after: int | None = None):
        super().__init__(device=device, batch_size=batch_size)
        self.log, self.fail_after = Path(log), fail_after

    def generate(self, plan, prompts: Sequence[str], decoding) -> list[str]:
        with open(self.log, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            calls = sum(1 for _ in handle)
            if self.fail_after is not None and calls >= self.fail_after:
                raise Interrupted(f"interrupted after {calls} calls")
            handle.write(json.dumps({"pid": os.getpid(), "plan": plan.key, "prompts": list(prompts)}) + "\n")
        return super().generate(plan, prompts, decoding)


def logged_calls(log: Path) -> list[dict]:
    """Every call recorded in ``log``, in the order they were made."""
    if not Path(log).exists():
        return []
    return [json.loads(line) for line in Path(log).read_text(encoding="utf-8").splitlines()]
