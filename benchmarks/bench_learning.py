"""Learning, shown: C-GRPO against GRPO on the outcome alone, on a small policy, through the agent.

Both arms start from the same policy with the same seeds, train on the 7 example dev tasks with
sampled rollouts through the real LangGraph agent, its search/open/find tools over the offline
corpus, the citation ledger and the CaRR scorer (deterministic judge), and are evaluated on
held-out tasks they never trained on. Two variants (``--variant``):

* ``strategy`` (:mod:`learning_strategy`): the policy samples one token that picks its research
  strategy (thorough cited research / a thin correct answer / a correct uncited answer / a wrong
  answer); the rest is scripted through the real tools. Quick.
* ``sampled`` (:mod:`learning_sampled`): a policy warm-started by supervised fine-tuning on the
  teacher strategies samples every token of every turn. The real claim, and much slower.

What the paper (arXiv 2601.06021) leads us to expect: both arms raise the outcome reward; only
C-GRPO raises the rubric reward and the citations. The script reports what happens.

    python benchmarks/bench_learning.py --variant strategy --seeds 0 1 2 --steps 30 --lr 3e-2
    python benchmarks/bench_learning.py --variant sampled --seeds 0 1 --steps 10

Results: ``results/learning.json`` as ``{"arms": {"cgrpo": [run, ...], "grpo": [run, ...]}}``;
each run is ``{"seed", "variant", "arm", "steps": [{"step", "outcome_reward", "rubric_reward",
"citations_per_trajectory", "tool_calls_per_trajectory", "token_mismatch", ...}], "eval": [...]}``.
A run of one variant replaces that variant's runs and keeps the other's. ``results/learning.png``
plots them.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import RESULTS_DIR, machine
from learning_common import ARMS, logger, make_scorer, split_tasks

CURVES = (("outcome_reward", "outcome reward (train, sampled)"),
          ("rubric_reward", "rubric reward (train, sampled)"),
          ("citations_per_trajectory", "citations / trajectory"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", choices=("strategy", "sampled"), default="strategy")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", choices=tuple(ARMS), default=list(ARMS))
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--questions", type=int, default=2, help="questions per step")
    p.add_argument("--group", type=int, default=8, help="rollouts per question (G)")
    p.add_argument("--lr", type=float, default=None,
                   help="RL learning rate (default: 3e-2 strategy, 3e-4 sampled)")
    p.add_argument("--heldout", type=int, default=4, help="held-out tasks")
    p.add_argument("--train-tasks", type=int, default=0, help="use the first N dev tasks (0: all 7)")
    p.add_argument("--eval-every", type=int, default=5, help="strategy: exact evaluation period")
    p.add_argument("--max-tool-calls", type=int, default=8)
    p.add_argument("--page-budget", type=int, default=None,
                   help="characters of a page shown (default: 2000 strategy, 400 sampled)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    s = p.add_argument_group("sampled variant")
    s.add_argument("--vocab", type=int, default=2048, help="BPE vocabulary of the compact tokenizer")
    s.add_argument("--split-words", action="store_true",
                   help="BPE merges stop at word boundaries (default: merges span words)")
    s.add_argument("--hidden", type=int, default=128)
    s.add_argument("--layers", type=int, default=2)
    s.add_argument("--sft-epochs", type=int, default=60)
    s.add_argument("--sft-lr", type=float, default=3e-3)
    s.add_argument("--sft-batch", type=int, default=8)
    s.add_argument("--max-new-tokens", type=int, default=64)
    s.add_argument("--eval-samples", type=int, default=2, help="rollouts per task when evaluating")
    s.add_argument("--sft-only", action="store_true",
                   help="stop after the warm starts (saved in --work-dir, reused by the next call)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--work-dir", type=Path, default=None,
                   help="sampled: where warm starts and run directories go (default: a temp dir)")
    args = p.parse_args(argv)
    if args.lr is None:
        args.lr = 3e-2 if args.variant == "strategy" else 3e-4
    if args.page_budget is None:
        args.page_budget = 2000 if args.variant == "strategy" else 400
    return args


def run_strategy(args: argparse.Namespace, corpus: Any, scorer: Any) -> tuple[list[dict], dict]:
    from learning_strategy import StrategyBench

    from carr_agent.models.hf_chat import HFChatModel
    from carr_agent.models.tiny import build_tiny_model

    train, heldout = split_tasks(args.heldout, args.train_tasks)
    net, tok = build_tiny_model(0)
    bench = StrategyBench(policy=HFChatModel(model=net, tokenizer=tok), train=train,
                          heldout=heldout, corpus=corpus, scorer=scorer,
                          max_tool_calls=args.max_tool_calls, page_budget=args.page_budget)
    runs = [bench.run(seed=seed, arm=arm, steps=args.steps, questions=args.questions,
                      group=args.group, lr=args.lr, eval_every=args.eval_every)
            for seed in args.seeds for arm in args.arms]
    return runs, {"strategy_rewards": bench.table, "train_tasks": [t.id for t in train],
                  "heldout_tasks": [t.id for t in heldout]}


def run_sampled(args: argparse.Namespace, corpus: Any, scorer: Any) -> tuple[list[dict], dict]:
    from learning_sampled import SampledBench

    train, heldout = split_tasks(args.heldout, args.train_tasks)
    bench = SampledBench(train=train, heldout=heldout, corpus=corpus, scorer=scorer, args=args)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-learning-"))
    runs, warm = [], []
    for seed in args.seeds:
        warm_dir = work / f"warm-{seed}"
        done = warm_dir / "warm_start.json"
        if done.is_file():  # a warm start of an earlier call (--sft-only), reused as it is
            saved = json.loads(done.read_text())
        else:
            saved = {"stats": bench.warm_start(seed, warm_dir)}
        if "eval" not in saved:
            saved["eval"] = bench.evaluate_both(warm_dir, 0, seed)
        done.write_text(json.dumps(saved, indent=1))
        logger.info("warm start seed %d evaluation: %s", seed, saved["eval"])
        warm.append(saved["stats"])
        if args.sft_only:
            continue
        for arm in args.arms:
            runs.append(bench.run(seed=seed, arm=arm, warm_dir=warm_dir,
                                  run_dir=work / f"{arm}-{seed}", warm_eval=saved["eval"]))
    if args.sft_only:
        raise SystemExit(f"warm starts saved under {work}; run again without --sft-only")
    return runs, {"warm_start": warm, "train_tasks": [t.id for t in train],
                  "heldout_tasks": [t.id for t in heldout]}


def merge_results(path: Path, variant: str, runs: list[dict], info: dict) -> dict[str, Any]:
    """Replace ``variant``'s runs in the results file, keeping the other variant's."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    arms: dict[str, list[dict]] = {a: [] for a in ARMS}
    for arm, kept in (old.get("arms") or {}).items():
        arms.setdefault(arm, []).extend(r for r in kept if r.get("variant") != variant)
    for run in runs:
        arms[run["arm"]].append(run)
    variants = dict(old.get("variants") or {})
    variants[variant] = info
    return {"benchmark": "learning", "arms": arms, "variants": variants}


