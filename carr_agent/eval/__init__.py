"""Evaluation: run the agent over task files, store every result, compute metrics, write reports.

- :mod:`~carr_agent.eval.config` — :class:`EvalConfig`, what a run is (hashed into its key).
- :mod:`~carr_agent.eval.runner` — :class:`EvalRunner`: bounded-concurrency runs, scored and
  stored one transaction per task (resumable, never duplicated).
- :mod:`~carr_agent.eval.store` — :class:`ResultStore`, the SQLite results store (WAL).
- :mod:`~carr_agent.eval.citecheck` — citation counts and the per-citation support check.
- :mod:`~carr_agent.eval.metrics` — pure metrics: accuracy, rubric fractions, tools, tokens.
- :mod:`~carr_agent.eval.report` / :mod:`~carr_agent.eval.plots` — the self-contained HTML report.

Task files are read by :mod:`carr_agent.task_files`.
"""

from carr_agent.eval.config import EvalConfig
from carr_agent.eval.metrics import Summary, TaskRow, compare, summarize, task_row
from carr_agent.eval.record import EvalRecord
from carr_agent.eval.report import load_run, render_report, write_report
from carr_agent.eval.runner import EvalOutcome, EvalRunner
from carr_agent.eval.store import ResultStore, RunInfo

__all__ = [
    "EvalConfig",
    "EvalOutcome",
    "EvalRecord",
    "EvalRunner",
    "ResultStore",
    "RunInfo",
    "Summary",
    "TaskRow",
    "compare",
    "load_run",
    "render_report",
    "summarize",
    "task_row",
    "write_report",
]
