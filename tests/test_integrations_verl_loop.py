"""The verl agent loop's rollout, without verl: the REAL LangGraph agent and tools over a corpus,
driven token-in/token-out through a scripted rollout server, then scored by compute_score.
(tests/test_integrations_verl_engine.py runs the same inside verl's own AgentLoopBase.)
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

from carr_agent.integrations.verl.agent_loop import LoopSettings, run_rollout
from carr_agent.integrations.verl.reward import compute_score
from carr_agent.models.tiny import build_tiny_tokenizer
from carr_agent.rewards.cgrpo import GroupOptions
from tests.integrations_support import (
    GOOD,
    GOOD_SCRIPT,
    LABEL,
    QUESTION,
    REMOTE_ENV_INFO,
    ScriptedServer,
    answer,
    build_corpus,
)

SAMPLING = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "logprobs": True}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


async def rollout(tokenizer, corpus, script, **kw):
    server = ScriptedServer(tokenizer, script)
    tokens = await run_rollout(
        server=server, tokenizer=tokenizer, sampling_params=SAMPLING,
        raw_prompt=[{"role": "user", "content": QUESTION}],
        extra_info={"remote_env_info": REMOTE_ENV_INFO},
        settings=LoopSettings.from_mapping({"max_tool_calls": 5, "page_budget": 400}), backends=(corpus, corpus), **kw,
    )
    return server, tokens


async def test_rollout_is_token_in_token_out_and_masks_only_sampled_tokens(corpus):
    tok = build_tiny_tokenizer()
    server, t = await rollout(tok, corpus, GOOD_SCRIPT)
    assert len(server.calls) == 4 and len({c["request_id"] for c in server.calls}) == 1
    assert t.num_turns == 4
    # verl's prompt is the first turn's prompt; every later prompt extends prompt + response
    assert server.calls[0]["prompt_ids"] == t.prompt_ids
    full = t.prompt_ids + t.response_ids
    for call in server.calls[1:]:
        assert full[: len(call["prompt_ids"])] == call["prompt_ids"]
    assert len(t.response_ids) == len(t.response_mask) == len(t.response_logprobs)
    sampled = [i for i, m in zip(t.response_ids, t.response_mask, strict=True) if m]
    served = sum(len(tok(s, add_special_tokens=False)["input_ids"]) + 1 for s in GOOD_SCRIPT)
    assert len(sampled) == served  # exactly the server's tokens are trained
    assert all(lp == -0.5 for lp, m in zip(t.response_logprobs, t.response_mask, strict=True) if m)
    tool_text = tok.decode([i for i, m in zip(t.response_ids, t.response_mask, strict=True) if not m])
    assert "founded in Prague in 1923" in tool_text  # the tool output is in the sequence, masked
    assert t.extra_fields["carr_answer"].strip() == GOOD.strip()
    assert {r["url"] for r in t.extra_fields["carr_ledger"]} >= {"https://example.org/prague"}


async def test_response_length_cuts_the_response(corpus):
    tok = build_tiny_tokenizer()
    _, t = await rollout(tok, corpus, GOOD_SCRIPT, response_length=7)
    assert len(t.response_ids) == len(t.response_mask) == 7


async def test_scores_of_the_loop_rollouts_feed_compute_score(corpus):
    """The loop's extra_fields are what compute_score reads: a fully cited correct answer has
    R_o = R_r = 1; a correct answer that cites nothing has R_r = 0."""
    tok = build_tiny_tokenizer()
    _, good = await rollout(tok, corpus, GOOD_SCRIPT)
    bare = answer("It is the Vltava.", "Vltava")
    _, uncited = await rollout(tok, corpus, [bare])
    info = {"remote_env_info": REMOTE_ENV_INFO}
    s_good = await compute_score("carr", "", LABEL, {**info, **good.extra_fields})
    s_bare = await compute_score("carr", "", LABEL, {**info, **uncited.extra_fields})
    assert (s_good["outcome_reward"], s_good["rubric_reward"]) == (1.0, 1.0)
    assert s_good["score"] == pytest.approx(1.0) and s_good["unknown"] == 0.0
    assert (s_bare["outcome_reward"], s_bare["rubric_reward"]) == (1.0, 0.0)
    assert s_bare["score"] == pytest.approx(0.7)
    # the no-connectivity ablation is scored by the scorer itself
    s_abl = await compute_score("carr", "", LABEL, {**info, **good.extra_fields},
                                options=GroupOptions(connectivity=False))
    assert s_abl["rubric_reward"] == 1.0


async def test_unscorable_rows_are_unknown_not_zero():
    s = await compute_score("carr", GOOD, LABEL, {})  # no question anywhere
    assert math.isnan(s["score"]) and s["unknown"] == 1.0 and "question" in s["error"]


def test_loop_settings_from_yaml_keys_are_validated():
    from carr_agent.errors import ConfigError

    s = LoopSettings.from_mapping({"corpus": "/c", "max_tool_calls": 7})
    assert (s.corpus, s.agent.max_tool_calls, s.agent.min_tool_calls) == ("/c", 7, 0)
    assert LoopSettings().agent.max_tool_calls == 100
    for bad in ({"max_tool_call": 3}, {"max_tool_calls": -1}, {"corpus": "/c", "web": True}):
        with pytest.raises(ConfigError):
            LoopSettings.from_mapping(bad)


async def test_compute_score_reads_a_reference_history_like_the_reward_server():
    """extra_info.history (the reference message format) is scored as serve-reward scores it."""
    import copy

    from carr_agent.rewards.server import RewardService
    from tests._carr_fixture import sample_requests

    for name in ("cited-correct", "uncited-correct", "cited-wrong"):
        body = copy.deepcopy(sample_requests()[name])
        body["remote_env_info"]["rubric_reward_ratio"] = 0.3
        got = await compute_score("carr", "", body["label"], {
            "history": body["history"], "remote_env_info": body["remote_env_info"]})
        status, want = await RewardService(None).evaluate(
            {k: body[k] for k in ("history", "label", "task_unfinished", "remote_env_info")})
        assert status == 200
        assert (got["outcome_reward"], got["rubric_reward"]) == (want["outcome_reward"],
                                                                want["rubric_reward"]), name
        assert got["score"] == pytest.approx(want["reward"])
