"""The LLM judge's parts: appendix A prompts (versioned), requests and strict verdict parsing, the answer cache,
the OpenAI-compatible client and the concurrent runner, and judge scores with bootstrap intervals.

``compbench.judging`` puts them together (``compbench judge``, ``compbench score --judge-endpoint``). Nothing here
imports ``openai`` at module import time: only :class:`compbench.llm_judge.client.ChatClient` needs the extra.
"""
