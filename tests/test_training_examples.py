"""The shipped training recipes are valid configs, and the CPU recipe trains out of the box."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from carr_agent.training import load_config

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "examples").glob("train_*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_training_recipe_is_a_valid_config(path: Path) -> None:
    load_config(path)


def test_the_cpu_tiny_recipe_trains_trajectories_with_nonzero_reward(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "carr_agent.cli", "train", "--config",
         str(ROOT / "examples" / "train_cpu_tiny.yaml"), "--max-steps", "1", "--output-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    step = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert step["step"] == 1 and step["trained_trajectories"] >= 3
    assert step["reward"] > 0 and step["loss"] is not None
