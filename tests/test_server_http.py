"""`carr-agent serve-reward` as a real process, judged by the fake judge server process over HTTP.

The reward server is a drop-in replacement for the reference /evaluate server: same request and
response shapes, 400 naming a missing key, zeros for unfinished tasks; plus this project's
changes: 422 for malformed histories, 502 for judge failures, cached identical retries.
"""

from __future__ import annotations

import asyncio
import copy
import json

import httpx
import pytest

from tests._carr_fixture import (
    carr_agent_cmd,
    free_port,
    sample_requests,
    start_fake_judge,
    start_server,
    stop,
)

RUBRIC_FIELDS = {"raw_rubric", "filled_rubric", "entity_values", "all_entity_identified",
                 "is_supported", "connected_to_answer", "score"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("servers")
    judge, judge_port = start_fake_judge(tmp)
    port = free_port()
    cmd = [*carr_agent_cmd(), "serve-reward", "--port", str(port), "--judge", "llm",
           "--judge-base-url", f"http://127.0.0.1:{judge_port}/v1", "--judge-model", "fake-judge",
           "--concurrency", "2", "--judge-cache", "off"]
    try:
        server = start_server(cmd, port, log=tmp / "server.log")
    except Exception:
        stop(judge)
        raise
    yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{judge_port}"
    stop(server)
    stop(judge)


@pytest.fixture()
def urls(servers):
    base, judge = servers
    httpx.post(f"{judge}/control", json={"mode": "ok", "latency_ms": 0})
    return base, judge


def judge_stats(judge: str) -> dict:
    return httpx.get(f"{judge}/stats").json()


def request(rid: str, **changes) -> dict:
    body = copy.deepcopy(sample_requests()[rid])
    body.pop("id")
    body["remote_env_info"].pop("entities")  # a plain reference request
    body.update(changes)
    return body


def post(base: str, body, **kw) -> httpx.Response:
    return httpx.post(f"{base}/evaluate", json=body, timeout=60, **kw)


def test_reference_request_gets_reference_response(urls):
    base, _ = urls
    resp = post(base, request("cited-correct", nonce=1))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {"reward", "outcome_reward", "rubric_reward", "rubric_scores"} <= set(body)
    assert body["outcome_reward"] == 1.0 and body["rubric_reward"] == 1.0
    assert body["reward"] == pytest.approx(1.0)
    assert list(body["rubric_scores"]) == ["0", "1", "2", "3"]
    assert all(set(v) == RUBRIC_FIELDS for v in body["rubric_scores"].values())
    assert body["rubric_scores"]["1"]["filled_rubric"] == "Anton Marek was born in Brastow."
    assert body["rubric_scores"]["1"]["entity_values"] == {"E1": "Anton Marek", "E2": "Brastow"}


def test_wrong_and_uncited_answers_score_lower(urls):
    base, _ = urls
    uncited = post(base, request("uncited-correct")).json()
    assert (uncited["outcome_reward"], uncited["rubric_reward"]) == (1.0, 0.0)
    assert uncited["reward"] == pytest.approx(0.7)
    wrong = post(base, request("cited-wrong")).json()
    assert wrong["outcome_reward"] == 0.0 and wrong["reward"] < 0.3


@pytest.mark.parametrize("key", ["history", "label", "task_unfinished", "remote_env_info"])
def test_missing_top_level_key_is_400_naming_it(urls, key):
    base, _ = urls
    body = request("cited-correct")
    del body[key]
    resp = post(base, body)
    assert resp.status_code == 400
    assert key in resp.json()["detail"]


def test_unfinished_task_and_missing_final_answer_score_zero_without_judging(urls):
    base, judge = urls
    before = judge_stats(judge)["calls"]
    zeros = {"reward": 0.0, "outcome_reward": 0.0, "rubric_reward": 0.0, "rubric_scores": {}}
    assert post(base, request("unfinished")).json() == zeros
    assert post(base, request("no-final-answer")).json() == zeros
    tool_last = request("cited-correct")
    tool_last["history"] = tool_last["history"][:-1]
    assert post(base, tool_last).json() == zeros
    assert judge_stats(judge)["calls"] == before


def test_alpha_zero_skips_rubric_judging_and_alpha_one_skips_outcome(urls):
    base, judge = urls
    httpx.post(f"{judge}/reset")
    outcome_only = post(base, request("outcome-only")).json()
    assert outcome_only == {**outcome_only, "reward": 1.0, "outcome_reward": 1.0, "rubric_reward": 0.0,
                            "rubric_scores": {}}
    assert judge_stats(judge)["by_kind"] == {"outcome": 1}
    httpx.post(f"{judge}/reset")
    rubric_only = post(base, request("rubric-only")).json()
    assert rubric_only["outcome_reward"] == 0.0 and rubric_only["reward"] == pytest.approx(1.0)
    assert "outcome" not in judge_stats(judge)["by_kind"]


@pytest.mark.parametrize("breakage", ["unknown_call_id", "tool_without_content",
                                      "non_string_output", "history_not_list", "bad_alpha"])
def test_malformed_requests_get_a_clear_4xx_never_500(urls, breakage):
    base, _ = urls
    body = request("cited-correct")
    history = body["history"]
    if breakage == "unknown_call_id":
        history[2]["content"][0]["tool_call_id"] = "nope"
    elif breakage == "tool_without_content":
        del history[2]["content"]
    elif breakage == "non_string_output":
        history[2]["content"][0]["output"] = {"hits": []}
    elif breakage == "history_not_list":
        body["history"] = "hello"
    else:
        body["remote_env_info"]["rubric_reward_ratio"] = 3
    resp = post(base, body)
    assert resp.status_code in (400, 422), resp.text
    assert resp.json()["detail"]


def test_invalid_json_body_is_400(urls):
    base, _ = urls
    resp = httpx.post(f"{base}/evaluate", content=b"{not json", timeout=10)
    assert resp.status_code == 400


def test_identical_retry_is_answered_from_cache_without_judging(urls):
    base, judge = urls
    body = request("cited-correct", nonce="retry")
    first = post(base, body)
    calls = judge_stats(judge)["calls"]
    assert calls > 0
    reordered = json.loads(json.dumps(body))
    reordered = {k: reordered[k] for k in reversed(list(reordered))}  # key order does not matter
    second = post(base, reordered)
    assert second.status_code == 200 and second.json() == first.json()
    assert judge_stats(judge)["calls"] == calls


def test_retry_arriving_while_first_is_judged_awaits_the_same_judging(urls):
    base, judge = urls
    httpx.post(f"{judge}/control", json={"latency_ms": 400})
    body = request("cited-correct", nonce="in-flight")
    health_before = httpx.get(f"{base}/health").json()
    calls_before = judge_stats(judge)["calls"]

    async def both():
        async with httpx.AsyncClient(timeout=60) as client:
            first = asyncio.create_task(client.post(f"{base}/evaluate", json=body))
            await asyncio.sleep(0.15)
            second = await client.post(f"{base}/evaluate", json=body)
            return await first, second

    first, second = asyncio.run(both())
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert judge_stats(judge)["calls"] - calls_before == 3   # entities, outcome, support: once
    health = httpx.get(f"{base}/health").json()
    assert health["joined_in_flight"] == health_before["joined_in_flight"] + 1


def test_judge_failure_is_502_with_null_reward_and_is_not_cached(urls):
    base, judge = urls
    body = request("cited-correct", nonce="failure")
    httpx.post(f"{judge}/control", json={"mode": "error"})
    failed = post(base, body)
    assert failed.status_code == 502
    payload = failed.json()
    assert payload["reward"] is None and payload["error"]
    httpx.post(f"{judge}/control", json={"mode": "ok"})
    retried = post(base, body)
    assert retried.status_code == 200 and retried.json()["reward"] == pytest.approx(1.0)


def test_concurrency_limit_bounds_judge_calls_in_flight(urls):
    base, judge = urls
    httpx.post(f"{judge}/control", json={"latency_ms": 150})
    httpx.post(f"{judge}/reset")

    async def many():
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(client.post(f"{base}/evaluate",
                                                      json=request("cited-correct", nonce=f"c{i}"))
                                          for i in range(6)))

    responses = asyncio.run(many())
    assert all(r.status_code == 200 for r in responses)
    # --concurrency 2: two requests at a time, each with at most 2 judge calls at once
    assert judge_stats(judge)["max_in_flight"] <= 4


def test_health_reports_counters(urls):
    base, _ = urls
    health = httpx.get(f"{base}/health").json()
    assert health["status"] == "ok" and health["llm_judge"] is True
    assert health["cache_hits"] >= 0 and health["requests"] >= 0
