"""C-GRPO throughput: rollout tokens/s through the real agent graph, and update tokens/s.

* **rollout**: G rollouts of one example question through ``build_agent`` with the policy as an
  ``HFChatModel`` (sampling at temperature 1, real search/open/find over the example corpus),
  recorded and assembled exactly as in training. tokens/s = policy-sampled tokens / wall time
  (tool calls, rendering and assembly included).
* **update**: ``update_policy`` (one no-grad pass for old log-probs, then forward + backward per
  micro-batch and one AdamW step) on synthetic trajectories of ``--seq-len`` tokens (half prompt,
  half completion). tokens/s = trajectory tokens / wall time.

    python benchmarks/bench_training.py --models tiny smollm2-135m --group-size 4 \\
        --max-new-tokens 64 --seq-len 512 --batch 4 --micro-batch 2 --threads 2

``smollm2-135m`` needs ``carr-agent models install smollm2-135m`` first (skipped otherwise).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from harness import rss_mib, write_results


def load(name: str) -> tuple[Any, Any]:
    if name == "tiny":
        from carr_agent.models.tiny import build_tiny_model

        return build_tiny_model(0)
    from carr_agent.models.offline import load_local_model

    return load_local_model(name, show_progress=False)


def bench_rollout(model: Any, tok: Any, *, group: int, max_new_tokens: int) -> dict[str, Any]:
    from carr_agent.data import example_tasks_path
    from carr_agent.models.hf_chat import HFChatModel
    from carr_agent.rewards.judges import DeterministicJudge
    from carr_agent.rewards.scorer import CarrScorer
    from carr_agent.task_files import load_tasks
    from carr_agent.tools.corpus import default_corpus
    from carr_agent.training.config import RolloutConfig
    from carr_agent.training.rollout import RolloutRunner

    task = load_tasks(example_tasks_path("dev"))[0]
    corpus = default_corpus()
    policy = HFChatModel(model=model, tokenizer=tok, temperature=1.0, max_new_tokens=max_new_tokens,
                         seed=0)
    runner = RolloutRunner(policy=policy, search=corpus, fetcher=corpus,
                           scorer=CarrScorer(DeterministicJudge()),
                           config=RolloutConfig(group_size=group, max_new_tokens=max_new_tokens,
                                                max_tool_calls=3, page_budget=1500))
    start = time.perf_counter()
    rollouts = [runner.run_one(task, i) for i in range(group)]
    seconds = time.perf_counter() - start
    sampled = sum(r.sampled_tokens for r in rollouts)
    turns = sum(len(r.turns) for r in rollouts)
    return {"phase": "rollout (graph)", "shape": f"G={group}, {turns} turns, <= {max_new_tokens} new/turn",
            "tokens": sampled, "seconds": round(seconds, 2),
            "tokens_per_s": round(sampled / seconds, 1),
            "excluded": sum(r.exclusion is not None for r in rollouts)}


def bench_update(model: Any, tok: Any, *, seq_len: int, batch: int, micro: int, repeats: int) -> dict[str, Any]:
    from carr_agent.training.assembly import TokenTrajectory
    from carr_agent.training.config import LossConfig, OptimConfig
    from carr_agent.training.update import Sample, build_optimizer, update_policy

    rng = random.Random(0)
    vocab = len(tok)
    half = seq_len // 2
    samples = [
        Sample(trajectory=TokenTrajectory(
            input_ids=[rng.randrange(vocab) for _ in range(seq_len)],
            loss_mask=[0] * half + [1] * (seq_len - half),
            rollout_logprobs=[0.0] * half + [-5.0] * (seq_len - half),
            temperature=1.0, num_turns=1), advantage=rng.choice([-1.0, 1.0]))
        for _ in range(batch)
    ]
    optim_cfg = OptimConfig(lr=1e-6, micro_batch_size=micro)
    optimizer = build_optimizer(model, optim_cfg)
    loss_cfg = LossConfig(mismatch_low=0.0, mismatch_high=1e9)
    update_policy(model=model, optimizer=optimizer, samples=samples[:micro], loss_config=loss_cfg,
                  optim_config=optim_cfg, pad_id=int(tok.pad_token_id))  # warm-up (allocs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        update_policy(model=model, optimizer=optimizer, samples=samples, loss_config=loss_cfg,
                      optim_config=optim_cfg, pad_id=int(tok.pad_token_id))
        times.append(time.perf_counter() - start)
    seconds = min(times)
    tokens = batch * seq_len
    return {"phase": "update", "shape": f"{batch}x{seq_len} tok, micro {micro}",
            "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1), "excluded": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "smollm2-135m"])
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--micro-batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for name in args.models:
        try:
            model, tok = load(name)
        except Exception as exc:
            print(f"skipping {name}: {exc}")
            continue
        model.eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        for row in (bench_rollout(model, tok, group=args.group_size, max_new_tokens=args.max_new_tokens),
                    bench_update(model, tok, seq_len=args.seq_len, batch=args.batch,
                                 micro=args.micro_batch, repeats=args.repeats)):
            rows.append({"model": name, "params_M": round(params, 1), **row,
                         "rss_mib": rss_mib(), "threads": torch.get_num_threads()})
    write_results("training", rows, params=vars(args),
                  notes="CPU, fp32. rollout tokens/s includes tool calls, template rendering and "
                        "token assembly; update tokens/s counts prompt + completion tokens.")


if __name__ == "__main__":
    main()
