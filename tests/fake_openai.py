"""The one fake OpenAI-compatible chat server of the agent tests (the judge's fake server is
:mod:`carr_agent.testing.fake_judge_server`).

A real HTTP server on 127.0.0.1 answering ``POST /v1/chat/completions`` with scripted assistant
turns: turn ``i`` answers a request holding ``i`` assistant messages, so concurrent runs each get
the right turn. Every request body is kept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (prompt tokens, completion tokens) reported for turn ``n``.
Usage = Callable[[int], tuple[int, int]]


def openai_turn(turn: dict[str, Any] | str, n: int) -> dict[str, Any]:
    """An agent-script turn (``{"content", "tool_calls": [{"name", "args"}]}`` or a string) as an
    OpenAI assistant message."""
    if isinstance(turn, str):
        return {"role": "assistant", "content": turn}
    calls = [{"id": f"call_{n}_{i}", "type": "function",
              "function": {"name": c["name"], "arguments": json.dumps(c["args"])}}
             for i, c in enumerate(turn.get("tool_calls", []))]
    message: dict[str, Any] = {"role": "assistant", "content": turn.get("content", "")}
    if calls:
        message["tool_calls"] = calls
    return message


class FakeOpenAIServer:
    """Serves ``turns`` (OpenAI assistant messages, without ``role``); use as a context manager.

    Args:
        turns: the assistant messages, in order.
        usage: token counts reported per turn (default: 100 prompt, 10 completion).
    """

    def __init__(self, turns: Sequence[dict[str, Any]], usage: Usage = lambda n: (100, 10)) -> None:
        self.turns, self.requests = list(turns), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                n = sum(m.get("role") == "assistant" for m in body["messages"])
                message = {"role": "assistant", **server.turns[n]}
                prompt, completion = usage(n)
                reply = json.dumps({
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
