"""The reward server under hostile input: 4xx naming the problem, never 500, connection kept.

A real uvicorn server on 127.0.0.1 (in a thread) serving the real app with the deterministic
judge; requests go over one keep-alive connection (``http.client``), so a response that closes the
connection is caught.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from carr_agent.rewards.response_cache import ResponseCache
from carr_agent.rewards.server import RewardService, ServerOptions, create_app
from carr_agent.testing.fuzz import encode, pathological_cases
from tests._carr_fixture import free_port, sample_requests


def base() -> dict:
    body = copy.deepcopy(sample_requests()["cited-correct"])
    body.pop("id")
    return body


@contextmanager
def running(options: ServerOptions) -> Iterator[int]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(None, options=options), host="127.0.0.1",
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


class KeepAlive:
    """One HTTP/1.1 connection; :meth:`post` fails the test if the server closes it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.conn.connect()
        self.sock = self.conn.sock

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = "application/json") -> tuple[int, dict]:
        headers = {"Content-Type": content_type} if content_type else {}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        assert not resp.will_close, f"server closed the connection after {resp.status}"
        assert self.conn.sock is self.sock, "the connection was replaced"
        return resp.status, json.loads(data) if data.startswith(b"{") else {"text": data.decode()}

    def post(self, body: bytes, content_type: str | None = "application/json") -> tuple[int, dict]:
        return self.request("POST", "/evaluate", body, content_type)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with running(ServerOptions(judge="deterministic", max_body_bytes=2 * 2**20)) as p:
        yield p


def test_every_pathological_input_gets_a_named_4xx_or_a_score_on_one_connection(port):
    conn = KeepAlive(port)
    seen = {}
    for case in pathological_cases(base(), max_body_bytes=2 * 2**20):
        status, out = conn.post(case.body, case.content_type)
        assert status < 500, (case.name, out)
        if status >= 400:
            assert out.get("error"), (case.name, out)
        seen[case.name] = status
        # the same connection still scores a valid request
    assert conn.post(encode(base()))[0] == 200
    assert seen["lone-surrogate"] == seen["infinity"] == seen["int-5000-digits"] == 400
    assert seen["deep-json-100000"] == seen["invalid-utf8"] == 400
    assert seen["text-plain"] == 415 and seen["over-limit-10MB"] == 413
    assert seen["blank-gold-entity"] == 422 and seen["rubrics-without-E0"] == 422
    assert seen["rubrics-with-gap"] == seen["rubrics-empty-string"] == 422
    assert all(v == 200 for k, v in seen.items() if k.startswith(("bad-url", "answer-", "quadratic")))


def test_messages_name_the_problem(port):
    conn = KeepAlive(port)
    cases = {c.name: c for c in pathological_cases(base(), max_body_bytes=2 * 2**20)}
    assert "surrogate" in conn.post(cases["lone-surrogate"].body)[1]["error"]
    assert "nesting deeper" in conn.post(cases["deep-json-100000"].body)[1]["error"]
    assert "too large" in conn.post(cases["int-5000-digits"].body)[1]["error"]
    assert "exceeds the limit" in conn.post(cases["over-limit-10MB"].body)[1]["error"]
    assert "not JSON" in conn.post(encode(base()), "text/plain")[1]["error"]
    assert "E1" in conn.post(cases["blank-gold-entity"].body)[1]["error"]


def test_a_huge_integer_in_the_answer_is_scored_by_the_deterministic_judge(port):
    body = base()
    body["history"][-1]["content"] = "## Exact Answer\n123456789012345678901234567890"
    body["label"] = "123456789012345678901234567890"
    status, out = KeepAlive(port).post(encode(body))
    assert status == 200 and out["outcome_reward"] == 1.0


def test_a_missing_content_type_is_read_as_json(port):
    assert KeepAlive(port).post(encode(base()), content_type=None)[0] == 200


def test_health_answers_while_a_pathological_body_is_parsed(port):
    cases = {c.name: c for c in pathological_cases(base(), max_body_bytes=2 * 2**20)}
    slow = cases["quadratic-citations-512k"]
    result: dict = {}

    def attack() -> None:
        result["status"] = KeepAlive(port).post(slow.body)[0]

    thread = threading.Thread(target=attack)
    thread.start()
    probe = KeepAlive(port)
    worst = 0.0
    while thread.is_alive():
        t = time.perf_counter()
        assert probe.request("GET", "/health")[0] == 200
        worst = max(worst, time.perf_counter() - t)
        time.sleep(0.01)
    thread.join()
    assert result["status"] == 200 and worst < 1.0


def test_metrics_are_prometheus_text(port):
    conn = KeepAlive(port)
    conn.post(encode(base()))
    status, out = conn.request("GET", "/metrics")
    text = out["text"]
    assert status == 200
    assert 'carr_reward_requests_total{status="200"}' in text
    assert "# TYPE carr_reward_request_seconds histogram" in text
    assert 'carr_reward_judge_calls_total{kind="outcome",result="ok"}' in text
    assert "carr_reward_requests_queued 0" in text


async def test_the_deadline_answers_504_and_a_retry_collects_the_judging():
    from carr_agent.rewards.scorer import CarrScorer
    from tests.test_server_app import CountingJudge

    judge = CountingJudge(delay=0.6)
    service = RewardService(None, gold_scorer=CarrScorer(judge),
                            options=ServerOptions(judge="deterministic", deadline_s=0.2))
    status, out = await service.evaluate(base())
    assert status == 504 and out["reward"] is None and "deadline of 0.2 s" in out["error"]
    await asyncio.sleep(0.8)
    status, out = await service.evaluate(base())
    assert status == 200 and judge.calls == 1   # the first judging was kept, not repeated


def test_response_cache_is_bounded_in_bytes():
    cache = ResponseCache(size=1000, max_bytes=10_000)
    for i in range(20):
        cache.put(f"k{i}", b"x" * 3000)
    assert cache.nbytes <= 10_000 and len(cache) == 3
    cache.put("huge", b"y" * 20_000)   # larger than the budget: not kept in memory
    assert cache.get("huge") is None and cache.nbytes <= 10_000
    assert cache.get("k19") == b"x" * 3000


def test_metrics_histograms_are_cumulative_and_labels_escaped():
    from carr_agent.rewards.metrics import Counter, Histogram, Registry

    registry = Registry()
    hist = registry.add(Histogram("t_seconds", "latency", ["route"], buckets=(0.1, 1.0)))
    count = registry.add(Counter("t_total", "count", ["status"]))
    for value in (0.05, 0.5, 0.5, 5.0):
        hist.observe(value, "llm")
    count.inc('a"b\n')
    text = registry.render()
    assert 't_seconds_bucket{route="llm",le="0.1"} 1' in text
    assert 't_seconds_bucket{route="llm",le="1"} 3' in text
    assert 't_seconds_bucket{route="llm",le="+Inf"} 4' in text
    assert 't_seconds_count{route="llm"} 4' in text and 't_seconds_sum{route="llm"} 6.05' in text
    assert 't_total{status="a\\"b\\n"} 1' in text
