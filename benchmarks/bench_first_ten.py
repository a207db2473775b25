"""The first ten minutes: the main job and the dev-task eval, per local inference engine.

Runs the real commands as a user would, in subprocesses, for each ``--engines`` entry:

* **demo** — the main job of ``scripts/demo.sh`` (``carr-agent run --task vd-dev-001`` with the
  demo's options): is the exact answer the gold one (Kessmar), how many cited pages were seen /
  never shown, and the command's wall time (model load included);
* **eval** — ``carr-agent eval`` on the 7 shipped dev tasks (deterministic judge): correct
  answers, unseen citations in correct answers, seconds per task (the store's ``wall_s``).

The baseline is the HF transformers engine (``--engine hf``: the GGUF dequantized to float32,
token-by-token decoding in Python), the path the project shipped before the llama.cpp engine;
``llama`` is the llama.cpp engine (the GGUF as shipped, grammar-constrained tool calls and
answers). ``llama+cite`` adds ``--cite-only-seen`` (what ``scripts/demo.sh`` runs). The goal for
the engine the demo uses: demo correct with ≥ 1 seen and 0 unseen citations in ≤ 180 s; eval
≥ 3/7 correct, 0 unseen citations in correct answers, ≤ 60 s per task.

    python benchmarks/bench_first_ten.py --engines llama+cite llama hf --baseline-eval-limit 1
    python benchmarks/bench_first_ten.py --engines llama --skip-eval        # the demo only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
from harness import write_results

DEMO_TASK = "vd-dev-001"
#: The options scripts/demo.sh passes to `carr-agent run` (keep in step with it).
DEMO_OPTS = ["--max-tool-calls", "4", "--page-budget", "2500"]
#: The options of the eval measured here (the same budget as the demo).
EVAL_OPTS = ["--max-tool-calls", "4", "--page-budget", "2500"]


def engine_opts(engine: str) -> list[str]:
    """CLI options selecting ``engine`` (``llama``, ``llama+cite`` or ``hf``)."""
    base, _, extra = engine.partition("+")
    opts = ["--engine", base]
    if extra == "cite":
        opts.append("--cite-only-seen")
    elif extra:
        raise SystemExit(f"unknown engine variant {engine!r}")
    return opts


def carr(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, float, str]:
    """Run ``carr-agent ARGS``; returns (exit code, seconds, stdout+stderr tail)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "carr_agent.cli", *args], env=env,
                              capture_output=True, text=True, timeout=timeout)
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out = 124, f"timed out after {timeout:.0f} s: {exc}"
    return code, time.perf_counter() - start, out[-3000:]


def demo(engine: str, work: Path, env: dict[str, str], timeout: float) -> dict[str, Any]:
    """The main job once; correctness by the deterministic judge on the written trajectory."""
    from carr_agent.cli.scorecard import find_task
    from carr_agent.eval.citecheck import count_citations
    from carr_agent.rewards import CarrScorer, DeterministicJudge
    from carr_agent.rewards.run import final_answer

    out = work / f"demo-{engine}.json"
    code, seconds, tail = carr(["run", "--task", DEMO_TASK, *engine_opts(engine), *DEMO_OPTS,
                                "--no-checkpoint", "--output", str(out)], env, timeout)
    row: dict[str, Any] = {"engine": engine, "demo_s": round(seconds, 1), "demo_exit": code}
    if code != 0 or not out.is_file():
        row["demo_answer"] = f"(failed: {tail.strip().splitlines()[-1] if tail.strip() else code})"
        return row
    state = json.loads(out.read_text())
    task = find_task(DEMO_TASK)
    answer = final_answer(state) or ""
    ledger = state.get("ledger") or []
    result = CarrScorer(DeterministicJudge()).score(task, answer, ledger)
    counts = count_citations(answer, ledger)
    row.update({
        "demo_answer": (state.get("answer") or {}).get("exact_answer", "")[:40],
        "demo_correct": result.outcome_reward == 1.0,
        "demo_seen": counts.cited - counts.unseen,
        "demo_unseen": counts.unseen,
        "demo_reward": result.reward,
    })
    return row


def evaluate(engine: str, work: Path, env: dict[str, str], timeout: float,
             limit: int | None) -> dict[str, Any]:
    """``carr-agent eval`` on the dev tasks into a fresh store; numbers from the store."""
    from carr_agent.data import example_tasks_path
    from carr_agent.eval.store import iter_records

    store = work / f"eval-{engine}.sqlite"
    args = ["eval", str(example_tasks_path("dev")), "--store", str(store), *engine_opts(engine),
            *EVAL_OPTS]
    if limit:
        args += ["--limit", str(limit)]
    code, seconds, tail = carr(args, env, timeout)
    records = [r for r in iter_records(store) if r.status == "ok"] if store.is_file() else []
    correct = [r for r in records if r.outcome_reward == 1.0]
    row: dict[str, Any] = {
        "eval_tasks": len(records),
        "eval_correct": len(correct),
        "eval_unseen_in_correct": sum(r.n_unseen_citations for r in correct),
        "eval_s_per_task": round(sum(r.wall_s for r in records) / len(records), 1)
        if records else None,
        "eval_total_s": round(seconds, 1),
        "eval_exit": code,
    }
    if code != 0:
        print(f"[{engine}] eval exited {code}:\n{tail}", file=sys.stderr)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=["llama+cite", "llama", "hf"],
                        help="llama, llama+cite (--cite-only-seen) and/or hf (the baseline)")
    parser.add_argument("--skip-eval", action="store_true", help="measure the demo only")
    parser.add_argument("--eval-limit", type=int, default=None,
                        help="only the first N dev tasks")
    parser.add_argument("--baseline-eval-limit", type=int, default=None,
                        help="only the first N dev tasks for the hf baseline (it is slow)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.results_dir is not None:
        harness.RESULTS_DIR = args.results_dir
    env = {**os.environ, "COLUMNS": "160"}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-first-ten-") as tmp:
        work = Path(tmp)
        env["CARR_AGENT_DATA"] = str(work / "data")
        for engine in args.engines:
            row = demo(engine, work, env, args.timeout)
            print(f"[{engine}] demo: {row}", file=sys.stderr)
            if not args.skip_eval:
                limit = args.baseline_eval_limit if engine == "hf" else None
                row.update(evaluate(engine, work, env, args.timeout, limit or args.eval_limit))
                print(f"[{engine}] eval: {row}", file=sys.stderr)
            rows.append(row)
    notes = (
        "demo: `carr-agent run --task vd-dev-001 " + " ".join(DEMO_OPTS) + "` (gold: Kessmar), "
        "wall time of the command including the model load; eval: `carr-agent eval` on the 7 dev "
        "tasks with " + " ".join(EVAL_OPTS) + ", deterministic judge, seconds per task from the "
        f"store. Baseline: engine hf (float32 transformers). Load average at start: {load}."
    )
    write_results("first_ten", rows, params=vars(args) | {"results_dir": str(args.results_dir)},
                  notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
