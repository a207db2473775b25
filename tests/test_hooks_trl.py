"""The CaRR reward as a TRL GRPOTrainer reward function: direct calls and one real trainer step."""

from __future__ import annotations

import copy
import json
import time

import pytest

from carr_agent.errors import ConfigError, JudgeError, TaskFormatError
from carr_agent.rewards.cgrpo import GroupOptions
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.scorer import CarrScorer, ScoreOptions
from carr_agent.rewards.trl import make_carr_reward_func
from carr_agent.tools.render import render_page
from tests._carr_fixture import sample, sample_task_dict


def columns(n: int, **extra):
    task = sample_task_dict()
    cols = {"label": [task["label"]] * n, "rubrics": [task["rubrics"]] * n,
            "question": [task["question"]] * n, "entities": [task["entities"]] * n}
    cols.update(extra)
    return cols


def scorer(alpha=0.3):
    return CarrScorer(DeterministicJudge(), ScoreOptions(alpha=alpha))


def conversation(answer: str):
    """A TRL conversational completion: tool calls (function shape, dict args), tool results
    without ids, then the answer."""
    return [
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "open", "arguments": {"id": sample.MAREK.url}}},
            {"type": "function", "function": {"name": "open", "arguments": {"id": sample.BRASTOW.url}}},
        ]},
        {"role": "tool", "name": "open", "content": render_page(sample.MAREK)[0]},
        {"role": "tool", "name": "open", "content": render_page(sample.BRASTOW)[0]},
        {"role": "assistant", "content": answer},
    ]


async def test_conversational_completions_take_evidence_from_their_tool_results():
    reward = make_carr_reward_func(scorer())
    prompts = [[{"role": "user", "content": sample.PROMPT}]] * 3
    completions = [conversation(sample.CITED), conversation(sample.UNCITED), conversation(sample.WRONG)]
    rewards = await reward(prompts, completions, None, **columns(3))
    assert rewards[0] == pytest.approx(1.0)
    assert rewards[1] == pytest.approx(0.7)       # correct, nothing cited
    assert rewards[2] == pytest.approx(0.0)       # wrong answer; E1-E2 rubrics not connected


async def test_string_completions_use_the_ledger_column_and_log_metrics():
    logged = {}
    record = {"source_id": "S1", "url": sample.BRASTOW.url, "title": "Brastow", "kind": "open",
              "step": 1, "text": sample.BRASTOW.text, "start": None, "end": None}
    reward = make_carr_reward_func(scorer(alpha=1.0))
    rewards = await reward(["q", "q"], [sample.CITED, sample.CITED], None,
                           ledger=[[record], []], log_metric=logged.__setitem__, **columns(2))
    # only rubrics 3 and 4 (E0 with Brastow) are supported, and E0-E2 connect through rubric 3
    assert rewards == [pytest.approx(0.5), pytest.approx(0.0)]
    assert logged["carr/unknown_rate"] == 0.0


async def test_reference_layout_columns_are_understood():
    reward = make_carr_reward_func(scorer())
    info = {"search_forbidden_strs": [sample.QUESTION], "rubrics": list(sample.RUBRICS),
            "entities": dict(sample.ENTITIES)}
    rewards = await reward([[{"role": "user", "content": sample.PROMPT}]], [conversation(sample.CITED)],
                           label=[sample.LABEL], remote_env_info=[info])
    assert rewards == [pytest.approx(1.0)]


class FlakyJudge(DeterministicJudge):
    async def judge_outcome(self, question, answer, label, *, task=None):
        if "Orin" in answer:
            raise JudgeError("judge timed out")
        return await super().judge_outcome(question, answer, label, task=task)


async def test_a_failed_judgement_is_none_not_zero():
    reward = make_carr_reward_func(CarrScorer(FlakyJudge()))
    rewards = await reward(["q", "q"], [sample.CITED, sample.WRONG], None, **columns(2))
    assert rewards[0] is not None and rewards[1] is None


