"""Evaluation metrics over stored results: pure functions of :class:`EvalRecord` lists.

Unknown is not zero: a task whose outcome judge failed is left out of accuracy and counted in
``unknown_outcome``; the same holds for rubric reward, the combined reward, rubric support and
citation checks. Averages over an empty set are ``None`` (shown as "n/a"), never 0.

Rubric fractions are averaged per task (each task weighs the same whatever its rubric count):
*identified* — every entity of the rubric named by the answer; *supported* — the filled rubric is
supported by the cited evidence; *connected* — supported and chained to the answer (E0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from carr_agent.eval.record import EvalRecord


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task's line in the per-task table."""

    task_id: str
    hops: int | None
    outcome: float | None
    rubric_reward: float | None
    reward: float | None
    identified: float | None
    supported: float | None
    connected: float | None
    n_rubrics: int
    citations: int
    unseen_citations: int
    unsupported_citations: int | None
    tool_calls: int
    n_search: int
    n_open: int
    n_find: int
    tokens: int | None
    wall_s: float
    finish_reason: str | None
    extracted_answer: str | None
    label: str


@dataclass(frozen=True, slots=True)
class Summary:
    """Aggregate metrics of one run (see the module docstring for definitions).

    ``None`` means "no known value to average", never 0.
    """

    n_tasks: int
    n_failed: int
    n_known_outcome: int
    unknown_outcome: int
    accuracy: float | None
    unknown_rubric: int
    mean_rubric_reward: float | None
    unknown_reward: int
    mean_reward: float | None
    frac_identified: float | None
    frac_supported: float | None
    frac_connected: float | None
    citations_per_answer: float | None
    unseen_citations: int
    unseen_citations_per_answer: float | None
    checked_citations: int
    unsupported_citations: int
    unsupported_citation_rate: float | None
    tool_calls_per_run: float | None
    search_per_run: float | None
    open_per_run: float | None
    find_per_run: float | None
    prompt_tokens_per_run: float | None
    completion_tokens_per_run: float | None
    wall_s_per_run: float | None
    wall_s_total: float
    forced_answers: int
    by_hops: dict[str, HopStats] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HopStats:
    """Metrics of the tasks with one hop count."""

    n_tasks: int
    accuracy: float | None
    unknown_outcome: int
    mean_rubric_reward: float | None
    tool_calls_per_run: float | None


#: (attribute, display name, kind) of the summary rows, in report order. Kinds: "pct" (fraction
#: shown as %), "num" (float), "int".
SUMMARY_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("n_tasks", "tasks scored", "int"),
    ("n_failed", "runs failed (not scored)", "int"),
    ("accuracy", "accuracy (known outcomes)", "pct"),
    ("unknown_outcome", "outcome unknown (judge failed)", "int"),
    ("mean_rubric_reward", "mean rubric reward", "num"),
    ("unknown_rubric", "rubric reward unknown", "int"),
    ("mean_reward", "mean reward (1-α)·R_o + α·R_r", "num"),
    ("frac_identified", "rubrics identified", "pct"),
    ("frac_supported", "rubrics supported", "pct"),
    ("frac_connected", "rubrics connected to answer", "pct"),
    ("citations_per_answer", "citations per answer", "num"),
    ("unseen_citations_per_answer", "citations to never-seen URLs per answer", "num"),
    ("unsupported_citation_rate", "unsupported citations (of checked)", "pct"),
    ("tool_calls_per_run", "tool calls per run", "num"),
    ("search_per_run", "search calls per run", "num"),
    ("open_per_run", "open calls per run", "num"),
    ("find_per_run", "find calls per run", "num"),
    ("prompt_tokens_per_run", "prompt tokens per run", "num"),
    ("completion_tokens_per_run", "completion tokens per run", "num"),
    ("wall_s_per_run", "wall time per run (s)", "num"),
    ("forced_answers", "answers forced by a budget", "int"),
)


