"""Run under ``accelerate launch --cpu --num_processes 2``: one GRPOTrainer step where every group of
4 completions is split over the 2 processes; each process writes what it scored and what the
C-GRPO reward function returned to OUT/rank<r>.json (checked by tests/test_integrations_trl.py).

The policy is a tiny random model, so verdicts are derived from a hash of each completion (a
stand-in for the judge, the one part that cannot run here)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from carr_agent.integrations.trl import make_cgrpo_reward_func
from carr_agent.types import RewardResult


class HashScorer:
    async def ascore(self, task, answer, ledger, *, alpha=None):
        h = int(hashlib.sha256(answer.encode()).hexdigest(), 16)
        if h % 7 == 0:
            return RewardResult(None, None, None, errors=("judge timed out",))
        return RewardResult(float(h % 2), (h // 2 % 9) / 8, None)


def main() -> None:
    import torch.distributed as dist
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from carr_agent.models.tiny import build_tiny_model

    out = Path(sys.argv[1])
    scorer = HashScorer()
    inner = make_cgrpo_reward_func(scorer, num_generations=4)
    log: dict[str, list] = {"results": [], "returned": []}

    async def carr_cgrpo(prompts, completions, completion_ids=None, **kwargs):
        rewards = await inner(prompts, completions, completion_ids, **kwargs)
        for c in completions:
            text = c if isinstance(c, str) else c[-1]["content"]
            r = await scorer.ascore(None, text, [])
            log["results"].append([r.outcome_reward, r.rubric_reward])
        log["returned"].extend(rewards)
        return rewards

    model, tokenizer = build_tiny_model(seed=0)
    rows = [{"prompt": [{"role": "user", "content": "q"}], "label": "x", "question": "q"}] * 4
    config = GRPOConfig(output_dir=str(out / "trainer"), use_cpu=True, per_device_train_batch_size=2,
                        num_generations=4, max_completion_length=4, max_steps=1, report_to="none",
                        save_strategy="no", dataloader_num_workers=0, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=carr_cgrpo, args=config,
                          train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    trainer.train()
    rank = dist.get_rank() if dist.is_initialized() else 0
    log["world_size"] = dist.get_world_size() if dist.is_initialized() else 1
    (out / f"rank{rank}.json").write_text(json.dumps(log))


if __name__ == "__main__":
    main()
