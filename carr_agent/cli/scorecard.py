"""`carr-agent run --task ID`: after the answer, the whole chain — the gold answer, the citation
check and the CaRR reward with its rubric breakdown.

The task comes from the shipped example tasks (dev split first) or a task file; the judge is the
one the environment configures (``CARR_JUDGE_*``), else the deterministic judge, which the
shipped tasks support (they carry gold entity values).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carr_agent.errors import DataError

if TYPE_CHECKING:
    from rich.console import Console

    from carr_agent.types import Task

__all__ = ["find_task", "print_scorecard"]


def find_task(task_id: str, tasks_file: Path | None = None) -> Task:
    """The task ``task_id`` of ``tasks_file`` (default: the shipped dev tasks, then all).

    Raises:
        DataError: no such task (the message lists a few ids).
    """
    from carr_agent.data import example_tasks_path
    from carr_agent.task_files import load_tasks

    files = [tasks_file] if tasks_file else [example_tasks_path("dev"), example_tasks_path("all")]
    ids: list[str] = []
    for path in files:
        for task in load_tasks(path):
            if task.id == task_id:
                return task
            ids.append(task.id)
    shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
    raise DataError(f"no task {task_id!r} in {', '.join(map(str, files))} (ids: {shown})")


def print_scorecard(console: Console, task: Task, state: Mapping[str, Any]) -> float | None:
    """Score the finished run against ``task`` and print the chain; returns the reward."""
    from rich.markup import escape
    from rich.table import Table

    from carr_agent.eval.citecheck import check_citations, count_citations
    from carr_agent.rewards import CarrScorer
    from carr_agent.rewards.judges import judge_from_env
    from carr_agent.rewards.run import final_answer

    answer = final_answer(state) or ""
    ledger = list(state.get("ledger") or [])
    judge = judge_from_env(task_has_gold=bool(task.entities))
    scorer = CarrScorer(judge)
    result = scorer.score(task, answer, ledger)
    check = _run(check_citations(judge, task, answer, ledger))
    counts = count_citations(answer, ledger)

    exact = (state.get("answer") or {}).get("exact_answer") or result.extracted_answer or ""
    verdict = {1.0: "[green]correct[/green]", 0.0: "[red]wrong[/red]"}.get(
        result.outcome_reward if result.outcome_reward is not None else -1.0, "unknown")
    console.rule(f"scored against task {escape(task.id)} ({type(judge).__name__})")
    console.print(f"gold answer     {escape(task.label)}", highlight=False)
    console.print(f"model's answer  {escape(exact)}  → {verdict}", highlight=False)
    unsupported = "unknown" if check.unsupported is None else str(check.unsupported)
    console.print(
        f"citations       {counts.cited} cited page(s): {counts.cited - counts.unseen} seen by "
        f"the agent, {counts.unseen} never shown (UNSEEN); {unsupported} of {check.checked} "
        "citing sentences not supported by their page", highlight=False)
    table = Table(title="CaRR rubrics", show_lines=False)
    for col in ("#", "rubric (entities filled from the answer)", "identified", "supported",
                "connected", "score"):
        table.add_column(col, overflow="fold")
    for i, s in enumerate(result.rubric_scores, start=1):
        table.add_row(str(i), escape(s.filled_rubric or s.raw_rubric),
                      _yes(s.all_entity_identified), _yes(s.is_supported),
                      _yes(s.connected_to_answer), str(s.score))
    console.print(table)
    console.print(
        f"outcome reward {_num(result.outcome_reward)} · rubric reward "
        f"{_num(result.rubric_reward)} · CaRR reward {_num(result.reward)} "
        f"(= (1-α)·outcome + α·rubric, α={scorer.options.alpha})", highlight=False)
    for error in result.errors:
        console.print(f"[yellow]judge: {escape(error)}[/yellow]")
    return result.reward


def _run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def _yes(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _num(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


