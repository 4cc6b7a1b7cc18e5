"""One judge request: the chat completion body, its cache key, and how its answer is read.

The cache key is the sha256 of the canonical JSON of the body (model, messages, temperature, max_tokens, seed).
It leaves out the endpoint, the API key and the timeout: the same model name asked the same thing is the same
question wherever it is served, so moving a vLLM server to another host keeps the cache. A different served
model name, prompt, or parameter is a different key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from compbench.llm_judge.prompts import CURRENT_VERSION, VERSIONS, judge_prompt
from compbench.tasks import Task

#: The whole answer must be one digit 0 or 1, optionally followed by one full stop, with surrounding whitespace
#: (spaces, tabs, newlines) allowed. Anything else ("1 (yes)", "**1**", "01", "", "Yes") is unparseable.
VERDICT_PATTERN = re.compile(r"\s*([01])\.?\s*")


def parse_verdict(answer: str | None) -> int | None:
    """``0`` or ``1`` for an answer that is exactly that (see :data:`VERDICT_PATTERN`), else ``None``."""
    if answer is None:
        return None
    match = VERDICT_PATTERN.fullmatch(answer)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class JudgeRequest:
    model: str
    prompt: str
    version: str = CURRENT_VERSION

    def body(self) -> dict:
        """The ``/v1/chat/completions`` request body, as sent."""
        params = VERSIONS[self.version]
        return {"model": self.model, "messages": [{"role": "user", "content": self.prompt}],
                "temperature": params.temperature, "max_tokens": params.max_tokens, "seed": params.seed}

    @property
    def key(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_request(task: Task, model: str, source: str, reference: str, prediction: str,
                  version: str = CURRENT_VERSION) -> JudgeRequest:
    return JudgeRequest(model=model, prompt=judge_prompt(task, source, reference, prediction, version),
                        version=version)
