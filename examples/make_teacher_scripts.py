"""Write teacher-forced rollout scripts for the example dev tasks (for `rollout.scripts`).

A random or very small policy never calls tools by itself, so every rollout would score 0 and
every advantage would be 0. Teacher forcing feeds the agent graph fixed completions instead: the
policy still runs (its log-probabilities of the forced tokens are recorded and trained), the tools
really run, and CaRR really scores. Per task and group of four slots:

0. open every gold page, answer with each rubric filled and cited  -> R_o = 1, high R_r
1. open only the first gold page, answer correctly citing it        -> R_o = 1, lower R_r
2. search once, answer the wrong entity                             -> R_o = 0
3. ``null``: the policy samples freely                               -> usually 0

    python examples/make_teacher_scripts.py > /tmp/teacher_scripts.json
    # then set rollout.scripts: /tmp/teacher_scripts.json (group_size: 4)
"""

from __future__ import annotations

import json
import re
import sys

from carr_agent.data import example_tasks_path
from carr_agent.tasks import load_tasks


def call(name: str, **args: object) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"


def answer(body: str, exact: str) -> str:
    return f"## Explanation with Citations\n{body}\n\n## Exact Answer\n{exact}\n\n## References\n"


def fill(rubric: str, entities: dict[str, str]) -> str:
    return re.sub(r"<(E\d+)>", lambda m: entities.get(m.group(1), m.group(0)), rubric)


def main() -> None:
    tasks = load_tasks(example_tasks_path("dev"))
    scripts: dict[str, list[list[str] | None]] = {}
    for i, task in enumerate(tasks):
        ents = task.entities or {}
        urls = list(task.metadata.get("gold_urls") or [])
        rubric_urls = task.metadata.get("rubric_urls") or [urls] * len(task.rubrics)
        cited = " ".join(
            f"{fill(r, ents)} [{k + 1}]({(u or urls or ['https://valdopedia.example/'])[0]})."
            for k, (r, u) in enumerate(zip(task.rubrics, rubric_urls, strict=False))
        )
        wrong = tasks[(i + 1) % len(tasks)].label
        first = urls[0] if urls else "https://valdopedia.example/"
        scripts[task.id] = [
            [*(call("open", id_or_url=u) for u in urls), answer(cited, task.label)],
            [call("open", id_or_url=first),
             answer(f"{fill(task.rubrics[0], ents)} [1]({first}).", task.label)],
            [call("search", query=task.question), answer(f"It is {wrong}.", wrong)],
            None,
        ]
    json.dump(scripts, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
