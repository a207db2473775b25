"""The slime adapter against slime's documented interfaces (slime itself is not on PyPI and is not
installed here): ``--custom-rm-path`` functions called as ``await fn(args, sample)`` with a
``Sample``-shaped object, in process and against a real ``carr-agent serve-reward`` process, and
the ``--custom-reward-post-process-path`` hook fed with their reward dicts.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from carr_agent.errors import ConfigError, JudgeError
from carr_agent.integrations import slime
from carr_agent.integrations.common import batch_cgrpo, result_from_reward_dict
from carr_agent.rewards.cgrpo import GroupOptions
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.scorer import CarrScorer
from carr_agent.rewards.server import RewardService
from tests._carr_fixture import (
    carr_agent_cmd,
    free_port,
    sample_requests,
    start_fake_judge,
    start_server,
    stop,
)

SCORED = ["cited-correct", "uncited-correct", "cited-wrong", "outcome-only", "rubric-only"]


class FailingJudge(DeterministicJudge):
    async def judge_outcome(self, question, answer, label, *, task=None):
        raise JudgeError("judge timed out")


def failing_scorer() -> CarrScorer:
    """A ``carr_scorer_factory`` target (dotted path) whose judge always fails."""
    return CarrScorer(FailingJudge())


def sample_of(body: dict, *, status: str = "completed", group: int = 0, drop_entities=False):
    """A slime ``Sample``-shaped object as a generate function + ``--metadata-key`` leave it."""
    info = copy.deepcopy(body["remote_env_info"])
    if drop_entities:
        info.pop("entities", None)
    return SimpleNamespace(
        label=body["label"], status=SimpleNamespace(value=status), group_index=group,
        remove_sample=False, reward=None,
        metadata={"history": copy.deepcopy(body["history"]), "remote_env_info": info},
    )


def args(**kw) -> SimpleNamespace:
    return SimpleNamespace(**{"n_samples_per_prompt": len(SCORED), **kw})


@pytest.fixture(autouse=True)
def _fresh_services():
    slime._services.clear()
    yield
    slime._services.clear()


async def test_in_process_reward_equals_the_reward_servers_answer():
    bodies = sample_requests()
    service = RewardService(None)
    for name in [*SCORED, "no-final-answer"]:
        sample = sample_of(bodies[name])
        got = await slime.reward(args(), sample)
        body = {k: copy.deepcopy(bodies[name][k]) for k in
                ("history", "label", "task_unfinished", "remote_env_info")}
        body["remote_env_info"]["rubric_reward_ratio"] = 0.3  # carr_alpha decides, not the data
        status, want = await service.evaluate(body)
        assert status == 200 and got == want, name
        assert not sample.remove_sample


async def test_the_data_ratio_cannot_switch_the_rubric_judge_off():
    """A row whose remote_env_info says rubric_reward_ratio 0 (outcome only) still gets its rubric
    part judged: the group hook needs it, with carr_alpha's weight."""
    body = copy.deepcopy(sample_requests()["cited-correct"])
    body["remote_env_info"]["rubric_reward_ratio"] = 0.0
    got = await slime.reward(args(carr_alpha=0.3), sample_of(body))
    assert got["rubric_reward"] == 1.0 and got["reward"] == pytest.approx(1.0)
    got = await slime.reward(args(carr_alpha=0.0), sample_of(body))
    assert got["reward"] == got["outcome_reward"] == 1.0


async def test_unfinished_rollouts_score_zero_not_unknown():
    body = sample_requests()["cited-correct"]
    for status in ("truncated", "aborted"):
        got = await slime.reward(args(), sample_of(body, status=status))
        assert got["reward"] == 0.0 and "error" not in got


async def test_judge_failure_is_unknown_and_the_sample_leaves_the_loss():
    body = sample_requests()["cited-correct"]
    sample = sample_of(body, drop_entities=True)  # no gold values: the LLM route is taken
    got = await slime.reward(args(carr_scorer_factory=f"{__name__}.failing_scorer"), sample)
    assert got["reward"] is None and "timed out" in got["error"]
    assert sample.remove_sample is True


