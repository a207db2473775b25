"""The TRL adapter inside a real GRPOTrainer step on CPU: the rewards it returns are C-GRPO's, and
the advantages TRL computes from them (read where the loss receives them) are
carr_agent.rewards.cgrpo.advantages with TRL's epsilon, with the unknown rollout at 0.

The policy is a tiny random model, so its completions say nothing; the judge's verdicts are
therefore injected per completion (a scorer stand-in), which is the one part that cannot run here.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from carr_agent.integrations.trl import make_cgrpo_reward_func
from carr_agent.rewards.cgrpo import GroupOptions, advantages, group_rewards
from carr_agent.types import RewardResult

G = 4
#: verdicts per prompt id, in generation order: (R_o, R_r) or None for a failed judgement
VERDICTS = {
    "p0": [(1.0, 0.375), (1.0, 0.625), (1.0, 0.5), (0.0, 0.125)],  # the spec's worked example
    "p1": [(0.0, 0.5), (1.0, 0.25), None, (1.0, 1.0)],
}


class VerdictScorer:
    """Returns each prompt's verdicts in the order TRL's batch presents its completions."""

    def __init__(self):
        self.seen = defaultdict(int)

    async def ascore(self, task, answer, ledger, *, alpha=None):
        k = self.seen[task.id]
        self.seen[task.id] += 1
        verdict = VERDICTS[task.id][k % G]
        if verdict is None:
            return RewardResult(None, None, None, errors=("judge timed out",))
        o, r = verdict
        return RewardResult(o, r, 0.7 * o + 0.3 * r)


def results_of(pid):
    return [RewardResult(None, None, None) if v is None else RewardResult(v[0], v[1], None)
            for v in VERDICTS[pid]]


def test_grpo_trainer_step_trains_on_cgrpo_advantages(tmp_path):
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    torch = pytest.importorskip("torch")
    from carr_agent.models.tiny import build_tiny_model

    model, tokenizer = build_tiny_model(seed=0)
    returned: list[list[float | None]] = []
    seen_advantages: list[list[float]] = []
    inner = make_cgrpo_reward_func(VerdictScorer(), num_generations=G)

    async def carr_cgrpo(prompts, completions, completion_ids=None, **kwargs):
        out = await inner(prompts, completions, completion_ids, **kwargs)
        returned.append(out)
        return out

    class Recording(trl.GRPOTrainer):
        def compute_loss(self, model, inputs, *args, **kwargs):
            seen_advantages.append(inputs["advantages"].detach().float().tolist())
            return super().compute_loss(model, inputs, *args, **kwargs)

    rows = [{"prompt": [{"role": "user", "content": f"question {pid}"}], "id": pid, "label": "x",
             "question": f"question {pid}"} for pid in VERDICTS]
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=2 * G,
        num_generations=G, max_completion_length=4, max_steps=1, report_to="none",
        logging_steps=1, save_strategy="no", dataloader_num_workers=0, seed=0,
    )
    trainer = Recording(model=model, reward_funcs=carr_cgrpo, args=config,
                        train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    assert time.perf_counter() - start < 120
    assert returned and len(returned[0]) == 2 * G
    # TRL's sampler may put either prompt first; each block of G is one prompt
    batch_rewards = returned[0]
    want_adv: list[float] = []
    for block in range(2):
        got = batch_rewards[block * G:(block + 1) * G]
        pid = "p0" if got[0] == pytest.approx(0.7 + 0.3 * 0.6) else "p1"
        want = group_rewards(results_of(pid), GroupOptions())
        assert got == [None if w is None else pytest.approx(w) for w in want]
        want_adv += [0.0 if a is None else a for a in advantages(want, eps=1e-4)]
    # TRL shuffles the generation batch before the loss sees it: compare as multisets
    assert seen_advantages and torch.allclose(torch.tensor(sorted(seen_advantages[0])),
                                              torch.tensor(sorted(want_adv)), atol=1e-4)


@pytest.mark.slow
def test_groups_split_over_two_real_processes_are_combined_whole(tmp_path):
    """``torchrun --nproc_per_node 2`` (gloo, CPU): each GRPOTrainer process holds 2 of a group's
    4 completions; the rewards both return equal C-GRPO over the whole group (about a minute)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from carr_agent.integrations.common import batch_cgrpo
    from tests._carr_fixture import free_port

    pytest.importorskip("trl")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(free_port()), str(root / "tests" / "integrations_trl_ddp.py"),
         str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    logs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(log["world_size"] == 2 and len(log["returned"]) == 2 for log in logs)
    results = [RewardResult(None, None, None) if o is None else RewardResult(o, r, None)
               for log in logs for o, r in log["results"]]
    want = batch_cgrpo(results, [0] * 4, GroupOptions()).rewards
    got = logs[0]["returned"] + logs[1]["returned"]
    assert got == [None if w is None else pytest.approx(w) for w in want]
