"""The /evaluate app in process: judge routing, persistent response cache, timeouts, factories."""

from __future__ import annotations

import asyncio
import copy

import pytest
from starlette.testclient import TestClient

from carr_agent.errors import ConfigError
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.protocol import RequestError, parse_request
from carr_agent.rewards.scorer import CarrScorer
from carr_agent.rewards.server import RewardService, ServerOptions, create_app
from tests._carr_fixture import sample_requests


class CountingJudge(DeterministicJudge):
    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.calls = 0
        self.delay = delay

    async def judge_outcome(self, *args, **kwargs):
        self.calls += 1
        await asyncio.sleep(self.delay)
        return await super().judge_outcome(*args, **kwargs)


def body(rid: str = "cited-correct") -> dict:
    return copy.deepcopy(sample_requests()[rid])


async def test_without_llm_judge_gold_entity_requests_use_the_deterministic_judge():
    service = RewardService(None)
    status, out = await service.evaluate(body())
    assert status == 200 and out["reward"] == pytest.approx(1.0)
    plain = body()
    del plain["remote_env_info"]["entities"]
    status, out = await service.evaluate(plain)
    assert status == 422 and "remote_env_info.entities" in out["detail"]


async def test_judge_llm_without_an_llm_scorer_is_503():
    service = RewardService(None, options=ServerOptions(judge="llm"))
    status, out = await service.evaluate(body())
    assert status == 503 and "no LLM judge" in out["error"]


async def test_persistent_cache_answers_identical_requests_after_a_restart(tmp_path):
    judge = CountingJudge()
    options = ServerOptions(judge="deterministic", cache_path=tmp_path / "responses.sqlite")
    first = RewardService(None, gold_scorer=CarrScorer(judge), options=options)
    status, out = await first.evaluate(body())
    await first.aclose()
    second = RewardService(None, gold_scorer=CarrScorer(judge), options=options)
    assert await second.evaluate(body()) == (status, out)
    assert judge.calls == 1 and second.stats.cache_hits == 1


async def test_slow_judging_times_out_with_504_and_null_reward():
    judge = CountingJudge(delay=1)
    service = RewardService(None, gold_scorer=CarrScorer(judge),
                            options=ServerOptions(judge="deterministic", timeout_s=0.2))
    status, out = await service.evaluate(body())
    assert status == 504 and out["reward"] is None and "0.2 s" in out["error"]


def test_app_builds_the_scorer_from_a_factory_at_startup_and_serves_health():
    made = []

    def factory():
        made.append(1)
        return CarrScorer(DeterministicJudge())

    with TestClient(create_app(factory, options=ServerOptions(judge="llm"))) as client:
        assert made == [1]
        resp = client.post("/evaluate", json=body())
        assert resp.status_code == 200 and resp.json()["reward"] == pytest.approx(1.0)
        assert client.get("/health").json()["llm_judge"] is True


def test_request_validation_names_the_key():
    with pytest.raises(RequestError) as err:
        parse_request({"history": [], "label": "x", "task_unfinished": False,
                       "remote_env_info": {"search_forbidden_strs": ["q"], "rubrics": ["ok", 3]}})
    assert err.value.key == "remote_env_info.rubrics[1]" and err.value.status == 422
    with pytest.raises(RequestError) as err:
        parse_request([1, 2])
    assert err.value.status == 400
    unfinished = parse_request({"history": [], "label": "x", "task_unfinished": True, "remote_env_info": {}})
    assert unfinished.task_unfinished


def test_server_options_are_validated():
    with pytest.raises(ConfigError):
        ServerOptions(concurrency=0)
    with pytest.raises(ConfigError):
        ServerOptions(judge="oracle")  # type: ignore[arg-type]


def _mutations(obj, path=()):
    """Every (path, replacement) that swaps one JSON value of the request for an odd one."""
    odd = [None, 1, 2.5, True, [], {}, "x", [1], [{"a": 1}], {"tool_call_id": "tc-1"}]
    if path:
        for value in odd:
            yield path, value
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _mutations(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _mutations(value, (*path, i))


async def test_no_single_odd_value_anywhere_in_a_request_causes_a_server_error():
    service = RewardService(None)
    original = body()
    statuses = set()
    for path, value in _mutations(original):
        mutated = copy.deepcopy(original)
        target = mutated
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        status, out = await service.evaluate(mutated)   # must not raise
        assert status in (200, 400, 422), (path, value, out)
        statuses.add(status)
    assert statuses == {200, 422}
