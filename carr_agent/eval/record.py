"""One evaluated run of one task: what the agent did, what it answered and how it scored.

Plain data shared by the runner (which makes records), the store (which persists them) and the
metrics/report (which read them). ``None`` in a score field means *unknown* (a judge failed),
never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from carr_agent.errors import DataError

RunStatus = Literal["ok", "failed"]


@dataclass(frozen=True, kw_only=True, slots=True)
class EvalRecord:
    """The stored result of running and scoring one task under one run configuration.

    Attributes:
        task_id: the task's id in its task file.
        config_hash: the run configuration's hash (see :class:`~carr_agent.eval.config.EvalConfig`).
        status: ``"ok"`` (the agent finished and was scored; scores may still be unknown) or
            ``"failed"`` (the agent run itself raised; retried by the next ``eval`` run).
        question: the bare question.
        label: the gold answer.
        hops: the task's hop count when the task file gives one.
        answer: the final answer text ("" when the run failed).
        extracted_answer: what the outcome judge read as the exact answer.
        outcome_reward: 1.0 correct, 0.0 wrong, None unknown.
        rubric_reward: R_r in [0, 1], None unknown.
        reward: (1 − α)·R_o + α·R_r, None unknown.
        rubric_scores: per-rubric breakdown as dicts (RubricScore fields).
        errors: judge or run error messages.
        n_citations: distinct URLs cited in the answer body.
        n_unseen_citations: cited URLs no observation of the run came from.
        n_checked_citations: (sentence, URL) citation pairs judged against that URL's evidence.
        n_unsupported_citations: of those, judged not supported; None when not checked or unknown.
        n_search / n_open / n_find: tool calls by name; tool_calls: all tool calls.
        prompt_tokens / completion_tokens: summed model usage when the model reports it.
        finish_reason: why the agent stopped ("answered", "tool_budget", "context_budget").
        wall_s: seconds the run (agent + scoring) took.
        trajectory: the JSON trajectory (question, messages, ledger, answer).
        ledger: the citation ledger records.
        finished_at: UTC ISO time the record was written.
    """

    task_id: str
    config_hash: str
    status: RunStatus = "ok"
    question: str = ""
    label: str = ""
    hops: int | None = None
    answer: str = ""
    extracted_answer: str | None = None
    outcome_reward: float | None = None
    rubric_reward: float | None = None
    reward: float | None = None
    rubric_scores: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    n_citations: int = 0
    n_unseen_citations: int = 0
    n_checked_citations: int = 0
    n_unsupported_citations: int | None = None
    n_search: int = 0
    n_open: int = 0
    n_find: int = 0
    tool_calls: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    wall_s: float = 0.0
    trajectory: dict[str, Any] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    finished_at: str = ""

    def __post_init__(self) -> None:
        if self.status not in ("ok", "failed"):
            raise DataError(f"status must be 'ok' or 'failed', got {self.status!r}")

    @property
    def n_rubrics(self) -> int:
        """How many rubrics the task has."""
        return len(self.rubric_scores)


__all__ = ["EvalRecord", "RunStatus"]
