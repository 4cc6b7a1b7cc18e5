"""Engines for tests: one that records (and can die after) its calls around a real engine, and a model-free one."""

from __future__ import annotations

import hashlib

import pytest


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy shared CPU each thread-pool sync costs milliseconds.
    Import it into a test module to use it there; the previous setting comes back after the module."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Recording:
    """Wraps an engine and records every ``generate`` call; with ``die_after`` it raises KeyboardInterrupt (a
    killed run) when asked for one more batch than that."""

    name = "recording"

    def __init__(self, inner=None, die_after: int | None = None):
        self.inner = inner
        self.die_after = die_after
        self.calls: list[tuple[object, list[str]]] = []

    def generate(self, plan, prompts, decoding):
        if self.die_after is not None and len(self.calls) >= self.die_after:
            raise KeyboardInterrupt("killed")
        self.calls.append((plan, list(prompts)))
        if self.inner is None:
            return [echo_output(plan, prompt) for prompt in prompts]
        return self.inner.generate(plan, prompts, decoding)

    @property
    def prompts(self) -> list[str]:
        return [prompt for _, prompts in self.calls for prompt in prompts]


def echo_output(plan, prompt: str) -> str:
    """A deterministic output naming the weights and the prompt it came from (no model)."""
    return f"out-{hashlib.sha256((plan.key + prompt).encode()).hexdigest()[:8]}"
