"""C-GRPO end to end on CPU: a tiny random Qwen2 drives the REAL LangGraph agent with the REAL
search/open/find tools over a tantivy corpus built in tmp_path, scored by the real CaRR scorer
with the deterministic judge. Rollouts are teacher-forced scripts (different per slot, so rewards
and advantages differ within the group) so they contain real tool calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from carr_agent.errors import ConfigError  # noqa: E402
from carr_agent.models.hf_chat import HFChatModel  # noqa: E402
from carr_agent.models.tiny import build_tiny_model  # noqa: E402
from carr_agent.rewards.judges import DeterministicJudge  # noqa: E402
from carr_agent.rewards.scorer import CarrScorer  # noqa: E402
from carr_agent.tools.corpus import CorpusIndex  # noqa: E402
from carr_agent.training.batching import collate  # noqa: E402
from carr_agent.training.config import LossConfig, RolloutConfig, config_from_dict  # noqa: E402
from carr_agent.training.loop import CRASH_ENV, train  # noqa: E402
from carr_agent.training.rollout import RolloutRunner  # noqa: E402
from carr_agent.training.update import micro_loss  # noqa: E402
from carr_agent.types import Task  # noqa: E402

SYSTEM = "Research with search, open and find. Cite sources."
DOCS = [
    {"url": "https://example.org/zorblat", "title": "Zorblat Institute",
     "text": "The Zorblat Institute was founded in Prague in 1923 by astronomers."},
    {"url": "https://example.org/prague", "title": "Prague",
     "text": "The Vltava is a river that flows through Prague."},
    {"url": "https://example.org/danube", "title": "Danube",
     "text": "The Danube is a river that flows through Vienna."},
]
TASK = Task(
    id="zorblat",
    question="Which river flows through the city where the Zorblat Institute was founded?",
    label="Vltava",
    rubrics=("<E0> is a river that flows through <E1>.", "The Zorblat Institute was founded in <E1>."),
    entities={"E0": "Vltava", "E1": "Prague"},
)


def _call(name: str, **args: object) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"


def _answer(body: str, exact: str) -> str:
    return f"## Explanation with Citations\n{body}\n\n## Exact Answer\n{exact}\n\n## References\n"


GOOD = _answer("Zorblat was founded in Prague [1](https://example.org/zorblat). The Vltava is a "
               "river that flows through Prague [2](https://example.org/prague).", "Vltava")
HALF = _answer("The Vltava is a river that flows through Prague [1](https://example.org/prague).",
               "Vltava")
WRONG = _answer("The Danube flows through Vienna [1](https://example.org/danube).", "Danube")
BARE = _answer("It is the Vltava.", "Vltava")
#: One script per rollout slot: full research (R_o=1, R_r=1), half (R_o=1, R_r=0.5), wrong, bare.
SCRIPTS = [
    [_call("search", query="Zorblat Institute founded"),
     _call("open", id_or_url="https://example.org/zorblat"),
     _call("open", id_or_url="https://example.org/prague"), GOOD],
    [_call("open", id_or_url="https://example.org/prague"), HALF],
    [_call("search", query="river Vienna"), WRONG],
    [BARE],
]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tiny model is latency-bound: one thread avoids oversubscribing a shared CPU (10x)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusIndex:
    root = tmp_path_factory.mktemp("corpus")
    (root / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return CorpusIndex.build(root / "docs.jsonl", root / "index")


def _config(out: Path, **sections: object) -> object:
    data = {
        "output_dir": str(out),
        "max_steps": 3,
        "data": {"questions_per_step": 1},
        "rollout": {"group_size": 4, "max_new_tokens": 8, "system_prompt": SYSTEM, "page_budget": 400},
        "optim": {"lr": 3e-3, "micro_batch_size": 2, "mini_batches": 2, "weight_decay": 0.0},
    }
    data.update(sections)
    return config_from_dict(data)


def test_cgrpo_trains_a_tiny_policy_on_real_graph_rollouts(tmp_path: Path, corpus: CorpusIndex) -> None:
    result = train(_config(tmp_path / "run"), scripts={"*": SCRIPTS}, tasks=[TASK], corpus=corpus,
                   judge=DeterministicJudge())

    assert [r["step"] for r in result.records] == [1, 2, 3]
    first = result.records[0]
    assert first["trajectories"] == 4 and first["trained_trajectories"] == 4
    assert first["token_mismatch"] == 0 and first["unknown_rewards"] == 0
    assert first["outcome_reward"] == pytest.approx(0.75)
    assert first["rubric_reward"] == pytest.approx((1.0 + 0.5 + 0 + 0) / 4)
    assert first["advantage_abs_max"] > 0.5
    assert first["tool_calls_per_trajectory"] == pytest.approx((3 + 1 + 1 + 0) / 4)
    for r in result.records:
        assert r["loss"] is not None and torch.isfinite(torch.tensor(r["loss"]))
        assert r["loss_tokens"] > 0 and r["grad_norm"] > 0
    # Every slot is scripted: the forced tokens are trained but reported apart, and kept out of
    # the clip and mismatch metrics (their ratio is 1 by construction: not evidence of learning).
    assert first["sampled_tokens"] == 0 and first["scripted_tokens"] == first["loss_tokens"] > 0
    assert first["clip_fraction"] is None and first["mismatch_masked_fraction"] is None
    assert first["updates"] == 2 and first["skipped_updates"] == 0
    assert first["termination_answered"] == 1.0

    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3]
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    traj = [json.loads(x) for x in (tmp_path / "run" / "trajectories" / "step-000001.jsonl").read_text().splitlines()]
    assert [t["tool_calls"] for t in traj] == [3, 1, 1, 0]
    assert traj[0]["advantage"] > 0 > traj[2]["advantage"]

    # Parameters changed: the checkpoint differs from the same-seed initial model.
    from transformers import AutoModelForCausalLM

    trained = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "checkpoints" / "step-000003" / "policy")
    initial, _ = build_tiny_model(0)
    diffs = [(a - b).abs().max().item() for a, b in zip(trained.state_dict().values(),
                                                        initial.state_dict().values(), strict=True)]
    assert max(diffs) > 1e-4


def _real_rollout(corpus: CorpusIndex):
    net, tok = build_tiny_model(0)
    policy = HFChatModel(model=net, tokenizer=tok, max_new_tokens=8)
    runner = RolloutRunner(policy=policy, search=corpus, fetcher=corpus,
                           scorer=CarrScorer(DeterministicJudge()),
                           config=RolloutConfig(group_size=2, system_prompt=SYSTEM, page_budget=400))
    rollout = runner.run_one(TASK, 0, SCRIPTS[0])
    assert rollout.exclusion is None and rollout.trajectory is not None
    return net, tok, rollout


def test_masked_tool_output_token_does_not_move_the_gradient_but_a_sampled_token_does(
    corpus: CorpusIndex,
) -> None:
    net, tok, rollout = _real_rollout(corpus)
    traj = rollout.trajectory
    mask = traj.loss_mask
    # The first tool response: the masked stretch after the first completion.
    first_completion_end = next(i for i in range(1, len(mask)) if mask[i - 1] == 1 and mask[i] == 0)
    text_so_far = ""
    tool_pos = None
    for i in range(first_completion_end, len(mask)):
        assert mask[i] == 0
        text_so_far += tok.decode([traj.input_ids[i]])
        if "<tool_response>" in text_so_far and "Zorblat" in text_so_far:
            tool_pos = i
            break
    assert tool_pos is not None, "no tool output found after the first completion"
    sampled_pos = first_completion_end - 2  # inside the first completion (mask 1)
    assert mask[sampled_pos] == 1

    loss_config = LossConfig(mismatch_low=0.0, mismatch_high=1e9)

    def gradient(ids: list[int], n: int) -> torch.Tensor:
        from dataclasses import replace

        # Keep the trajectory up to and including position n-1, so the changed token is the last
        # one: it matters only as a *target*, which is what the loss mask governs.
        cut = replace(traj, input_ids=ids[:n], loss_mask=mask[:n],
                      rollout_logprobs=traj.rollout_logprobs[:n], scripted_mask=None)
        batch = collate([cut], pad_id=tok.pad_token_id)
        net.zero_grad(set_to_none=True)
        terms, _, _ = micro_loss(net, batch, torch.tensor([1.0]), loss_config=loss_config,
                                 old_logp=None, ref_logp=None,
                                 total_tokens=float(batch.loss_mask.sum()), total_sequences=1)
        terms.loss.backward()
        return torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])

    other = tok.convert_tokens_to_ids("the") if "the" in tok.get_vocab() else 5

    base = gradient(traj.input_ids, tool_pos + 1)
    changed = list(traj.input_ids)
    changed[tool_pos] = other if changed[tool_pos] != other else other + 1
    assert torch.equal(base, gradient(changed, tool_pos + 1))

    base = gradient(traj.input_ids, sampled_pos + 1)
    changed = list(traj.input_ids)
    changed[sampled_pos] = other if changed[sampled_pos] != other else other + 1
    assert not torch.allclose(base, gradient(changed, sampled_pos + 1))


def test_rollout_tokens_match_the_retokenised_transcript_and_mask_only_completions(
    corpus: CorpusIndex,
) -> None:
    _, tok, rollout = _real_rollout(corpus)
    traj = rollout.trajectory
    assert traj.num_turns == 4
    sampled = [t for t, m in zip(traj.input_ids, traj.loss_mask, strict=True) if m]
    assert sampled == [i for turn in rollout.turns for i in turn.completion_ids]
    masked_text = tok.decode([t for t, m in zip(traj.input_ids, traj.loss_mask, strict=True) if not m])
    assert "<tool_response>" in masked_text and "The Vltava is a river" in masked_text
    assert "<tool_response>" not in tok.decode(sampled)


def test_existing_run_without_resume_is_refused(tmp_path: Path, corpus: CorpusIndex) -> None:
    cfg = _config(tmp_path / "run", max_steps=1)
    train(cfg, scripts={"*": SCRIPTS}, tasks=[TASK], corpus=corpus)
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg, scripts={"*": SCRIPTS}, tasks=[TASK], corpus=corpus)


def test_cli_train_killed_in_step_2_resumes_from_the_step_1_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    task = {"id": TASK.id, "question": TASK.question, "label": TASK.label,
            "rubrics": list(TASK.rubrics), "entities": TASK.entities}
    (tmp_path / "tasks.jsonl").write_text(json.dumps(task) + "\n")
    (tmp_path / "scripts.json").write_text(json.dumps([SCRIPTS[0], SCRIPTS[2]]))
    out = tmp_path / "run"
    (tmp_path / "train.yaml").write_text(
        f"output_dir: {out}\nmax_steps: 3\n"
        f"data:\n  tasks: {tmp_path / 'tasks.jsonl'}\n  corpus: {tmp_path / 'docs.jsonl'}\n"
        "  questions_per_step: 1\n"
        f"rollout:\n  group_size: 2\n  max_new_tokens: 8\n  page_budget: 300\n"
        f"  system_prompt: {SYSTEM}\n  scripts: {tmp_path / 'scripts.json'}\n"
        "optim:\n  lr: 0.003\n  micro_batch_size: 2\n"
    )
    cmd = [sys.executable, "-m", "carr_agent.cli", "train", "--config", str(tmp_path / "train.yaml")]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    crashed = subprocess.run(cmd, env={**env, CRASH_ENV: "2"}, capture_output=True,
                             text=True, timeout=240)
    assert crashed.returncode == 75, crashed.stderr[-2000:]
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1]
    assert (out / "checkpoints" / "latest").read_text() == "step-000001"
    step1 = torch.load(out / "checkpoints" / "step-000001" / "trainer.pt", weights_only=False)
    assert step1["step"] == 1 and step1["cursor"]["epoch"] == 1 and step1["optimizer"]["state"]

    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True,
                             timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert (out / "checkpoints" / "latest").read_text() == "step-000003"
    final = torch.load(out / "checkpoints" / "step-000003" / "trainer.pt", weights_only=False)
    assert final["step"] == 3 and final["cursor"]["epoch"] == 3
    # AdamW's step count proves steps 2 and 3 each made exactly one update after step 1's.
    assert {int(s["step"]) for s in final["optimizer"]["state"].values()} == {3}


def test_kl_to_the_frozen_initial_policy_is_reported_when_enabled(tmp_path: Path, corpus: CorpusIndex) -> None:
    cfg = _config(tmp_path / "run", max_steps=1, loss={"kl_coef": 0.1})
    record = train(cfg, scripts={"*": SCRIPTS}, tasks=[TASK], corpus=corpus).records[0]
    # The first update starts at the reference (KL 0); the second one has moved away from it.
    assert record["kl"] is not None and record["kl"] > 0
    assert record["loss"] != record["pg_loss"]


def test_a_budget_exhausted_rollout_is_trained_not_excluded_as_a_token_mismatch(
    corpus: CorpusIndex,
) -> None:
    # The forced-answer turn keeps the tools in its prompt (tool_choice="none"), so its prompt
    # still extends the recorded history token for token.
    net, tok = build_tiny_model(0)
    policy = HFChatModel(model=net, tokenizer=tok, max_new_tokens=8)
    runner = RolloutRunner(policy=policy, search=corpus, fetcher=corpus,
                           scorer=CarrScorer(DeterministicJudge()),
                           config=RolloutConfig(group_size=2, system_prompt=SYSTEM, page_budget=400,
                                                max_tool_calls=1))
    rollout = runner.run_one(TASK, 0, SCRIPTS[0])
    assert rollout.tool_calls == 1
    assert rollout.exclusion is None and rollout.trajectory is not None
    assert rollout.trajectory.num_turns == 2
