"""Regenerate ``evaluate_requests.jsonl``: small ``/evaluate`` requests in the reference format.

A fictional two-hop question (no real-world facts are needed, so any judge can check it from the
evidence alone). Each line exercises one behaviour of the reward: a fully cited correct answer,
a correct answer without citations, a wrong answer, an unfinished rollout, a history without a
final answer, outcome-only (α = 0) and rubric-only (α = 1) requests. Every request carries the
optional ``remote_env_info.entities`` extension (gold values for the deterministic judge).

    python examples/data/build_sample_requests.py > examples/data/evaluate_requests.jsonl
"""

from __future__ import annotations

import json

from carr_agent.tools.render import render_find, render_page, render_search
from carr_agent.types import Hit, Page

QUESTION = (
    "Which river flows through the birthplace of the composer who wrote the opera "
    "The Silver Lantern?"
)
PROMPT = QUESTION + (
    "\n\nYour response should end with three sections: ## Explanation with Citations, "
    "## Exact Answer, ## References."
)
LABEL = "Velda River"
RUBRICS = [
    "<E1> composed the opera The Silver Lantern.",
    "<E1> was born in <E2>.",
    "<E0> flows through <E2>.",
    "<E0> is a river.",
]
ENTITIES = {"E0": "Velda River", "E1": "Anton Marek", "E2": "Brastow"}

MAREK = Page(
    url="https://example.org/wiki/Anton_Marek",
    title="Anton Marek",
    date="2021-03-02",
    text=(
        "Anton Marek (1841-1903) was a composer and organist. Marek was born in Brastow, a "
        "market town, and studied music in the capital. His best known work is the opera The "
        "Silver Lantern, which Marek composed in 1879 and which premiered in 1880."
    ),
)
BRASTOW = Page(
    url="https://example.org/wiki/Brastow",
    title="Brastow",
    text=(
        "Brastow is a town of about 40,000 people. The Velda River flows through Brastow from "
        "the northern hills to the lake. The Velda is a river of moderate length, known for its "
        "stone bridges. Brastow is the birthplace of the composer Anton Marek."
    ),
)


def _call(call_id: str, name: str, **args: object) -> dict:
    return {"tool_call_id": call_id, "name": name, "arguments": json.dumps(args)}


def _tool(call_id: str, output: str) -> dict:
    return {"role": "tool", "content": [{"tool_call_id": call_id, "output": output}]}


def browsing() -> list[dict]:
    """User prompt + the tool calls and observations of one research run."""
    hits1 = [
        Hit(url=MAREK.url, title=MAREK.title,
            snippet="Anton Marek was a composer; his best known work is the opera The Silver Lantern."),
        Hit(url="https://example.org/wiki/Lantern", title="Lantern", snippet="A lantern is a lamp."),
    ]
    hits2 = [Hit(url=BRASTOW.url, title="Brastow", snippet="Brastow is a town on the Velda River.")]
    return [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "reasoning_content": "Find the composer first.",
         "tool_calls": [_call("tc-1", "browser.search", query="opera The Silver Lantern composer", num=10)]},
        _tool("tc-1", render_search(hits1)),
        {"role": "assistant", "tool_calls": [_call("tc-2", "browser.open", id=0)]},
        _tool("tc-2", render_page(MAREK)[0]),
        {"role": "assistant", "tool_calls": [_call("tc-3", "browser.search", query="Brastow river", num=10)]},
        _tool("tc-3", render_search(hits2)),
        {"role": "assistant", "tool_calls": [_call("tc-4", "browser.open", id=BRASTOW.url)]},
        _tool("tc-4", render_page(BRASTOW)[0]),
        {"role": "assistant", "tool_calls": [_call("tc-5", "browser.find", pattern="Velda")]},
        _tool("tc-5", render_find([
            "The Velda River flows through Brastow from the northern hills to the lake.",
            "The Velda is a river of moderate length, known for its stone bridges.",
        ])),
    ]


CITED = (
    "## Explanation with Citations\n"
    "The opera The Silver Lantern was composed by Anton Marek [1](https://example.org/wiki/Anton_Marek), "
    "who was born in Brastow [1](https://example.org/wiki/Anton_Marek). The Velda River flows "
    "through Brastow [2](https://example.org/wiki/Brastow), and the Velda is a river "
    "[2](https://example.org/wiki/Brastow).\n\n"
    "## Exact Answer\nVelda River\n\n"
    "## References\n1. https://example.org/wiki/Anton_Marek\n2. https://example.org/wiki/Brastow\n"
)
UNCITED = (
    "## Explanation with Citations\nThe composer Anton Marek was born in Brastow, on the Velda "
    "River.\n\n## Exact Answer\nVelda River\n\n## References\n(none)\n"
)
WRONG = (
    "## Explanation with Citations\nThe opera was written by Anton Marek "
    "[1](https://example.org/wiki/Anton_Marek); I believe the river is the Orin.\n\n"
    "## Exact Answer\nOrin River\n\n## References\n1. https://example.org/wiki/Anton_Marek\n"
)


def request(rid: str, history: list[dict], *, alpha: float = 0.3, unfinished: bool = False) -> dict:
    return {
        "id": rid,
        "history": history,
        "label": LABEL,
        "task_unfinished": unfinished,
        "remote_env_info": {
            "search_forbidden_strs": [QUESTION],
            "rubrics": RUBRICS,
            "rubric_reward_ratio": alpha,
            "entities": ENTITIES,
        },
    }


def main() -> None:
    final = lambda text: {"role": "assistant", "content": text}  # noqa: E731
    lines = [
        request("cited-correct", [*browsing(), final(CITED)]),
        request("uncited-correct", [*browsing(), final(UNCITED)]),
        request("cited-wrong", [*browsing(), final(WRONG)]),
        request("unfinished", browsing(), unfinished=True),
        request("no-final-answer", browsing()),
        request("outcome-only", [*browsing(), final(CITED)], alpha=0.0),
        request("rubric-only", [*browsing(), final(CITED)], alpha=1.0),
    ]
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()
