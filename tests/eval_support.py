"""Test data for the evaluation tests: a two-page fictional world, task files and an agent script.

The agent is the real LangGraph agent over a real tantivy corpus; only the model is scripted
(``ScriptedChatModel``: the same turns for every task). The final answer cites both pages, makes
one claim its cited page does not support, and cites one URL the agent never saw, so every
citation metric has something to count.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAREK_URL = "https://example.org/wiki/Anton_Marek"
BRASTOW_URL = "https://example.org/wiki/Brastow"
UNSEEN_URL = "https://example.org/wiki/Never_Opened"

CORPUS = [
    {"url": MAREK_URL, "title": "Anton Marek", "date": "2021-03-02",
     "text": "Anton Marek (1841-1903) was a composer and organist. Marek was born in Brastow, a "
             "market town, and studied music in the capital. His best known work is the opera "
             "The Silver Lantern, which Marek composed in 1879 and which premiered in 1880."},
    {"url": BRASTOW_URL, "title": "Brastow",
     "text": "Brastow is a town of about 40,000 people. The Velda River flows through Brastow "
             "from the northern hills to the lake. The Velda is a river of moderate length, "
             "known for its stone bridges."},
    {"url": "https://example.org/wiki/Lantern", "title": "Lantern",
     "text": "A lantern is a portable lamp. Lanterns were used in mines and on ships."},
]

RIVER_Q = ("Which river flows through the birthplace of the composer who wrote the opera "
           "The Silver Lantern?")
TOWN_Q = "In which town was the composer of the opera The Silver Lantern born?"
YEAR_Q = "In which year did the composer of The Silver Lantern die?"

ANSWER = (
    "## Explanation with Citations\n"
    f"The opera The Silver Lantern was composed by Anton Marek [1]({MAREK_URL}). "
    f"Anton Marek was born in Brastow [1]({MAREK_URL}). "
    f"The Velda River flows through Brastow [2]({BRASTOW_URL}). "
    f"Anton Marek wrote twelve symphonies in Brastow [2]({BRASTOW_URL}). "
    f"Brastow also has a cathedral [3]({UNSEEN_URL}).\n\n"
    "## Exact Answer\nVelda River\n\n"
    f"## References\n[1] {MAREK_URL}\n[2] {BRASTOW_URL}\n"
)

SCRIPT: list[Any] = [
    {"content": "", "tool_calls": [{"name": "search",
                                    "args": {"query": "opera The Silver Lantern composer"}}]},
    {"content": "", "tool_calls": [{"name": "open", "args": {"id_or_url": 0}}]},
    {"content": "", "tool_calls": [{"name": "open", "args": {"id_or_url": BRASTOW_URL}}]},
    {"content": "", "tool_calls": [{"name": "find", "args": {"pattern": "Velda"}}]},
    ANSWER,
]


def river_task(task_id: str = "river", **extra: Any) -> dict[str, Any]:
    """Answered correctly by the script (project format, 2 hops)."""
    return {"id": task_id, "question": RIVER_Q, "label": "Velda River", "aliases": ["Velda"],
            "rubrics": ["<E1> composed the opera The Silver Lantern.", "<E1> was born in <E2>.",
                        "<E0> flows through <E2>."],
            "entities": {"E0": "Velda River", "E1": "Anton Marek", "E2": "Brastow"},
            "hops": 2, **extra}


def town_task(task_id: str = "town") -> dict[str, Any]:
    """Answered wrongly by the script (project format, 1 hop); its rubrics are still supported."""
    return {"id": task_id, "question": TOWN_Q, "label": "Brastow",
            "rubrics": ["<E1> composed the opera The Silver Lantern.", "<E1> was born in <E0>."],
            "entities": {"E0": "Brastow", "E1": "Anton Marek"}, "hops": 1}


def deepdive_task(question: str = YEAR_Q, label: str = "1903") -> dict[str, Any]:
    """The CaRR-DeepDive layout: prompt messages, label, rubrics in metadata (no gold entities)."""
    return {
        "source": "deepsearch_with_browser",
        "input_messages": [{"role": "user", "content": question + "\n\nAnswer with citations."}],
        "label": label,
        "metadata": {"remote_env_info": {
            "search_forbidden_strs": [question],
            "rubrics": ["<E1> composed the opera The Silver Lantern.", "<E1> died in <E0>."],
        }},
    }


def write_jsonl(path: Path, records: Sequence[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
                    encoding="utf-8")
    return path


def write_world(tmp: Path) -> tuple[Path, Path]:
    """``(corpus.jsonl, script.json)`` in ``tmp``."""
    corpus = write_jsonl(tmp / "corpus.jsonl", CORPUS)
    script = tmp / "script.json"
    script.write_text(json.dumps(SCRIPT), encoding="utf-8")
    return corpus, script


def many_tasks(n: int) -> list[dict[str, Any]]:
    """``n`` project-format tasks alternating correct / wrong for the script."""
    return [river_task(f"r{i:03d}") if i % 2 == 0 else town_task(f"t{i:03d}") for i in range(n)]
