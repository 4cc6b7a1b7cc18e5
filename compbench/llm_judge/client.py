"""The judge's HTTP side: an OpenAI-compatible ``/v1/chat/completions`` endpoint (a vLLM server in practice).

Uses the ``openai`` package (the ``[judge]`` extra) with its own bounded retries: exponential backoff with
jitter from 0.5 s up to 8 s between tries, on connection errors, timeouts, 408, 409, 429 and 5xx answers. The
API key comes from ``$COMPBENCH_JUDGE_API_KEY``, else ``$OPENAI_API_KEY``, else the placeholder ``EMPTY`` (a vLLM
server started without ``--api-key`` accepts any key). The key is never logged, printed or written: every error
message that leaves this module has it redacted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from compbench.errors import ConfigError
from compbench.extras import require_extra
from compbench.llm_judge.requests import JudgeRequest

API_KEY_VARIABLES: tuple[str, ...] = ("COMPBENCH_JUDGE_API_KEY", "OPENAI_API_KEY")
NO_KEY = "EMPTY"
#: Status codes that say the configuration is wrong for every request (key, permission, model or URL).
FATAL_STATUS = (401, 403, 404)


def api_key_from_env() -> str:
    for name in API_KEY_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return NO_KEY


def base_url(endpoint: str) -> str:
    """``http://host:8000``, ``.../v1`` or ``.../v1/chat/completions`` -> ``http://host:8000/v1``."""
    url = endpoint.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the judge endpoint must be an http(s) URL, got {endpoint!r}")
    url = url.removesuffix("/chat/completions")
    return url if url.endswith("/v1") else f"{url}/v1"


@dataclass
class Answer:
    """What one request gave: the answer text, or why there is none."""

    text: str | None
    error: str | None = None


class FatalEndpointError(ConfigError):
    """The endpoint refused in a way that every other request would share (401, 403, 404)."""


class ChatClient:
    """One thread-safe client; :meth:`ask` is called from worker threads."""

    def __init__(self, endpoint: str, timeout: float, max_retries: int):
        require_extra("judge", "the LLM judge")
        import openai

        self._key = api_key_from_env()
        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url(endpoint), api_key=self._key, timeout=timeout,
                                     max_retries=max_retries)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key and self._key != NO_KEY else text

    def ask(self, request: JudgeRequest) -> Answer:
        """Send one request (with the client's retries). A fatal refusal raises :class:`FatalEndpointError`."""
        openai = self._openai
        try:
            response = self._client.chat.completions.create(**request.body())
        except openai.APIStatusError as exc:
            if exc.status_code in FATAL_STATUS:
                raise FatalEndpointError(
                    f"the judge endpoint answered HTTP {exc.status_code} to model {request.model!r}: check the "
                    f"URL, the served model name and the API key (${API_KEY_VARIABLES[0]})") from None
            return Answer(None, self._redact(f"HTTP {exc.status_code}: {exc.message}"))
        except openai.APITimeoutError:
            return Answer(None, "timed out (after retries)")
        except openai.APIConnectionError as exc:
            return Answer(None, self._redact(f"connection error (after retries): {exc.__cause__ or exc}"))
        choices = response.choices or []
        if not choices:
            return Answer(None, "the response has no choices")
        return Answer(choices[0].message.content or "")

    def close(self) -> None:
        self._client.close()