def mean(values: Iterable[float | int | None]) -> float | None:
    """Mean of the known values; None when there are none."""
    known = [float(v) for v in values if v is not None and not _isnan(v)]
    return sum(known) / len(known) if known else None


def rubric_fractions(record: EvalRecord) -> tuple[float | None, float | None, float | None]:
    """(identified, supported, connected) fractions of one task's rubrics.

    None when the task has no rubric breakdown; supported/connected are None when any rubric's
    support is unknown.
    """
    scores = record.rubric_scores
    if not scores:
        return None, None, None
    n = len(scores)
    identified = sum(bool(s.get("all_entity_identified")) for s in scores) / n
    if any(s.get("is_supported") is None and s.get("all_entity_identified") for s in scores):
        return identified, None, None
    supported = sum(s.get("is_supported") is True for s in scores) / n
    connected = sum(
        bool(s.get("connected_to_answer")) and s.get("is_supported") is True for s in scores
    ) / n
    return identified, supported, connected


def task_row(record: EvalRecord) -> TaskRow:
    """The per-task table line of one result."""
    identified, supported, connected = rubric_fractions(record)
    tokens = None
    if record.prompt_tokens is not None or record.completion_tokens is not None:
        tokens = (record.prompt_tokens or 0) + (record.completion_tokens or 0)
    return TaskRow(
        task_id=record.task_id, hops=record.hops, outcome=record.outcome_reward,
        rubric_reward=record.rubric_reward, reward=record.reward, identified=identified,
        supported=supported, connected=connected, n_rubrics=record.n_rubrics,
        citations=record.n_citations, unseen_citations=record.n_unseen_citations,
        unsupported_citations=record.n_unsupported_citations, tool_calls=record.tool_calls,
        n_search=record.n_search, n_open=record.n_open, n_find=record.n_find, tokens=tokens,
        wall_s=record.wall_s, finish_reason=record.finish_reason,
        extracted_answer=record.extracted_answer, label=record.label,
    )


def summarize(records: Sequence[EvalRecord]) -> Summary:
    """Aggregate metrics of one run's results (``failed`` records are counted, not scored)."""
    ok = [r for r in records if r.status == "ok"]
    failed = len(records) - len(ok)
    fractions = [rubric_fractions(r) for r in ok]
    checked = [r for r in ok if r.n_unsupported_citations is not None]
    n_checked = sum(r.n_checked_citations for r in checked)
    n_unsupported = sum(r.n_unsupported_citations or 0 for r in checked)
    known_outcome = [r for r in ok if r.outcome_reward is not None]
    return Summary(
        n_tasks=len(ok),
        n_failed=failed,
        n_known_outcome=len(known_outcome),
        unknown_outcome=len(ok) - len(known_outcome),
        accuracy=mean(r.outcome_reward for r in known_outcome),
        unknown_rubric=sum(r.rubric_reward is None for r in ok),
        mean_rubric_reward=mean(r.rubric_reward for r in ok),
        unknown_reward=sum(r.reward is None for r in ok),
        mean_reward=mean(r.reward for r in ok),
        frac_identified=mean(f[0] for f in fractions),
        frac_supported=mean(f[1] for f in fractions),
        frac_connected=mean(f[2] for f in fractions),
        citations_per_answer=mean(r.n_citations for r in ok),
        unseen_citations=sum(r.n_unseen_citations for r in ok),
        unseen_citations_per_answer=mean(r.n_unseen_citations for r in ok),
        checked_citations=n_checked,
        unsupported_citations=n_unsupported,
        unsupported_citation_rate=(n_unsupported / n_checked) if n_checked else None,
        tool_calls_per_run=mean(r.tool_calls for r in ok),
        search_per_run=mean(r.n_search for r in ok),
        open_per_run=mean(r.n_open for r in ok),
        find_per_run=mean(r.n_find for r in ok),
        prompt_tokens_per_run=mean(r.prompt_tokens for r in ok),
        completion_tokens_per_run=mean(r.completion_tokens for r in ok),
        wall_s_per_run=mean(r.wall_s for r in ok),
        wall_s_total=sum(r.wall_s for r in records),
        forced_answers=sum(r.finish_reason not in (None, "answered") for r in ok),
        by_hops=by_hops(ok),
    )


