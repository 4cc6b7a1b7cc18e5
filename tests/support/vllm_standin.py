"""A stand-in ``vllm`` package for tests (vLLM itself needs a GPU and its own environment).

It records what compbench gives it (``LLM(**kwargs)``, every ``generate`` call with its prompts, sampling
parameters and LoRA request) and answers each prompt with a text that names the LoRA directory it was served
with and the prompt's token count, so that a test can tell which weights a prediction came from.
"""

from __future__ import annotations

import importlib.machinery
import types
from pathlib import Path


class StandInVLLM(types.ModuleType):
    """``vllm`` with ``LLM``, ``SamplingParams`` and ``vllm.lora.request.LoRARequest``."""

    def __init__(self):
        super().__init__("vllm")
        self.__spec__ = importlib.machinery.ModuleSpec("vllm", loader=None)  # find_spec() reads it
        self.llms: list = []
        stand_in = self

        class SamplingParams:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        class LoRARequest:
            def __init__(self, lora_name: str, lora_int_id: int, lora_path: str):
                self.lora_name, self.lora_int_id, self.lora_path = lora_name, lora_int_id, lora_path

        class LLM:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
                self.calls: list[dict] = []
                stand_in.llms.append(self)

            def generate(self, prompts, params, lora_request=None, use_tqdm=True):
                self.calls.append({"prompts": list(prompts), "params": params.kwargs, "lora": lora_request,
                                   "use_tqdm": use_tqdm})
                served = Path(lora_request.lora_path).name if lora_request is not None else "base"
                return [types.SimpleNamespace(outputs=[types.SimpleNamespace(
                    text=f"  [{served}] {len(p['prompt_token_ids'])} tokens\n")]) for p in prompts]

        self.LLM, self.SamplingParams = LLM, SamplingParams
        self.lora = types.ModuleType("vllm.lora")
        self.lora.request = types.ModuleType("vllm.lora.request")
        self.lora.request.LoRARequest = LoRARequest

    def install(self, monkeypatch) -> StandInVLLM:
        """Put the stand-in where ``import vllm`` finds it, for one test."""
        import sys

        monkeypatch.setitem(sys.modules, "vllm", self)
        monkeypatch.setitem(sys.modules, "vllm.lora", self.lora)
        monkeypatch.setitem(sys.modules, "vllm.lora.request", self.lora.request)
        return self

    @property
    def calls(self) -> list[dict]:
        return [call for llm in self.llms for call in llm.calls]
