"""Token-in/token-out multi-turn prompts (issue: sampled ids that re-tokenise differently were
dropped) and skipped optimiser steps on all-zero advantages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from langchain_core.messages import HumanMessage, ToolMessage  # noqa: E402
from pydantic import Field  # noqa: E402

from carr_agent.models.hf_chat import HFChatModel  # noqa: E402
from carr_agent.models.tiny import build_tiny_model  # noqa: E402
from carr_agent.rewards.judges import DeterministicJudge  # noqa: E402
from carr_agent.rewards.scorer import CarrScorer  # noqa: E402
from carr_agent.tools.corpus import CorpusIndex  # noqa: E402
from carr_agent.training.assembly import TokenTrajectory  # noqa: E402
from carr_agent.training.config import (  # noqa: E402
    LossConfig,
    OptimConfig,
    RolloutConfig,
    config_from_dict,
)
from carr_agent.training.loop import _assign_advantages  # noqa: E402
from carr_agent.training.rollout import Rollout, RolloutRunner  # noqa: E402
from carr_agent.training.update import Sample, build_optimizer, update_policy  # noqa: E402
from carr_agent.types import RewardResult, Task  # noqa: E402

DOCS = [{"url": "https://example.org/prague", "title": "Prague",
         "text": "The Vltava is a river that flows through Prague."}]
TASK = Task(id="river", question="Which river flows through Prague?", label="Vltava",
            rubrics=("<E0> is a river that flows through Prague.",), entities={"E0": "Vltava"})
CALL = '<tool_call>\n{"name": "open", "arguments": {"id_or_url": "https://example.org/prague"}}\n</tool_call>'
ANSWER = ("## Explanation with Citations\nThe Vltava flows through Prague "
          "[1](https://example.org/prague).\n\n## Exact Answer\nVltava\n\n## References\n")


class CharLevelSampler(HFChatModel):
    """A policy whose 'samples' are fixed texts spelled one character per token.

    Byte-level BPE would merge these characters, so the sampled ids re-tokenise differently,
    as free samples of small models often do. The recorded log-probs are the network's own.
    """

    texts: list[str] = Field(default_factory=list)

    def _sample(self, prompt_ids, temperature, max_new_tokens, stop):
        text = self.texts.pop(0)
        ids = [i for ch in text for i in self.tokenizer(ch, add_special_tokens=False)["input_ids"]]
        ids.append(self._end_token_id())
        return ids, self._score_locked(prompt_ids, ids, temperature), "stop"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusIndex:
    root = tmp_path_factory.mktemp("corpus")
    (root / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return CorpusIndex.build(root / "docs.jsonl", root / "index")


def test_sampled_ids_that_retokenise_differently_are_kept_token_in_token_out(corpus) -> None:
    net, tok = build_tiny_model(0)
    policy = CharLevelSampler(model=net, tokenizer=tok, max_new_tokens=8, texts=[CALL, ANSWER])
    runner = RolloutRunner(policy=policy, search=corpus, fetcher=corpus,
                           scorer=CarrScorer(DeterministicJudge()),
                           config=RolloutConfig(group_size=2, page_budget=400))
    rollout = runner.run_one(TASK, 0)

    first, second = rollout.turns
    assert tok(tok.decode(first.completion_ids), add_special_tokens=False)["input_ids"] \
        != first.completion_ids, "the test needs ids that re-tokenise differently"
    # Turn 2's prompt = turn 1's prompt ids + its sampled ids + the encoded tool output.
    prefix = first.prompt_ids + first.completion_ids
    assert second.tito and not first.tito
    assert second.prompt_ids[: len(prefix)] == prefix
    assert "<tool_response>" in tok.decode(second.prompt_ids[len(prefix):])
    # Trained, not dropped; the re-tokenisation difference is only a diagnostic.
    assert rollout.exclusion is None and rollout.trajectory is not None
    assert rollout.retokenization is not None and "sampled token" in rollout.retokenization
    sampled = [t for t, m in zip(rollout.trajectory.input_ids, rollout.trajectory.loss_mask,
                                 strict=True) if m]
    assert sampled == first.completion_ids + second.completion_ids
    runner.score([rollout])
    assert rollout.result is not None and rollout.result.outcome_reward == 1.0


def test_a_rewritten_history_falls_back_to_encoding_the_text() -> None:
    net, tok = build_tiny_model(0)
    llm = HFChatModel(model=net, tokenizer=tok, max_new_tokens=4)
    scripted = llm.scripted([CALL, "done"])
    with llm.recording() as rec:
        first = scripted.invoke([HumanMessage("q")])
        edited = first.model_copy(update={"response_metadata": {"raw_completion": "edited"}})
        scripted.invoke([HumanMessage("q"), edited, ToolMessage("out", tool_call_id="x")])
    _, t2 = rec.turns
    assert not t2.tito
    assert t2.prompt_ids == tok(tok.decode(t2.prompt_ids), add_special_tokens=False)["input_ids"]


def _traj(tok, n: int = 12) -> TokenTrajectory:
    ids = tok("The Vltava is a river that flows through Prague.", add_special_tokens=False)[
        "input_ids"][:n]
    mask = [0] * 4 + [1] * (len(ids) - 4)
    return TokenTrajectory(input_ids=ids, loss_mask=mask, rollout_logprobs=[0.0] * len(ids),
                           temperature=1.0, num_turns=1)


def test_an_update_with_all_zero_advantages_is_skipped_not_stepped() -> None:
    net, tok = build_tiny_model(0)
    optim = OptimConfig(lr=1e-2, weight_decay=0.1, micro_batch_size=2)
    loss = LossConfig(mismatch_low=0.0, mismatch_high=1e9)
    optimizer = build_optimizer(net, optim)
    traj = _traj(tok)
    stats = update_policy(model=net, optimizer=optimizer, loss_config=loss, optim_config=optim,
                          samples=[Sample(trajectory=traj, advantage=1.0),
                                   Sample(trajectory=traj, advantage=-1.0)],
                          pad_id=tok.pad_token_id)
    assert stats.updates == 1 and stats.skipped_updates == 0
    before = [p.detach().clone() for p in net.parameters()]
    stats = update_policy(model=net, optimizer=optimizer, loss_config=loss, optim_config=optim,
                          samples=[Sample(trajectory=traj, advantage=0.0)] * 2,
                          pad_id=tok.pad_token_id)
    # AdamW would have moved every weight (momentum + weight decay) with a zero gradient.
    assert stats.updates == 0 and stats.skipped_updates == 1 and stats.losses == []
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def _rollout(slot: int, outcome: float, traj: TokenTrajectory) -> Rollout:
    r = Rollout(task=TASK, slot=slot, messages=[], ledger=[], answer_text="", turns=[],
                trajectory=traj, exclusion=None)
    r.result = RewardResult(outcome_reward=outcome, rubric_reward=0.0, reward=outcome)
    return r


@pytest.mark.parametrize("filtered", [False, True])
def test_zero_variance_groups_can_be_filtered_out(tmp_path: Path, filtered: bool) -> None:
    _, tok = build_tiny_model(0)
    traj = _traj(tok)
    config = config_from_dict({"output_dir": str(tmp_path),
                               "reward": {"filter_zero_variance_groups": filtered}})
    flat = [_rollout(i, 1.0, traj) for i in range(2)]
    mixed = [_rollout(0, 1.0, traj), _rollout(1, 0.0, traj)]
    samples = _assign_advantages([flat, mixed], config)
    assert [r.advantage for r in flat] == [0.0, 0.0]
    assert len(samples) == (2 if filtered else 4)
    assert all(s.advantage != 0 for s in samples) == filtered


# ---------------------------------------------------------------- termination reasons (item 7)


def _runner(corpus, net, tok, **rollout) -> RolloutRunner:
    policy = HFChatModel(model=net, tokenizer=tok, max_new_tokens=8)
    return RolloutRunner(policy=policy, search=corpus, fetcher=corpus,
                         scorer=CarrScorer(DeterministicJudge()),
                         config=RolloutConfig(group_size=2, page_budget=400, **rollout))


def test_a_context_overflow_is_unfinished_scored_zero_and_trained(corpus) -> None:
    net, tok = build_tiny_model(0)
    runner = _runner(corpus, net, tok)
    first_prompt = len(runner.run_one(TASK, 0, [CALL, ANSWER]).turns[0].prompt_ids)
    net.config.max_position_embeddings = first_prompt + 60  # the second turn's prompt overflows
    rollout = runner.run_one(TASK, 0, [CALL, ANSWER])
    runner.score([rollout])
    assert rollout.termination == "context_budget"
    assert rollout.result is not None and rollout.result.reward == 0.0  # not unknown
    assert rollout.exclusion is None and rollout.trajectory is not None  # its tokens are trained
    assert rollout.trajectory.num_turns == 1


def test_a_rollout_past_its_time_budget_is_unfinished(corpus) -> None:
    net, tok = build_tiny_model(0)
    rollout = _runner(corpus, net, tok, time_budget_s=1e-9).run_one(TASK, 0, [CALL, ANSWER])
    assert rollout.termination == "time_budget" and rollout.result.reward == 0.0


@pytest.mark.parametrize(("script", "calls", "termination"), [
    ([CALL, ANSWER], 3, "answered"),
    ([CALL, "It is the Vltava."], 3, "ill_formed"),
    ([CALL, ANSWER], 1, "tool_budget"),
])
def test_every_rollout_has_a_termination_reason(corpus, script, calls, termination) -> None:
    net, tok = build_tiny_model(0)
    rollout = _runner(corpus, net, tok, max_tool_calls=calls).run_one(TASK, 0, script)
    assert rollout.termination == termination
    assert rollout.to_record()["termination"] == termination


class _EngineThatOverflows:
    """Stands in for a VLLMEngine: the first turn samples a tool call, the second one's prompt
    is over max_model_len (the real engine's check is exercised in test_training_vllm.py)."""

    def __init__(self, tok) -> None:
        self.tok = tok
        self.calls = 0

    def generate(self, prompt_ids, **kwargs):
        from carr_agent.errors import ContextLengthError

        self.calls += 1
        if self.calls > 1:
            raise ContextLengthError(f"the prompt has {len(prompt_ids)} tokens, "
                                     "rollout.vllm.max_model_len is 64")
        ids = self.tok(CALL, add_special_tokens=False)["input_ids"] + [
            self.tok.convert_tokens_to_ids("<|im_end|>")]
        return ids, [-0.5] * len(ids), "stop"


def test_a_vllm_max_model_len_overflow_ends_the_rollout_not_the_run(corpus) -> None:
    from carr_agent.training.vllm_backend import VLLMChatModel

    net, tok = build_tiny_model(0)
    policy = VLLMChatModel(model=net, tokenizer=tok, engine=_EngineThatOverflows(tok),
                           max_new_tokens=8)
    runner = RolloutRunner(policy=policy, search=corpus, fetcher=corpus,
                           scorer=CarrScorer(DeterministicJudge()),
                           config=RolloutConfig(group_size=2, page_budget=400))
    rollout = runner.run_one(TASK, 0)
    runner.score([rollout])
    assert rollout.termination == "context_budget" and rollout.result.reward == 0.0
    assert rollout.trajectory is not None and rollout.trajectory.num_turns == 1
