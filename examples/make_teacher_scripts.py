"""Write teacher-forced rollout scripts for the example dev tasks (for `rollout.scripts`).

A random or very small policy never calls tools by itself, so every rollout would score 0 and
every advantage would be 0. Teacher forcing feeds the agent graph fixed completions instead: the
policy still runs (its log-probabilities of the forced tokens are recorded and trained), the tools
really run, and CaRR really scores. Per task and group of four slots (strategies of
`carr_agent.training.teacher`):

0. ``thorough``: open every gold page, answer with each rubric filled and cited -> R_o = 1, high R_r
1. ``thin``: open only the first gold page, answer correctly citing it           -> R_o = 1, lower R_r
2. ``wrong``: search once, answer the wrong entity                                -> R_o = 0
3. ``null``: the policy samples freely                                            -> usually 0

    python examples/make_teacher_scripts.py > /tmp/teacher_scripts.json
    # then set rollout.scripts: /tmp/teacher_scripts.json (group_size: 4)
"""

from __future__ import annotations

import json
import sys

from carr_agent.data import example_tasks_path
from carr_agent.task_files import load_tasks
from carr_agent.training.teacher import strategy_scripts


def main() -> None:
    tasks = load_tasks(example_tasks_path("dev"))
    scripts: dict[str, list[list[str] | None]] = {}
    for i, task in enumerate(tasks):
        by_name = strategy_scripts(task, wrong_label=tasks[(i + 1) % len(tasks)].label)
        scripts[task.id] = [by_name["thorough"], by_name["thin"], by_name["wrong"], None]
    json.dump(scripts, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
