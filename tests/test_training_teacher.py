"""The scripted research strategies: what the shipped teacher file and the learning benchmark use."""

from __future__ import annotations

import json
from pathlib import Path

from carr_agent.data import example_tasks_path
from carr_agent.models.toolcalls import parse_tool_calls
from carr_agent.task_files import load_tasks
from carr_agent.training.teacher import STRATEGIES, fill_rubric, strategy_scripts

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_teacher_scripts_are_the_thorough_thin_and_wrong_strategies():
    tasks = load_tasks(example_tasks_path("dev"))
    shipped = json.loads((ROOT / "examples/data/teacher_scripts_dev.json").read_text())
    for i, task in enumerate(tasks):
        s = strategy_scripts(task, wrong_label=tasks[(i + 1) % len(tasks)].label)
        assert shipped[task.id] == [s["thorough"], s["thin"], s["wrong"], None]


def test_every_strategy_calls_tools_then_answers_in_the_scored_format():
    task = load_tasks(example_tasks_path("dev"))[0]
    scripts = strategy_scripts(task, wrong_label="Nobody")
    assert tuple(scripts) == STRATEGIES
    for turns in scripts.values():
        *calls, answer = turns
        assert calls and all(len(parse_tool_calls(c).tool_calls) == 1 for c in calls)
        assert "## Exact Answer" in answer and not parse_tool_calls(answer).tool_calls
    assert f"## Exact Answer\n{task.label}\n" in scripts["uncited"][-1]
    assert "](http" not in scripts["uncited"][-1]
    assert "## Exact Answer\nNobody\n" in scripts["wrong"][-1]
    # the thorough answer states and cites every rubric with the gold entities filled in
    for rubric in task.rubrics:
        assert fill_rubric(rubric, task.entities or {}) in scripts["thorough"][-1]
    assert scripts["thorough"][-1].count("](http") == len(task.rubrics)


def test_fill_rubric_leaves_unknown_placeholders():
    assert fill_rubric("<E1> was born in <E0>.", {"E0": "Kessmar"}) == "<E1> was born in Kessmar."
