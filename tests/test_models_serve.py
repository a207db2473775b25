"""`carr-agent models serve`: a chat model behind a real OpenAI-compatible HTTP endpoint on
127.0.0.1, used by the agent through the OpenAI client (a scripted model stands in for the local
weights, which CI does not have)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.models.serve import RequestProblem, create_model_app, parse_chat_request
from carr_agent.tools.corpus import CorpusIndex
from tests.graph_support import ANSWER, UFC_URL, write_corpus

TURNS = [{"tool_calls": [{"name": "search", "args": {"query": "Cyborg Holm event"}}]},
         {"tool_calls": [{"name": "open", "args": {"id_or_url": UFC_URL}}]},
         ANSWER]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(model: ScriptedChatModel, name: str = "local-test") -> Iterator[int]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_model_app(model, name), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def post(port: int, body: bytes, path: str = "/v1/chat/completions") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def test_the_agent_runs_through_the_endpoint(tmp_path: Path) -> None:
    from carr_agent.graph import build_agent
    from carr_agent.models.openai_compat import openai_chat_model

    CorpusIndex.build(write_corpus(tmp_path / "docs.jsonl"), tmp_path / "index")
    corpus = CorpusIndex.open(tmp_path / "index")
    with serving(ScriptedChatModel(TURNS)) as port:
        client = openai_chat_model("local-test", f"http://127.0.0.1:{port}/v1", "EMPTY")
        agent = build_agent(client, search=corpus, fetcher=corpus, max_tool_calls=5)
        state = agent.invoke({"question": "Which event?"})
    assert state["tool_calls"] == 2 and state["answer"]["exact_answer"] == "UFC 219"
    assert {r["kind"] for r in state["ledger"]} == {"search", "open"}
    assert any(c["seen"] for c in state["answer"]["citations"])


def test_models_lists_the_served_model_and_tool_calls_come_back_in_openai_form() -> None:
    body = {"model": "local-test", "messages": [{"role": "user", "content": "q"}],
            "tools": [{"type": "function", "function": {"name": "search", "parameters": {
                "type": "object", "properties": {"query": {"type": "string"}}}}}]}
    with serving(ScriptedChatModel(TURNS)) as port:
        status, data = post(port, json.dumps(body).encode())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/v1/models")
        listed = json.loads(conn.getresponse().read())
    assert status == 200, data
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "search"
    assert json.loads(call["function"]["arguments"]) == {"query": "Cyborg Holm event"}
    assert listed["data"][0]["id"] == "local-test"


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"messages": []}', 400, "non-empty list"),
    (b'{"messages": [{"role": "wizard", "content": "x"}]}', 400, "role"),
    (b'{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}', 404, "unknown model"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stream": true}', 400, "streaming"),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": -1}', 400, "temperature"),
    (b'{"messages": [{"role": "user", "content": "x"}], "tools": [{"x": 1}]}', 400, "tools"),
])
def test_bad_requests_are_4xx_naming_the_problem(body: bytes, status: int, words: str) -> None:
    with serving(ScriptedChatModel(TURNS)) as port:
        got, data = post(port, body)
    assert got == status and words in data["error"]["message"]


def test_a_model_failure_is_a_502() -> None:
    with serving(ScriptedChatModel([{"raise": "boom"}])) as port:
        got, data = post(port, b'{"messages": [{"role": "user", "content": "x"}]}')
    assert got == 502 and "boom" in data["error"]["message"]


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                     | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)


@given(st.dictionaries(st.sampled_from(["model", "messages", "tools", "tool_choice", "stream",
                                        "temperature", "max_tokens", "x"]), _json, max_size=6))
@settings(max_examples=300, deadline=None)
def test_any_json_body_is_accepted_or_refused_with_a_request_problem(body: dict) -> None:
    try:
        parse_chat_request(body, "local-test")
    except RequestProblem as exc:
        assert 400 <= exc.status < 500 and str(exc)
