"""Pieces both variants of ``bench_learning.py`` share: the task split, scoring, step summaries.

Training tasks are the 7 shipped dev tasks (two hops each). Held-out tasks, never trained on,
check transfer: the first two-hop tasks of the main example set that carry no trap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carr_agent.types import LedgerRecord, RewardResult, Task

logger = logging.getLogger("bench_learning")

ARMS = {"cgrpo": "cgrpo", "grpo": "grpo_outcome"}
"""Benchmark arm -> advantage function (``carr_agent.training.losses.ADVANTAGES``)."""

COMPACT_PROMPT = (
    "Research the question with the tools, then answer with three sections: "
    "## Explanation with Citations (each fact with an inline citation [n](url) of a page you "
    "opened), ## Exact Answer, ## References."
)
"""A short system prompt (the graph's default one is ~2.5k characters): shorter sequences."""


def split_tasks(n_heldout: int, n_train: int = 0) -> tuple[list[Task], list[Task]]:
    """``(train, heldout)``: the dev tasks (the first ``n_train``; 0 = all 7), and ``n_heldout``
    untrapped two-hop tasks of the main set."""
    from carr_agent.data import example_tasks_path
    from carr_agent.task_files import load_tasks

    train = load_tasks(example_tasks_path("dev"))
    pool = [t for t in load_tasks(example_tasks_path("all"))
            if t.metadata.get("hops") == 2 and not t.metadata.get("traps")]
    return train[:n_train] if n_train else train, pool[:n_heldout]


def wrong_labels(tasks: Sequence[Task]) -> dict[str, str]:
    """For each task, another task's label (what the ``wrong`` strategy answers)."""
    return {t.id: tasks[(i + 1) % len(tasks)].label for i, t in enumerate(tasks)}


def make_scorer() -> Any:
    """CaRR with the deterministic judge (gold entities; offline, reproducible)."""
    from carr_agent.rewards.judges import DeterministicJudge
    from carr_agent.rewards.scorer import CarrScorer

    return CarrScorer(DeterministicJudge())


@dataclass(kw_only=True)
class Episode:
    """One finished rollout, as the benchmark reports it."""

    task: Task
    answer: str
    ledger: list[LedgerRecord]
    tool_calls: int
    citations: int
    result: RewardResult | None = None
    strategy: str | None = None


def score_episodes(scorer: Any, episodes: Sequence[Episode]) -> None:
    """Fill ``result`` for every episode (concurrently); a judge failure leaves it unknown."""
    from carr_agent.errors import JudgeError

    async def one(e: Episode) -> RewardResult | None:
        try:
            return await scorer.ascore(e.task, e.answer, e.ledger)
        except JudgeError as exc:
            logger.warning("scoring %s failed (unknown): %s", e.task.id, exc)
            return None

    async def all_() -> list[RewardResult | None]:
        return await asyncio.gather(*(one(e) for e in episodes))

    for e, r in zip(episodes, asyncio.run(all_()), strict=True):
        e.result = r


def run_graph(model: Any, task: Task, *, corpus: Any, max_tool_calls: int, page_budget: int,
              system_prompt: str | None = COMPACT_PROMPT) -> Episode:
    """One run of the real agent graph (real tools and ledger) on ``task``; not scored yet."""
    from langchain_core.messages import HumanMessage

    from carr_agent.graph.builder import build_agent

    # No forced first call (min_tool_calls=0), as in training rollouts: a forced call prefills
    # the tool name, a prefix the policy never produced itself.
    graph = build_agent(model, search=corpus, fetcher=corpus, max_tool_calls=max_tool_calls,
                        min_tool_calls=0, page_budget=page_budget, system_prompt=system_prompt,
                        forbidden_strs=tuple(task.forbidden_strs) or (task.question,))
    state = graph.invoke({"messages": [HumanMessage(task.prompt or task.question)],
                          "question": task.question})
    answer = state.get("answer") or {}
    if not isinstance(answer, dict):
        answer = {}
    return Episode(task=task, answer=str(answer.get("text") or ""),
                   ledger=list(state.get("ledger") or []),
                   tool_calls=int(state.get("tool_calls") or 0),
                   citations=len(answer.get("citations") or []))


def episode_metrics(episodes: Sequence[Episode]) -> dict[str, Any]:
    """The required per-step fields that come from the rollouts themselves."""
    from carr_agent.training.metrics import mean_or_none

    known = [e.result for e in episodes if e.result is not None and not e.result.unknown]
    return {
        "outcome_reward": mean_or_none(r.outcome_reward for r in known),
        "rubric_reward": mean_or_none(r.rubric_reward for r in known),
        "citations_per_trajectory": mean_or_none(e.citations for e in episodes),
        "tool_calls_per_trajectory": mean_or_none(e.tool_calls for e in episodes),
        "unknown_rewards": len(episodes) - len(known),
    }