async def test_group_option_applies_cgrpo_within_each_group():
    reward = make_carr_reward_func(scorer(), group=GroupOptions(alpha=0.3), num_generations=2)
    completions = [conversation(sample.CITED), conversation(sample.UNCITED)] * 2
    rewards = await reward(["q"] * 4, completions, None, **columns(4))
    assert rewards == [pytest.approx(1.0), pytest.approx(0.7)] * 2
    with pytest.raises(ConfigError):
        await reward(["q"] * 3, completions[:3], None, **columns(3))


async def test_missing_label_column_is_a_configuration_error_at_the_first_call():
    reward = make_carr_reward_func(scorer())
    with pytest.raises(ConfigError, match="no 'label' column"):
        await reward(["q"], [sample.CITED], None, question=["q"])


async def test_a_null_label_in_one_row_is_a_data_error_naming_the_row_not_unknown():
    reward = make_carr_reward_func(scorer())
    with pytest.raises(TaskFormatError, match="row 1"):
        await reward(["q", "q"], [sample.CITED] * 2, None, **columns(2, label=["x", None]))


async def test_reward_options_set_alpha_and_group_in_one_object():
    from carr_agent.rewards.options import RewardOptions

    options = RewardOptions.create(alpha=0.3, grouped=True)
    reward = make_carr_reward_func(CarrScorer(DeterministicJudge(), options.score),
                                   options=options, num_generations=2)
    completions = [conversation(sample.CITED), conversation(sample.UNCITED)]
    assert await reward(["q"] * 2, completions, None, **columns(2)) == [
        pytest.approx(1.0), pytest.approx(0.7)]
    with pytest.raises(ConfigError, match="scorer's options"):
        make_carr_reward_func(CarrScorer(DeterministicJudge(), ScoreOptions(connectivity=False)),
                              options=options, num_generations=2)


def test_group_alpha_must_be_the_scoring_alpha():
    with pytest.raises(ConfigError, match="alpha"):
        make_carr_reward_func(scorer(alpha=0.0), group=GroupOptions(alpha=0.3), num_generations=2)


def test_grpo_trainer_runs_one_step_with_the_carr_reward(tmp_path):
    """A real TRL GRPOTrainer step on CPU with a tiny random Qwen2 and the CaRR reward."""
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from carr_agent.models.tiny import build_tiny_model

    model, tokenizer = build_tiny_model(seed=0)
    seen: list[list[float | None]] = []
    carr = make_carr_reward_func(scorer())

    async def carr_reward(prompts, completions, completion_ids=None, **kwargs):
        rewards = await carr(prompts, completions, completion_ids, **kwargs)
        seen.append(rewards)
        return rewards

    task = sample_task_dict()
    rows = [{"prompt": [{"role": "user", "content": sample.PROMPT}], "label": task["label"],
             "rubrics": task["rubrics"], "question": task["question"],
             "entities": json.loads(json.dumps(task["entities"]))} for _ in range(4)]
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=8, max_steps=1, report_to="none", logging_steps=1, save_strategy="no",
        dataloader_num_workers=0, seed=0,
    )
    trainer = trl.GRPOTrainer(model=model, reward_funcs=carr_reward, args=config,
                              train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    assert seen and len(seen[0]) == 4
    # gibberish completions are wrong answers without citations: known zero rewards, not unknown
    assert all(r == 0.0 for r in seen[0])
    assert any("carr_reward" in key for key in trainer.state.log_history[0])
    assert elapsed < 60


def _mutations(obj, path=()):
    odd = [None, 1, [], {}, "x", [1], [{"a": 1}], {"type": "image", "image": object()}]
    if path:
        for value in odd:
            yield path, value
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _mutations(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _mutations(value, (*path, i))


async def test_odd_completion_shapes_give_a_reward_never_an_exception_nor_unknown():
    # ill-formed tool calls are recorded, never parsed (as the reference): odd shapes are scored
    reward = make_carr_reward_func(scorer())
    original = conversation(sample.CITED)
    seen = set()
    for path, value in _mutations(original):
        mutated = copy.deepcopy(original)
        target = mutated
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        (result,) = await reward(["q"], [mutated], None, **columns(1))
        seen.add(result is None)
    assert seen == {False}
