"""The TRL recipe: our graph as GRPOTrainer's rollout_func (contract checked without TRL's loop),
and the whole script end to end (slow)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from tests.test_training_loop import DOCS, SCRIPTS, TASK

RECIPE = Path(__file__).resolve().parents[1] / "examples" / "trl_accelerate" / "grpo_graph_rollouts.py"


def _recipe():
    spec = importlib.util.spec_from_file_location("grpo_graph_rollouts", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rollout_func_returns_one_masked_rollout_per_prompt(tmp_path: Path) -> None:
    import json

    import torch

    from carr_agent.models.tiny import build_tiny_model
    from carr_agent.tools.corpus import CorpusIndex

    torch.set_num_threads(1)
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    corpus = CorpusIndex.build(tmp_path / "docs.jsonl", tmp_path / "index")
    model, tok = build_tiny_model(0)
    trainer = SimpleNamespace(model=model, processing_class=tok, args=SimpleNamespace(temperature=1.0),
                              accelerator=SimpleNamespace(unwrap_model=lambda m: m))
    rollout_func = _recipe().build_rollout_func(
        corpus, {TASK.question: TASK}, max_new_tokens=8, max_tool_calls=4,
        scripts={TASK.id: [SCRIPTS[0], SCRIPTS[2]]})
    prompts = [TASK.question, TASK.question]          # TRL repeats each prompt num_generations times
    out = rollout_func(prompts, trainer)

    assert all(len(out[k]) == 2 for k in ("prompt_ids", "completion_ids", "logprobs", "env_mask"))
    for ids, logps, mask in zip(out["completion_ids"], out["logprobs"], out["env_mask"], strict=True):
        assert len(ids) == len(logps) == len(mask) and set(mask) == {0, 1}
        assert all(lp == 0.0 for lp, m in zip(logps, mask, strict=True) if m == 0)
        assert all(lp < 0.0 for lp, m in zip(logps, mask, strict=True) if m == 1)
        tool_text = tok.decode([i for i, m in zip(ids, mask, strict=True) if m == 0])
        assert "<tool_response>" in tool_text
    assert "Vltava" in out["answer_text"][0] and "Danube" in out["answer_text"][1]
    assert out["ledger"][0] and out["token_mismatch"] == [False, False]


@pytest.mark.slow
def test_trl_recipe_trains_two_steps_on_cpu() -> None:
    run = subprocess.run([sys.executable, str(RECIPE), "--steps", "2", "--teacher-scripts"],
                         capture_output=True, text=True, timeout=900,
                         env={"OMP_NUM_THREADS": "1", "PATH": "", **__import__("os").environ})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "parameter tensors changed: 0/" not in run.stdout and "parameter tensors changed" in run.stdout
