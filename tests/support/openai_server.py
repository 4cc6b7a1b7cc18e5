"""A small OpenAI-compatible chat server on 127.0.0.1 for judge tests: real HTTP, scripted per request.

It answers ``POST /v1/chat/completions`` the way vLLM does, records every request (path, headers, JSON body)
and asks a *script* what to do with each: answer some text, fail with an HTTP status (optionally with a message),
or wait past the client's timeout first. Start and stop it around a test (``with JudgeServer(...) as server``);
hanging handlers are released on stop, so it never outlives the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    text: str = "1"
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (past the client's timeout: a timeout)
    message: str = ""  # error message for status >= 400


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names lowercased
    body: dict

    @property
    def prompt(self) -> str:
        return self.body["messages"][0]["content"]


Script = Callable[[int, Recorded], Reply]


def always(text: str) -> Script:
    return lambda index, request: Reply(text)


def by_prediction(answers: dict[str, Reply | str], default: Reply | str = "1") -> Script:
    """Answer by the proposed output's text (the prompt line ``Proposed ...: <text>``)."""

    def script(index: int, request: Recorded) -> Reply:
        for line in request.prompt.splitlines():
            if line.startswith("Proposed "):
                found = answers.get(line.split(": ", 1)[1], default)
                return found if isinstance(found, Reply) else Reply(found)
        raise AssertionError("no 'Proposed ...:' line in the prompt")

    return script


class JudgeServer:
    def __init__(self, script: Script | None = None, api_key: str | None = None):
        self.script = script or always("1")
        self.api_key = api_key  # when set, requests without "Authorization: Bearer <key>" get 401
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def prompts(self) -> list[str]:
        with self._lock:
            return [r.prompt for r in self.requests]

    def __enter__(self) -> JudgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) before the answer

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                recorded = Recorded(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body)
                with server._lock:
                    index = len(server.requests)
                    server.requests.append(recorded)
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._send(401, {"error": {"message": "Unauthorized"}})
                    return
                reply = server.script(index, recorded)
                if reply.delay and server._stop.wait(reply.delay):
                    return
                if reply.status >= 400:
                    self._send(reply.status, {"error": {"message": reply.message or "scripted failure",
                                                        "type": "server_error", "code": reply.status}})
                    return
                self._send(200, {
                    "id": f"chatcmpl-{index}", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

        return Handler