def by_hops(records: Sequence[EvalRecord]) -> dict[str, HopStats]:
    """Metrics per hop count (``"?"`` for tasks without one), ordered by hop count."""
    groups: dict[str, list[EvalRecord]] = {}
    for r in records:
        groups.setdefault(str(r.hops) if r.hops is not None else "?", []).append(r)
    out: dict[str, HopStats] = {}
    for key in sorted(groups, key=lambda k: (k == "?", int(k) if k != "?" else 0)):
        rs = groups[key]
        known = [r.outcome_reward for r in rs if r.outcome_reward is not None]
        out[key] = HopStats(
            n_tasks=len(rs), accuracy=mean(known), unknown_outcome=len(rs) - len(known),
            mean_rubric_reward=mean(r.rubric_reward for r in rs),
            tool_calls_per_run=mean(r.tool_calls for r in rs),
        )
    return out


@dataclass(frozen=True, slots=True)
class Delta:
    """One summary metric of two runs side by side (``attr``: the :class:`Summary` field)."""

    attr: str
    name: str
    kind: str
    a: float | int | None
    b: float | int | None

    @property
    def delta(self) -> float | None:
        """b − a, None when either is unknown."""
        if self.a is None or self.b is None:
            return None
        return float(self.b) - float(self.a)


def compare(a: Summary, b: Summary) -> list[Delta]:
    """Every summary metric of runs ``a`` and ``b`` with its difference (b − a)."""
    return [Delta(attr, label, kind, getattr(a, attr), getattr(b, attr))
            for attr, label, kind in SUMMARY_FIELDS]


@dataclass(frozen=True, slots=True)
class PairedTask:
    """One task evaluated in both runs."""

    task_id: str
    a: TaskRow
    b: TaskRow


def paired_tasks(a: Sequence[EvalRecord], b: Sequence[EvalRecord]) -> list[PairedTask]:
    """Tasks present (scored) in both runs, joined by task id, in task-id order."""
    rows_b = {r.task_id: r for r in b if r.status == "ok"}
    return [
        PairedTask(r.task_id, task_row(r), task_row(rows_b[r.task_id]))
        for r in sorted(a, key=lambda x: x.task_id)
        if r.status == "ok" and r.task_id in rows_b
    ]


def format_value(value: float | int | None, kind: str) -> str:
    """A metric for display: percentages, 3 decimals, integers; None as "n/a"."""
    if value is None or _isnan(value):
        return "n/a"
    if kind == "pct":
        return f"{100 * float(value):.1f}%"
    if kind == "int":
        return str(int(value))
    return f"{float(value):.1f}" if abs(float(value)) >= 100 else f"{float(value):.3f}"


def format_delta(delta: float | None, kind: str) -> str:
    """A signed difference for display (percentage points for fractions)."""
    if delta is None:
        return "n/a"
    if kind == "pct":
        return f"{100 * delta:+.1f} pp"
    if kind == "int":
        return f"{int(delta):+d}"
    return f"{delta:+.3f}"


def outcome_text(value: float | None) -> str:
    """``correct`` / ``wrong`` / ``unknown`` for an outcome reward."""
    if value is None:
        return "unknown"
    return "correct" if value >= 1.0 else "wrong"


def _isnan(value: float | int) -> bool:
    return isinstance(value, float) and math.isnan(value)

__all__ = [
    "SUMMARY_FIELDS",
    "Delta",
    "HopStats",
    "PairedTask",
    "Summary",
    "TaskRow",
    "by_hops",
    "compare",
    "format_delta",
    "format_value",
    "mean",
    "outcome_text",
    "paired_tasks",
    "rubric_fractions",
    "summarize",
    "task_row",
]
