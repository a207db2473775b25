"""``benchmarks/bench_learning.py`` runs end to end at tiny sizes and writes what it promises.

The strategy-level variant runs as a real subprocess (real graph, tools, ledger, CaRR scorer and
policy updates) with one seed, both arms and two steps, into a temporary results directory, never
into ``benchmarks/results``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
REQUIRED = {"step", "outcome_reward", "rubric_reward", "citations_per_trajectory",
            "tool_calls_per_trajectory", "token_mismatch"}


@pytest.fixture(scope="module")
def strategy_results(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("learning")
    before = {p: p.stat().st_mtime_ns for p in (BENCH / "results").glob("learning*")}
    argv = [sys.executable, "bench_learning.py", "--variant", "strategy", "--seeds", "3",
            "--steps", "2", "--questions", "1", "--group", "3", "--heldout", "1", "--train-tasks", "2",
            "--eval-every", "1", "--results-dir", str(out)]
    run = subprocess.run(argv, cwd=BENCH, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in (BENCH / "results").glob("learning*")} == before
    return json.loads((out / "learning.json").read_text()), out


def test_strategy_variant_writes_both_arms_with_the_required_step_fields(strategy_results):
    results, out = strategy_results
    assert set(results["arms"]) == {"cgrpo", "grpo"}
    for arm, runs in results["arms"].items():
        assert [(r["seed"], r["variant"], r["arm"]) for r in runs] == [(3, "strategy", arm)]
        steps = runs[0]["steps"]
        assert [s["step"] for s in steps] == [1, 2]
        for s in steps:
            assert set(s) >= REQUIRED
            assert 0.0 <= s["outcome_reward"] <= 1.0 and 0.0 <= s["rubric_reward"] <= 1.0
            assert sum(s["strategy_counts"].values()) == 3  # one question x G = 3 rollouts
    assert (out / "learning.png").stat().st_size > 1000


def test_strategy_variant_scores_each_strategy_through_the_real_scorer(strategy_results):
    results, _ = strategy_results
    table = results["variants"]["strategy"]["strategy_rewards"]
    info = results["variants"]["strategy"]
    assert len(info["train_tasks"]) == 2 and len(info["heldout_tasks"]) == 1
    assert not set(info["train_tasks"]) & set(info["heldout_tasks"])
    for by_strategy in table.values():
        # correct answers all earn the outcome; only the thorough, cited one earns every rubric
        assert [by_strategy[s]["outcome_reward"] for s in ("thorough", "thin", "uncited", "wrong")] \
            == [1.0, 1.0, 1.0, 0.0]
        assert by_strategy["thorough"]["rubric_reward"] == 1.0
        assert by_strategy["uncited"]["rubric_reward"] == 0.0
        assert by_strategy["thorough"]["citations_per_trajectory"] > by_strategy["thin"][
            "citations_per_trajectory"] > by_strategy["uncited"]["citations_per_trajectory"]


def test_exact_strategy_probabilities_are_a_distribution(strategy_results):
    results, _ = strategy_results
    for run in results["arms"]["cgrpo"]:
        for ev in run["eval"]:
            for split in ("train", "heldout"):
                assert sum(ev[split]["p_strategy"].values()) == pytest.approx(1.0, abs=1e-5)


def test_a_second_variant_keeps_the_first_variants_runs(strategy_results, tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        from bench_learning import merge_results
    finally:
        sys.path.remove(str(BENCH))
    results, _ = strategy_results
    path = tmp_path / "learning.json"
    path.write_text(json.dumps(results))
    run = {"seed": 0, "variant": "sampled", "arm": "grpo", "steps": [], "eval": []}
    merged = merge_results(path, "sampled", [run], {"x": 1})
    assert [r["variant"] for r in merged["arms"]["grpo"]] == ["strategy", "sampled"]
    assert [r["variant"] for r in merged["arms"]["cgrpo"]] == ["strategy"]
    assert set(merged["variants"]) == {"strategy", "sampled"}


def test_sampled_variant_warm_starts_then_trains_with_the_training_loop(tmp_path):
    """Compact tokenizer, SFT warm start, one RL step of each arm through ``train()``, evaluation."""
    argv = [sys.executable, "bench_learning.py", "--variant", "sampled", "--seeds", "0",
            "--steps", "1", "--questions", "1", "--group", "2", "--sft-epochs", "1",
            "--eval-samples", "1", "--heldout", "1", "--train-tasks", "2",
            "--results-dir", str(tmp_path), "--work-dir", str(tmp_path / "work")]
    run = subprocess.run(argv, cwd=BENCH, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "learning.json").read_text())
    for arm, runs in results["arms"].items():
        assert [(r["seed"], r["variant"], r["arm"]) for r in runs] == [(0, "sampled", arm)]
        (step,) = runs[0]["steps"]
        assert set(step) >= REQUIRED and step["trajectories"] == 2
        assert step["token_mismatch"] == 0  # token-in/token-out: sampled turns never dropped
        assert step["scripted_tokens"] == 0 and step["sampled_tokens"] > 0  # nothing scripted
        assert [e["step"] for e in runs[0]["eval"]] == [0, 1]
    (warm,) = results["variants"]["sampled"]["warm_start"]
    # 2 tasks x 4 strategies, one SFT example per teacher turn (2-4 turns each)
    assert 16 <= warm["examples"] <= 32 and warm["completion_tokens_max"] > 0
    assert (tmp_path / "work" / "warm-0" / "warm_start.json").is_file()