def plot(results: dict[str, Any], path: Path) -> None:
    """One row per variant: train outcome, rubric, citations per step; mean of seeds, thin seeds."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    variants = [v for v in ("strategy", "sampled")
                if any(r["variant"] == v for runs in results["arms"].values() for r in runs)]
    fig, axes = plt.subplots(len(variants), len(CURVES) + 1,
                             figsize=(4.3 * (len(CURVES) + 1), 3.6 * len(variants)), squeeze=False)
    colours = {"cgrpo": "tab:blue", "grpo": "tab:orange"}
    names = {"cgrpo": "C-GRPO", "grpo": "GRPO (outcome)"}
    for row, variant in zip(axes, variants, strict=True):
        arms = {arm: [r for r in runs if r["variant"] == variant]
                for arm, runs in results["arms"].items()}
        arms = {arm: runs for arm, runs in arms.items() if runs}
        for ax, (key, title) in zip(row, CURVES, strict=False):
            for arm, mine in arms.items():
                for r in mine:
                    pts = [(s["step"], s[key]) for s in r["steps"] if s.get(key) is not None]
                    if pts:
                        ax.plot(*zip(*pts, strict=True), color=colours[arm], alpha=0.25, lw=1)
                ax.plot(*_mean_curve(mine, key), color=colours[arm], lw=2, label=names[arm])
            _style(ax, f"{variant}: {title}")
        ax = row[-1]
        for arm, mine in arms.items():
            for key, style in (("outcome_reward", "--"), ("rubric_reward", "-")):
                ax.plot(*_mean_eval(mine, key), style, color=colours[arm], marker="o", ms=3,
                        label=f"{names[arm]}: {key.split('_')[0]}")
        _style(ax, f"{variant}: held-out tasks (evaluation)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _style(ax: Any, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _mean_eval(runs: list[dict], key: str) -> tuple[list[int], list[float]]:
    by_step: dict[int, list[float]] = {}
    for r in runs:
        for ev in r.get("eval") or []:
            value = ev["heldout"].get(key)
            if value is not None:
                by_step.setdefault(ev["step"], []).append(float(value))
    steps = sorted(by_step)
    return steps, [sum(by_step[s]) / len(by_step[s]) for s in steps]


def _mean_curve(runs: list[dict], key: str) -> tuple[list[int], list[float]]:
    by_step: dict[int, list[float]] = {}
    for r in runs:
        for s in r["steps"]:
            if s.get(key) is not None:
                by_step.setdefault(s["step"], []).append(float(s[key]))
    steps = sorted(by_step)
    return steps, [sum(by_step[s]) / len(by_step[s]) for s in steps]


def summary_rows(results: dict[str, Any], variant: str, window: int = 5) -> list[dict[str, Any]]:
    """First-``window`` vs last-``window`` step means per arm, and the last evaluation."""
    rows = []
    for arm, runs in results["arms"].items():
        mine = [r for r in runs if r["variant"] == variant]
        if not mine:
            continue
        row: dict[str, Any] = {"arm": arm, "seeds": len(mine)}
        for key, _ in CURVES:
            first = [s[key] for r in mine for s in r["steps"][:window] if s.get(key) is not None]
            last = [s[key] for r in mine for s in r["steps"][-window:] if s.get(key) is not None]
            row[f"{key} first"] = sum(first) / len(first) if first else None
            row[f"{key} last"] = sum(last) / len(last) if last else None
        for split in ("train", "heldout"):
            for key in ("outcome_reward", "rubric_reward"):
                vals = [r["eval"][-1][split][key] for r in mine
                        if r.get("eval") and r["eval"][-1][split].get(key) is not None]
                row[f"eval {split} {key}"] = sum(vals) / len(vals) if vals else None
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    from harness import markdown_table

    from carr_agent.tools.corpus import default_corpus

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0, c0 = time.perf_counter(), time.process_time()
    corpus, scorer = default_corpus(), make_scorer()
    runner = run_strategy if args.variant == "strategy" else run_sampled
    runs, info = runner(args, corpus, scorer)
    info.update(params={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                machine=machine(), when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                seconds=round(time.perf_counter() - t0, 1),
                cpu_seconds=round(time.process_time() - c0, 1))
    path = args.results_dir / "learning.json"
    results = merge_results(path, args.variant, runs, info)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str))
    plot(results, args.results_dir / "learning.png")
    print(markdown_table(summary_rows(results, args.variant)))
    print(f"\n{args.variant}: {len(runs)} runs in {info['seconds']} s "
          f"({info['cpu_seconds']} s of CPU) -> {path}")


if __name__ == "__main__":
    main()