async def test_bad_samples_are_unknown_with_the_reason():
    body = sample_requests()["cited-correct"]
    no_history = sample_of(body)
    del no_history.metadata["history"]
    got = await slime.reward(args(), no_history)
    assert got["reward"] is None and "history" in got["error"] and no_history.remove_sample
    odd = sample_of(body)
    odd.metadata = ["not", "a", "dict"]
    assert (await slime.reward(args(), odd))["reward"] is None
    with pytest.raises(ConfigError, match="scorer factory"):
        await slime.reward(args(carr_scorer_factory="no_such_module.make"), sample_of(body))


async def test_group_hook_on_the_reward_functions_dicts_is_cgrpo():
    bodies = sample_requests()
    samples = [sample_of(bodies[name]) for name in SCORED]
    for s in samples:
        s.reward = await slime.reward(args(), s)
    raw, adv = slime.post_process(args(), samples)
    want = batch_cgrpo([result_from_reward_dict(s.reward) for s in samples], [0] * len(samples),
                       GroupOptions())
    assert raw == pytest.approx(want.rewards) and adv == pytest.approx(want.advantages)

    # a group whose best rollout cites only half the evidence: R_r is normalised by the group
    # max (0.5), so the paper's reward differs from the per-rollout mixture the server returns
    half = copy.deepcopy(bodies["cited-correct"])
    half["history"][-1]["content"] = half["history"][-1]["content"].replace(
        "[1](https://example.org/wiki/Anton_Marek)", "")
    group = [sample_of(half), sample_of(bodies["uncited-correct"]), sample_of(bodies["cited-wrong"])]
    for s in group:
        s.reward = await slime.reward(args(), s)
    assert [s.reward["rubric_reward"] for s in group] == [0.5, 0.0, 0.0]
    raw, _ = slime.post_process(args(n_samples_per_prompt=3), group)
    assert raw == pytest.approx([1.0, 0.7, 0.0])
    assert [s.reward["reward"] for s in group] == pytest.approx([0.85, 0.7, 0.0])


def test_group_hook_refuses_scalar_rewards_and_uneven_groups():
    with pytest.raises(Exception, match="reward dict"):
        slime.post_process(args(), [SimpleNamespace(reward=1.0, group_index=0, remove_sample=False,
                                                    metadata={})])
    ungrouped = [SimpleNamespace(reward=None, group_index=None, remove_sample=False, metadata={})] * 3
    with pytest.raises(ConfigError, match="groups of 5"):
        slime.post_process(args(), ungrouped)


async def test_remote_reward_against_a_real_reward_server(tmp_path):
    port = free_port()
    proc = start_server([*carr_agent_cmd(), "serve-reward", "--port", str(port), "--judge",
                         "deterministic"], port, log=tmp_path / "server.log")
    try:
        bodies = sample_requests()
        a = args(rm_url=f"http://127.0.0.1:{port}/evaluate")
        for name in SCORED:
            remote = await slime.remote_reward(a, sample_of(bodies[name]))
            local = await slime.reward(args(), sample_of(bodies[name]))
            assert remote == local, name
    finally:
        stop(proc)


async def test_remote_reward_unknown_on_judge_failure_and_unreachable_server(tmp_path):
    judge, judge_port = start_fake_judge(tmp_path, mode="error")
    port = free_port()
    proc = start_server([*carr_agent_cmd(), "serve-reward", "--port", str(port), "--judge", "llm",
                         "--judge-base-url", f"http://127.0.0.1:{judge_port}/v1",
                         "--judge-model", "fake", "--judge-api-key", "x", "--judge-cache", "off"],
                        port, log=tmp_path / "server.log")
    try:
        body = sample_requests()["cited-correct"]
        sample = sample_of(body, drop_entities=True)
        got = await slime.remote_reward(args(rm_url=f"http://127.0.0.1:{port}/evaluate"), sample)
        assert got["reward"] is None and got["error"] and sample.remove_sample
    finally:
        stop(proc)
        stop(judge)
    closed = free_port()
    sample = sample_of(sample_requests()["cited-correct"])
    got = await slime.remote_reward(args(rm_url=f"http://127.0.0.1:{closed}/evaluate",
                                         carr_rm_retries=2), sample)
    assert got["reward"] is None and "unreachable" in got["error"] and sample.remove_sample
    with pytest.raises(ConfigError, match="rm-url"):
        await slime.remote_reward(args(), sample)
