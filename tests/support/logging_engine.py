"""An evaluation engine that logs every call to a file, for the Ray tests: a Ray actor builds it from an import
path, so its calls cannot be counted in the test's memory. Each ``generate`` call is one JSON line (pid, plan key,
prompts), written under an exclusive lock; ``fail_after`` makes every call after the first N (counted over all
processes) raise :class:`~tests.support.recording_generators.Interrupted`, a job killed midway. Outputs come from the transformers engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from compbench.evaluation.engine import TransformersEngine
from tests.support.recording_generators import log_call, logged_calls  # noqa: F401 (the tests read the log with it)

RUNTIME = "tests.support.logging_engine:LoggingEngine"


class LoggingEngine(TransformersEngine):
    name = "logging"

    def __init__(self, device: str = "cpu", batch_size: int = 16, *, log: str, fail_after: int | None = None):
        super().__init__(device=device, batch_size=batch_size)
        self.log, self.fail_after = Path(log), fail_after

    def generate(self, plan, prompts: Sequence[str], decoding) -> list[str]:
        log_call(self.log, {"plan": plan.key, "prompts": list(prompts)}, self.fail_after)
        return super().generate(plan, prompts, decoding)

