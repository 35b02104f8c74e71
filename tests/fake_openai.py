"""A small HTTP server on 127.0.0.1 speaking the OpenAI chat-completions wire format, with scripted replies.

Tests (and benches/) point the real langchain-openai client at it. Replies are played from a queue
(``enqueue``) or, when the queue is empty, produced by ``responder(body)``. A reply can be a function
call with given arguments (a dict, or a raw string for invalid JSON), plain text, an HTTP error
with headers (429 + Retry-After, 500), and any reply can be delayed (latency, or a hang past the
client's timeout). Every request body is recorded in ``requests``; ``log`` holds one line per
request for dumping on failure.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply."""

    arguments: dict[str, Any] | str | None = None  # function-call arguments; a str is sent verbatim
    content: str | None = None  # plain assistant text (no function call)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    input_tokens: int = 1200
    output_tokens: int = 300


def error(status: int, **headers: str) -> Reply:
    return Reply(status=status, headers=headers)


class FakeOpenAI:
    """Start with ``start()``, point the client at ``url``, stop with ``stop()``."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.queue: deque[Reply] = deque()
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[dict[str, Any]] = []
        self.log: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0  # high-water mark of requests being answered at once
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-openai", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cuts scripted delays short
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self.queue.extend(replies)

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.queue:
                return self.queue.popleft()
        if self.responder is not None:
            return self.responder(body)
        return Reply(status=500, content="no scripted reply left")

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if reply.arguments is not None:
            tools = body.get("tools") or [{"function": {"name": "unknown"}}]
            args = reply.arguments if isinstance(reply.arguments, str) else json.dumps(reply.arguments)
            function = {"name": tools[0]["function"]["name"], "arguments": args}
            call = {"id": f"call_{next(self._ids)}", "type": "function", "function": function}
            message["tool_calls"] = [call]
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {
                "prompt_tokens": reply.input_tokens,
                "completion_tokens": reply.output_tokens,
                "total_tokens": reply.input_tokens + reply.output_tokens,
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls

            def log_message(self, format: str, *args: Any) -> None:  # quiet: requests go to fake.log
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                    return
                reply = fake._next(body)
                wait = fake.latency + reply.delay
                fake.log.append(f"POST {self.path} model={body.get('model')} -> {reply.status} after {wait:g}s")
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    stopped = bool(wait) and fake._stopping.wait(wait)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                if stopped:
                    return
                if reply.status != 200:
                    kind = "rate_limit_error" if reply.status == 429 else "server_error"
                    payload = {"error": {"message": reply.content or "scripted error", "type": kind}}
                    self._send(reply.status, payload, reply.headers)
                    return
                self._send(200, fake._completion(body, reply), reply.headers)

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        return Handler
