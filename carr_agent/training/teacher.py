"""Scripted research strategies for a task: the teacher trajectories of warm starts and demos.

A strategy is a list of completion texts, one per model turn, exactly as a policy would write
them (``<tool_call>`` blocks, then a final answer in the three-section format). Fed to the agent
graph as teacher-forced turns they go through the real tools, ledger and scorer, so each one earns
whatever CaRR really gives it. Built from a task's gold data (``label``, ``entities``,
``rubrics`` and the ``gold_urls`` / ``rubric_urls`` of its metadata):

``thorough``  open every gold page, answer citing each filled rubric with a page supporting it
``thin``      open the first gold page, answer correctly citing that page for the first rubric
``uncited``   search once, answer correctly with no citation
``wrong``     search once, answer another task's entity

With a correct answer all of ``thorough``, ``thin`` and ``uncited`` get outcome reward 1; only the
rubric reward tells them apart (what C-GRPO adds over outcome-only GRPO).
"""

from __future__ import annotations

import json
import re

from carr_agent.types import Task

__all__ = ["STRATEGIES", "answer_text", "fill_rubric", "strategy_scripts", "tool_call_text"]

#: The strategy names, in a fixed order.
STRATEGIES = ("thorough", "thin", "uncited", "wrong")

_FALLBACK_URL = "https://valdopedia.example/"


def tool_call_text(name: str, **args: object) -> str:
    """A ``<tool_call>`` block as a Qwen-style policy writes it."""
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"


def answer_text(body: str, exact: str) -> str:
    """A final answer in the three-section format CaRR scores (empty reference list)."""
    return f"## Explanation with Citations\n{body}\n\n## Exact Answer\n{exact}\n\n## References\n"


def fill_rubric(rubric: str, entities: dict[str, str]) -> str:
    """Substitute the gold entity values into a rubric's ``<En>`` placeholders."""
    return re.sub(r"<(E\d+)>", lambda m: entities.get(m.group(1), m.group(0)), rubric)


def _urls(value: object) -> list[str]:
    return [str(u) for u in value] if isinstance(value, list | tuple) else []


def strategy_scripts(task: Task, *, wrong_label: str) -> dict[str, list[str]]:
    """The completions of every strategy in :data:`STRATEGIES` for ``task``.

    Args:
        task: A task with gold entities and (ideally) ``gold_urls`` / ``rubric_urls`` metadata.
        wrong_label: The entity the ``wrong`` strategy answers (another task's label).
    """
    ents = task.entities or {}
    urls = _urls(task.metadata.get("gold_urls"))
    raw = task.metadata.get("rubric_urls")
    per_rubric = [_urls(u) for u in raw] if isinstance(raw, list) else [urls] * len(task.rubrics)
    cited = " ".join(
        f"{fill_rubric(r, ents)} [{k + 1}]({(u or urls or [_FALLBACK_URL])[0]})."
        for k, (r, u) in enumerate(zip(task.rubrics, per_rubric, strict=False))
    )
    first = urls[0] if urls else _FALLBACK_URL
    first_fact = fill_rubric(task.rubrics[0], ents) if task.rubrics else task.label
    search = tool_call_text("search", query=task.question)
    return {
        "thorough": [*(tool_call_text("open", id_or_url=u) for u in urls), answer_text(cited, task.label)],
        "thin": [tool_call_text("open", id_or_url=first),
                 answer_text(f"{first_fact} [1]({first}).", task.label)],
        "uncited": [search, answer_text(f"It is {task.label}.", task.label)],
        "wrong": [search, answer_text(f"It is {wrong_label}.", wrong_label)],
    }
