"""The evaluation examples run as users run them (a script in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMBER = "https://valdopedia.example/wiki/Ember_Suite"
KESSMAR = "https://valdopedia.example/wiki/Kessmar"

ANSWER = (
    "## Explanation with Citations\n"
    f"Teodor Halvane composed the Ember Suite [1]({EMBER}). "
    f"Teodor Halvane was born in Kessmar [1]({EMBER}). "
    f"Kessmar is a town in the province of Morvaine and was founded in 1632 [2]({KESSMAR}).\n\n"
    "## Exact Answer\nKessmar\n\n"
    f"## References\n[1] {EMBER}\n[2] {KESSMAR}\n"
)


def test_offline_example_runs_a_dev_task_and_prints_the_breakdown(tmp_path):
    script = tmp_path / "turns.json"
    script.write_text(json.dumps([
        {"tool_calls": [{"name": "search", "args": {"query": "Ember Suite composer"}}]},
        {"tool_calls": [{"name": "open", "args": {"id_or_url": EMBER}}]},
        {"tool_calls": [{"name": "open", "args": {"id_or_url": KESSMAR}}]},
        ANSWER,
    ]), encoding="utf-8")
    env = {**os.environ, "CARR_AGENT_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "offline_research_task.py"),
         "--task", "vd-dev-001", "--model", f"scripted:{script}"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "task vd-dev-001" in out
    assert "outcome reward : 1.0" in out
    assert "rubric reward  : 1.0" in out
    assert "2 distinct URLs, 0 never seen" in out
    assert "tool calls     : 3 (search 1, open 2, find 0)" in out


def test_offline_example_names_an_unknown_task(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "offline_research_task.py"), "--task", "nope",
         "--model", "scripted:/nonexistent.json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "no task 'nope'" in proc.stderr


@pytest.mark.network
def test_web_example_researches_on_the_live_web():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "web_research_task.py"),
                           "--max-tool-calls", "6"], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    assert "tool calls" in proc.stdout
