"""The lean OpenAI-compatible judge client against real HTTP servers on 127.0.0.1: replies,
kept-alive connections, stale connections, chunked bodies, errors, and the judge's limits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from carr_agent.errors import ConfigError, JudgeError
from carr_agent.rewards.judges.openai_http import JudgeLimits, OpenAIChatClient


class Judge:
    """A chat-completions endpoint; ``mode`` picks how it answers; it records what it saw."""

    def __init__(self, mode: str = "ok", delay: float = 0.0) -> None:
        self.mode, self.delay = mode, delay
        self.bodies: list[dict] = []
        self.peers: set[tuple[str, int]] = set()
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.bodies.append(body)
                    outer.peers.add(self.client_address)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                time.sleep(outer.delay)
                with outer.lock:
                    outer.in_flight -= 1
                reply = json.dumps({"choices": [{"message": {"role": "assistant",
                                                             "content": "correct: yes"}}],
                                    "usage": {"completion_tokens": 3}}).encode()
                if outer.mode == "error":
                    self.send_response(500)
                    reply = b'{"error": "boom"}'
                elif outer.mode == "garbage":
                    self.send_response(200)
                    reply = b"not json"
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if outer.mode == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(reply), 7):
                        part = reply[i:i + 7]
                        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                if outer.mode == "drop-idle":  # closes without saying so, like an idle timeout
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def judge():
    server = Judge()
    yield server
    server.stop()


def client(url: str, **kw) -> OpenAIChatClient:
    return OpenAIChatClient(base_url=url, model="judge-model", api_key="k", **kw)


async def test_replies_and_reuses_one_connection(judge):
    c = client(judge.url, temperature=0.5)
    for _ in range(3):
        reply = await c.ainvoke([{"role": "user", "content": "hi"}])
        assert reply.content == "correct: yes"
    assert len(judge.peers) == 1
    assert judge.bodies[0] == {"model": "judge-model", "temperature": 0.5,
                               "messages": [{"role": "user", "content": "hi"}]}


async def test_no_temperature_is_sent_unless_given(judge):
    await client(judge.url).ainvoke([{"role": "user", "content": "hi"}])
    assert "temperature" not in judge.bodies[0]


@pytest.mark.parametrize("mode", ["drop-idle", "chunked"])
async def test_stale_connections_are_replaced_and_chunked_replies_read(judge, mode):
    judge.mode = mode
    c = client(judge.url)
    for _ in range(3):
        assert (await c.ainvoke([{"role": "user", "content": "x"}])).content == "correct: yes"


@pytest.mark.parametrize("mode", ["error", "garbage"])
async def test_http_errors_and_garbage_are_judge_errors(judge, mode):
    judge.mode = mode
    with pytest.raises(JudgeError):
        await client(judge.url).ainvoke([{"role": "user", "content": "x"}])


async def test_an_unreachable_judge_is_a_judge_error(judge):
    judge.stop()
    with pytest.raises(JudgeError):
        await client(judge.url, timeout_s=2).ainvoke([{"role": "user", "content": "x"}])


async def test_calls_in_flight_never_exceed_the_limit(judge):
    judge.delay = 0.2
    c = client(judge.url, limits=JudgeLimits(max_in_flight=2))
    await asyncio.gather(*(c.ainvoke([{"role": "user", "content": "x"}]) for _ in range(6)))
    assert judge.max_in_flight == 2


async def test_requests_per_minute_spread_the_calls(judge):
    c = client(judge.url, limits=JudgeLimits(requests_per_minute=120))  # 2 per second
    start = time.perf_counter()
    await asyncio.gather(*(c.ainvoke([{"role": "user", "content": "x"}]) for _ in range(5)))
    assert time.perf_counter() - start >= 1.4


def test_bad_limits_and_urls_are_config_errors():
    with pytest.raises(ConfigError):
        JudgeLimits(max_in_flight=0)
    with pytest.raises(ConfigError):
        JudgeLimits(tokens_per_minute=-5)
    with pytest.raises(ConfigError):
        client("ftp://judge/v1")
    with pytest.raises(ConfigError):
        client("http://judge:99999/v1")


def test_judge_limits_come_from_the_configuration_and_the_environment():
    from carr_agent.rewards.judges import JudgeConfig, build_llm_judge

    env = {"CARR_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "CARR_JUDGE_MODEL": "m",
           "CARR_JUDGE_API_KEY": "k", "CARR_JUDGE_RPM": "600", "CARR_JUDGE_TPM": "90000",
           "CARR_JUDGE_CONCURRENCY": "7", "CARR_JUDGE_CACHE": "off"}
    judge = build_llm_judge(JudgeConfig.from_env(env))
    assert judge.chat_model.limits == JudgeLimits(max_in_flight=7, requests_per_minute=600,
                                                  tokens_per_minute=90000)
    with pytest.raises(ConfigError):
        JudgeConfig.from_env({**env, "CARR_JUDGE_RPM": "fast"})
    with pytest.raises(ConfigError):
        JudgeConfig.from_env({**env, "CARR_JUDGE_TPM": "-1"})


async def test_tokens_per_minute_spread_large_prompts(judge):
    c = client(judge.url, limits=JudgeLimits(tokens_per_minute=60 * 400))  # 400 tokens/s
    prompt = "x" * 1600  # ~400 tokens each: one per second
    start = time.perf_counter()
    await asyncio.gather(*(c.ainvoke([{"role": "user", "content": prompt}]) for _ in range(3)))
    assert time.perf_counter() - start >= 1.8
