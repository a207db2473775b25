"""Report plots as inline PNG data URIs (matplotlib, Agg backend: no display, no files).

Each function takes one or two runs' :class:`~carr_agent.eval.metrics.TaskRow` lists and returns a
``data:image/png;base64,...`` string, or None when there is nothing to plot (e.g. no rubrics).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from carr_agent.eval.metrics import TaskRow

_COLORS = ("#4C72B0", "#DD8452")
_OUTCOME_COLORS = {"correct": "#55A868", "wrong": "#C44E52", "unknown": "#8C8C8C"}


def _figure(width: float = 6.0, height: float = 3.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _encode(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def histogram(
    runs: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    xlabel: str,
    bins: Sequence[float] | int = 10,
) -> str | None:
    """Overlaid histograms of one value per task for one or two runs (unknowns left out)."""
    data = [(name, [float(v) for v in values if v is not None], len(values))
            for name, values in runs]
    if not any(vals for _, vals, _ in data):
        return None
    fig, ax = _figure()
    for (name, vals, total), color in zip(data, _COLORS, strict=False):
        n_unknown = total - len(vals)
        label = name + (f" ({n_unknown} unknown)" if n_unknown else "")
        ax.hist(vals, bins=bins, alpha=0.6 if len(data) > 1 else 0.9, color=color, label=label,
                edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("tasks")
    ax.legend(fontsize=8)
    return _encode(fig)


def reward_vs_tool_calls(runs: Sequence[tuple[str, Sequence[TaskRow]]]) -> str | None:
    """Rubric reward against tool calls, one point per task, coloured by outcome."""
    if not any(rows for _, rows in runs):
        return None
    fig, ax = _figure(6.0, 3.6)
    markers = ("o", "^")
    for (name, rows), marker in zip(runs, markers, strict=False):
        for outcome, color in _OUTCOME_COLORS.items():
            pts = [r for r in rows if _outcome(r.outcome) == outcome]
            if not pts:
                continue
            ax.scatter(
                [r.tool_calls for r in pts],
                [r.rubric_reward if r.rubric_reward is not None else -0.05 for r in pts],
                c=color, marker=marker, alpha=0.75, edgecolors="black", linewidths=0.3,
                label=f"{name}: {outcome}" if len(runs) > 1 else outcome,
            )
    ax.set_xlabel("tool calls")
    ax.set_ylabel("rubric reward (−0.05 = unknown)")
    ax.set_ylim(-0.1, 1.05)
    ax.set_title("Rubric reward vs tool calls")
    ax.legend(fontsize=7, ncols=2)
    return _encode(fig)


def rubric_outcomes(rows: Sequence[TaskRow], *, max_tasks: int = 80) -> str | None:
    """Per task, its rubrics split into connected / supported only / identified only / missed."""
    with_rubrics = [r for r in rows if r.n_rubrics]
    rows = with_rubrics[:max_tasks]
    if not rows:
        return None
    fig, ax = _figure(max(6.0, 0.22 * len(rows) + 2), 3.6)
    xs = range(len(rows))
    parts = _rubric_parts(rows)
    bottom = [0.0] * len(rows)
    for label, color, values in parts:
        ax.bar(xs, values, bottom=bottom, color=color, label=label, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(list(xs), [r.task_id for r in rows], rotation=90, fontsize=6)
    ax.set_ylabel("rubrics")
    shown = "" if len(with_rubrics) <= max_tasks else f" (first {max_tasks} of {len(with_rubrics)})"
    ax.set_title("Per-rubric outcome by task" + shown)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _encode(fig)


def _rubric_parts(rows: Sequence[TaskRow]) -> list[tuple[str, str, list[float]]]:
    connected, supported, identified, missed, unknown = [], [], [], [], []
    for r in rows:
        n = r.n_rubrics
        ident = round((r.identified or 0.0) * n)
        if r.supported is None:
            connected.append(0.0)
            supported.append(0.0)
            identified.append(0.0)
            unknown.append(float(ident))
        else:
            conn = round((r.connected or 0.0) * n)
            sup = round(r.supported * n)
            connected.append(float(conn))
            supported.append(float(sup - conn))
            identified.append(float(ident - sup))
            unknown.append(0.0)
        missed.append(float(n - ident))
    return [
        ("connected to answer", "#55A868", connected),
        ("supported, not connected", "#8172B3", supported),
        ("identified, not supported", "#CCB974", identified),
        ("support unknown", "#8C8C8C", unknown),
        ("not identified", "#C44E52", missed),
    ]


def accuracy_by_hops(
    runs: Sequence[tuple[str, dict[str, float | None]]],
) -> str | None:
    """Accuracy per hop count, grouped bars per run."""
    keys = sorted({k for _, d in runs for k in d}, key=lambda k: (k == "?", int(k) if k != "?" else 0))
    if not keys:
        return None
    fig, ax = _figure()
    width = 0.8 / max(1, len(runs))
    for i, ((name, data), color) in enumerate(zip(runs, _COLORS, strict=False)):
        xs = [j + i * width for j in range(len(keys))]
        ax.bar(xs, [100 * (data.get(k) or 0.0) for k in keys], width=width, color=color,
               label=name)
    ax.set_xticks([j + width * (len(runs) - 1) / 2 for j in range(len(keys))], keys)
    ax.set_xlabel("hops")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Accuracy by hop count")
    ax.legend(fontsize=8)
    return _encode(fig)


def _outcome(value: float | None) -> str:
    if value is None:
        return "unknown"
    return "correct" if value >= 1.0 else "wrong"


__all__ = ["accuracy_by_hops", "histogram", "reward_vs_tool_calls", "rubric_outcomes"]
