"""openai_chat_model against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.tools import tool

from carr_agent.errors import ConfigError
from carr_agent.models.openai_compat import openai_chat_model, resolve_api_key


@tool
def search(query: str, num: int = 5) -> str:
    """Search the web.

    Args:
        query: What to search for.
        num: How many hits.
    """
    return ""


@pytest.fixture
def server():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            reply = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {
                                        "name": "search",
                                        "arguments": json.dumps({"query": "moon", "num": 2}),
                                    },
                                }
                            ],
                        },
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen
    httpd.shutdown()
    httpd.server_close()


def test_local_server_gets_chat_completions_with_tools_and_an_empty_key(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("CARR_API_KEY", raising=False)
    base_url, seen = server
    llm = openai_chat_model("qwen-test", base_url=base_url, max_retries=0, timeout=10)
    msg = llm.bind_tools([search]).invoke("When was the Moon landing?")
    assert msg.tool_calls[0]["name"] == "search"
    assert msg.tool_calls[0]["args"] == {"query": "moon", "num": 2}
    assert msg.usage_metadata["input_tokens"] == 11
    request = seen[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer EMPTY"
    assert request["body"]["tools"][0]["function"]["name"] == "search"


def test_api_key_comes_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("CARR_API_KEY", "sk-test-carr")
    base_url, seen = server
    openai_chat_model("m", base_url=base_url, max_retries=0).invoke("hi")
    assert seen[0]["auth"] == "Bearer sk-test-carr"


def test_remote_endpoint_without_a_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("CARR_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="CARR_API_KEY"):
        resolve_api_key("https://api.deepseek.com/v1")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        openai_chat_model("gpt-4o-mini")
    assert resolve_api_key("http://10.0.0.5:8000/v1") == "EMPTY"
    assert resolve_api_key("https://api.deepseek.com/v1", "sk-x") == "sk-x"


def test_responses_api_cannot_be_switched_on():
    with pytest.raises(ConfigError, match="Chat Completions"):
        openai_chat_model("m", base_url="http://127.0.0.1:1/v1", use_responses_api=True)
