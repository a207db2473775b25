"""Token assembly + loss masks, the loss/advantage registries, and the vLLM output seams."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from carr_agent.errors import TrainingError
from carr_agent.models.recording import Turn
from carr_agent.training.assembly import TokenMismatchError, assemble_turns, transcript_mismatch
from carr_agent.training.config import LossConfig, RewardConfig
from carr_agent.training.losses import ADVANTAGES, LOSSES, LossBatch, k3_kl, mismatch_keep
from carr_agent.types import RewardResult

torch = pytest.importorskip("torch")


def _turn(prompt: list[int], completion: list[int], t: float = 1.0) -> Turn:
    return Turn(prompt_ids=prompt, completion_ids=completion,
                logprobs=[-0.1 * (i + 1) for i in range(len(completion))], text="", temperature=t)


def test_turns_assemble_into_one_sequence_masking_prompts_glue_and_tool_output() -> None:
    t1 = _turn([1, 2, 3], [10, 11])
    t2 = _turn([1, 2, 3, 10, 11, 90, 91, 92], [12, 13, 14])   # 90-92: template glue + tool output
    traj = assemble_turns([t1, t2])
    assert traj.input_ids == [1, 2, 3, 10, 11, 90, 91, 92, 12, 13, 14]
    assert traj.loss_mask == [0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1]
    assert traj.rollout_logprobs[3:5] == [-0.1, -0.2] and traj.rollout_logprobs[5:8] == [0.0] * 3
    assert traj.sampled_tokens == 5 and traj.num_turns == 2
    assert transcript_mismatch(traj, [*traj.input_ids, 7, 8]) is None


def test_a_prompt_that_does_not_extend_the_history_is_a_reported_mismatch() -> None:
    t1 = _turn([1, 2, 3], [10, 11])
    retokenised = _turn([1, 2, 3, 10, 77, 90], [12])     # the sampled 11 came back as 77
    with pytest.raises(TokenMismatchError) as info:
        assemble_turns([t1, retokenised])
    assert info.value.turn == 1 and info.value.position == 4
    with pytest.raises(TokenMismatchError, match="temperature"):
        assemble_turns([t1, _turn([1, 2, 3, 10, 11], [5], t=0.7)])
    with pytest.raises(TrainingError):
        assemble_turns([])
    traj = assemble_turns([t1])
    assert "token 4" in transcript_mismatch(traj, [1, 2, 3, 10, 99])
    assert "sampled token" in transcript_mismatch(traj, [1, 2, 3, 10, 99])


def _batch(logp, old, adv, mask, ref=None):
    t = lambda x: torch.tensor([x], dtype=torch.float32)  # noqa: E731
    m = t(mask)
    return LossBatch(logp=t(logp).requires_grad_(), old_logp=t(old), rollout_logp=t(old),
                     ref_logp=None if ref is None else t(ref), advantages=torch.tensor([adv]),
                     mask=m, total_tokens=float(m.sum()), total_sequences=1)


def test_clipped_token_mean_clips_asymmetrically_and_ignores_masked_tokens() -> None:
    cfg = LossConfig()
    # ratio e^0.5 = 1.65 > 1.28 with A > 0: clipped (no gradient); ratio 1 token: gradient -A/2.
    b = _batch([0.5, 0.0, 3.0], [0.0, 0.0, 0.0], 1.0, [1, 1, 0])
    terms = LOSSES["clipped_token_mean"](b, cfg)
    terms.loss.backward()
    assert b.logp.grad.tolist() == [[0.0, pytest.approx(-0.5), 0.0]]
    assert terms.clipped_tokens == 1 and terms.tokens == 2
    assert terms.loss.item() == pytest.approx(-(1.28 + 1.0) / 2)
    # Negative advantage: the lower clip 1 - 0.2 binds below 0.8.
    b = _batch([-0.5, 0.0], [0.0, 0.0], -1.0, [1, 1])
    terms = LOSSES["clipped_token_mean"](b, cfg)
    assert terms.loss.item() == pytest.approx((0.8 + 1.0) / 2) and terms.clipped_tokens == 1


def test_sequence_mean_weighs_trajectories_equally() -> None:
    t = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    mask = t([[1, 1, 1, 1], [1, 0, 0, 0]])
    b = LossBatch(logp=torch.zeros(2, 4, requires_grad=True), old_logp=torch.zeros(2, 4),
                  rollout_logp=torch.zeros(2, 4), ref_logp=None, advantages=t([1.0, -1.0]),
                  mask=mask, total_tokens=5.0, total_sequences=2)
    assert LOSSES["clipped_sequence_mean"](b, LossConfig()).loss.item() == pytest.approx(0.0)
    assert LOSSES["clipped_token_mean"](b, LossConfig()).loss.item() == pytest.approx(-3 / 5)


def test_mismatch_window_and_k3() -> None:
    old = torch.log(torch.tensor([0.5, 0.5, 0.5, 0.5]))
    rollout = torch.log(torch.tensor([0.5, 0.2, 0.9, 0.3]))   # ratios 1, 2.5, 0.56, 1.67
    assert mismatch_keep(old, rollout, 0.5, 2.0).tolist() == [True, False, True, True]
    logp = torch.tensor([-1.0, -2.0])
    assert k3_kl(logp, logp).tolist() == [0.0, 0.0]
    assert (k3_kl(logp, torch.tensor([-1.5, -0.5])) > 0).all()


def _result(outcome, rubric):
    return RewardResult(outcome_reward=outcome, rubric_reward=rubric,
                        reward=None if outcome is None else outcome)


def test_advantage_registry_keeps_unknown_rewards_out() -> None:
    results = [_result(1.0, 0.375), _result(1.0, 0.625), _result(1.0, 0.5), _result(0.0, 0.125),
               _result(None, None)]
    rewards, advs = ADVANTAGES["cgrpo"](results, RewardConfig())
    assert rewards[:4] == pytest.approx([0.7 + 0.3 * 0.6, 1.0, 0.7 + 0.3 * 0.8, 0.0])
    assert rewards[4] is None and advs[4] is None
    assert sum(advs[:4]) == pytest.approx(0.0, abs=1e-6)
    outcome_only, adv_o = ADVANTAGES["grpo_outcome"](results, RewardConfig())
    assert outcome_only == [1.0, 1.0, 1.0, 0.0, None] and adv_o[0] == adv_o[1]


def test_vllm_outputs_convert_to_recorded_tokens_and_logprobs() -> None:
    from carr_agent.training.vllm_backend import completion_from_openai_choice, completion_from_vllm

    lp = lambda x: SimpleNamespace(logprob=x)  # noqa: E731
    out = SimpleNamespace(token_ids=[5, 7], logprobs=[{5: lp(-0.5), 9: lp(-2.0)}, {7: lp(-0.25)}],
                          finish_reason="stop")
    assert completion_from_vllm(out) == ([5, 7], [-0.5, -0.25], "stop")
    out.logprobs = [{5: lp(-0.5)}, {9: lp(-1.0)}]
    with pytest.raises(TrainingError, match="sampled token 7"):
        completion_from_vllm(out)
    out.logprobs = None
    with pytest.raises(TrainingError, match="logprobs=0"):
        completion_from_vllm(out)
    choice = {"token_ids": [3, 4], "logprobs": {"token_logprobs": [-1.0, -0.5]},
              "finish_reason": "length"}
    assert completion_from_openai_choice(choice) == ([3, 4], [-1.0, -0.5], "length")
    with pytest.raises(TrainingError, match="return_token_ids"):
        completion_from_openai_choice({"logprobs": {"token_logprobs": [-1.0]}})


def test_vllm_weight_sync_goes_through_collective_rpc_after_waking_the_engine() -> None:
    from carr_agent.training.vllm_backend import VLLMEngine

    calls: list = []
    llm = SimpleNamespace(
        reset_prefix_cache=lambda: calls.append("reset"),
        collective_rpc=lambda method, kwargs: calls.append(
            ("rpc", method, len(kwargs["weights_iterator"]))),
        sleep=lambda level: calls.append(("sleep", level)),
        wake_up=lambda: calls.append("wake"),
    )
    policy = torch.nn.Linear(3, 2)
    engine = VLLMEngine(llm, max_model_len=64, sleep_mode=True)
    engine.sleep()
    engine.sync_weights(policy)
    assert calls == [("sleep", 1), "wake", ("rpc", "reload_weights", 2), "reset"]
    VLLMEngine(llm, max_model_len=64).sleep()  # no sleep mode: nothing to do
    assert len(calls) == 4


def test_vllm_engine_settings_start_in_a_plain_process_with_the_policy_dtype(monkeypatch) -> None:
    from carr_agent.errors import ConfigError, ContextLengthError
    from carr_agent.training.config import VLLMConfig
    from carr_agent.training.vllm_backend import VLLMEngine, engine_kwargs

    policy = torch.nn.Linear(3, 2)
    kwargs = engine_kwargs(VLLMConfig(), policy, seed=3)
    assert kwargs["distributed_executor_backend"] == "uni"  # no torchrun variables needed
    assert kwargs["dtype"] == "float32" and kwargs["enable_sleep_mode"] is False
    assert kwargs["logprobs_mode"] == "processed_logprobs"
    assert engine_kwargs(VLLMConfig(dtype="bfloat16"), policy, seed=3)["dtype"] == "bfloat16"
    assert engine_kwargs(VLLMConfig(), policy.to(torch.bfloat16), seed=3)["dtype"] == "bfloat16"
    with pytest.raises(ConfigError, match="sleep mode on CUDA only"):
        engine_kwargs(VLLMConfig(enable_sleep_mode=True), policy, seed=3)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="torchrun"):
        engine_kwargs(VLLMConfig(tensor_parallel_size=2), policy, seed=3)
    # A prompt that leaves no room within max_model_len ends the rollout, not the run.
    with pytest.raises(ContextLengthError, match="max_model_len is 8"):
        VLLMEngine(SimpleNamespace(), max_model_len=8).generate(
            list(range(8)), temperature=1.0, top_p=1.0, max_tokens=4, stop_token_ids=[0])
