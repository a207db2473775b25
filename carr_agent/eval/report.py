"""A self-contained HTML report of one evaluation run, optionally compared with another.

One file, no external assets (plots are inline PNG data URIs, styles inline), so it can be
mailed, attached to a pull request or opened offline. Sections: summary table (with deltas when
comparing), per-hop breakdown, plots (rubric reward and tool-call distributions, reward vs tool
calls, per-rubric outcomes, accuracy by hops), the per-task table (side by side when comparing),
and one collapsible ``<details>`` per task with its answer, rubric breakdown, citation ledger and
message trajectory. Unknown scores read "unknown", never 0.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carr_agent.eval import plots
from carr_agent.eval.metrics import (
    SUMMARY_FIELDS,
    Summary,
    TaskRow,
    compare,
    format_delta,
    format_value,
    outcome_text,
    paired_tasks,
    summarize,
    task_row,
)
from carr_agent.eval.record import EvalRecord
from carr_agent.eval.store import ResultStore, RunInfo

#: Characters of one ledger record's text shown in the report (the store keeps all of it).
LEDGER_TEXT_CHARS = 1500
#: Characters of one message shown in a trajectory.
MESSAGE_CHARS = 4000
#: Summary rows whose increase is an improvement (their deltas are coloured).
_HIGHER_IS_BETTER = frozenset({"accuracy", "mean_rubric_reward", "mean_reward", "frac_identified",
                               "frac_supported", "frac_connected"})
#: Opens a task's <details> when a link (or the URL) targets it; inline, no external asset.
_OPEN_TARGET_JS = """<script>
function openTarget(){var e=document.getElementById(decodeURIComponent(location.hash.slice(1)));
if(e&&e.tagName==="DETAILS"){e.open=true;e.scrollIntoView();}}
window.addEventListener("hashchange",openTarget);window.addEventListener("load",openTarget);
</script>"""


@dataclass(frozen=True, slots=True)
class RunData:
    """One run loaded from a store: what the report shows."""

    name: str
    store_path: Path
    run: RunInfo
    records: tuple[EvalRecord, ...]
    failed: tuple[EvalRecord, ...]

    @property
    def summary(self) -> Summary:
        """Aggregate metrics (failed runs counted, not scored)."""
        return summarize([*self.records, *self.failed])

    @property
    def rows(self) -> list[TaskRow]:
        """Per-task rows of the scored tasks."""
        return [task_row(r) for r in self.records]


def load_run(path: str | Path, run: str | None = None, *, name: str | None = None) -> RunData:
    """Load one run of a store (``run``: a config-hash prefix; default the latest used).

    Raises:
        DataError: the store does not exist, holds no runs, or ``run`` matches none or several.
    """
    path = Path(path)
    with ResultStore.open_existing(path) as store:
        info = store.resolve_run(run)
        records = store.records(info.config_hash, status="ok")
        failed = store.records(info.config_hash, status="failed")
    return RunData(name or path.stem, path, info, tuple(records), tuple(failed))


def write_report(
    store: str | Path,
    out: str | Path,
    *,
    compare_store: str | Path | None = None,
    run: str | None = None,
    compare_run: str | None = None,
    title: str | None = None,
) -> Path:
    """Write the HTML report of ``store`` (compared with ``compare_store``) to ``out``."""
    a = load_run(store, run)
    b = load_run(compare_store, compare_run) if compare_store is not None else None
    if b is not None and b.name == a.name:
        a = RunData(f"A: {a.name}", a.store_path, a.run, a.records, a.failed)
        b = RunData(f"B: {b.name}", b.store_path, b.run, b.records, b.failed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(a, b, title=title), encoding="utf-8")
    return out


def render_report(a: RunData, b: RunData | None = None, *, title: str | None = None) -> str:
    """The report as one HTML string."""
    title = title or (f"carr-agent evaluation: {a.name}" + (f" vs {b.name}" if b else ""))
    parts = [
        _head(title),
        f"<h1>{_e(title)}</h1>",
        f"<p class=meta>generated {datetime.now(UTC).isoformat(timespec='seconds')}</p>",
        _runs_section(a, b),
        _summary_section(a, b),
        _hops_section(a, b),
        _plots_section(a, b),
        _failed_section(a, b),
        _tasks_section(a, b),
        _details_section(a, "a"),
    ]
    if b is not None:
        parts.append(_details_section(b, "b"))
    parts.append(_OPEN_TARGET_JS + "</body></html>")
    return "\n".join(p for p in parts if p)


# -- sections ---------------------------------------------------------------------------------


def _runs_section(a: RunData, b: RunData | None) -> str:
    rows = []
    for run in (a, b):
        if run is None:
            continue
        config = ", ".join(f"{k}={_short(v)}" for k, v in sorted(run.run.config.items()))
        rows.append(
            f"<tr><td>{_e(run.name)}</td><td><code>{_e(str(run.store_path))}</code></td>"
            f"<td><code>{run.run.config_hash[:12]}</code></td><td>{_e(config)}</td></tr>"
        )
    return ("<h2>Runs</h2><table class=runs><tr><th>run</th><th>store</th><th>config</th>"
            "<th>settings</th></tr>" + "".join(rows) + "</table>")


def _summary_section(a: RunData, b: RunData | None) -> str:
    sa = a.summary
    if b is None:
        body = "".join(
            f"<tr><td>{_e(label)}</td><td class=num>{format_value(getattr(sa, attr), kind)}</td></tr>"
            for attr, label, kind in SUMMARY_FIELDS
        )
        head = "<tr><th>metric</th><th>value</th></tr>"
    else:
        body = "".join(
            f"<tr><td>{_e(d.name)}</td><td class=num>{format_value(d.a, d.kind)}</td>"
            f"<td class=num>{format_value(d.b, d.kind)}</td>"
            f"<td class='num {_sign(d.delta) if d.attr in _HIGHER_IS_BETTER else ''}'>"
            f"{format_delta(d.delta, d.kind)}</td></tr>"
            for d in compare(sa, b.summary)
        )
        head = (f"<tr><th>metric</th><th>{_e(a.name)}</th><th>{_e(b.name)}</th>"
                "<th>Δ (B − A)</th></tr>")
    return f"<h2>Summary</h2><table class=summary id=summary>{head}{body}</table>"


def _hops_section(a: RunData, b: RunData | None) -> str:
    runs = [r for r in (a, b) if r is not None]
    rows = []
    for run in runs:
        for hops, s in run.summary.by_hops.items():
            rows.append(
                f"<tr><td>{_e(run.name)}</td><td>{_e(hops)}</td><td class=num>{s.n_tasks}</td>"
                f"<td class=num>{format_value(s.accuracy, 'pct')}</td>"
                f"<td class=num>{s.unknown_outcome}</td>"
                f"<td class=num>{format_value(s.mean_rubric_reward, 'num')}</td>"
                f"<td class=num>{format_value(s.tool_calls_per_run, 'num')}</td></tr>"
            )
    if not rows:
        return ""
    return ("<h2>By hop count</h2><table class=hops><tr><th>run</th><th>hops</th><th>tasks</th>"
            "<th>accuracy</th><th>unknown</th><th>mean rubric reward</th><th>tool calls</th></tr>"
            + "".join(rows) + "</table>")


def _plots_section(a: RunData, b: RunData | None) -> str:
    runs = [r for r in (a, b) if r is not None]
    rows = {r.name: r.rows for r in runs}
    figures = [
        plots.histogram([(n, [x.rubric_reward for x in rs]) for n, rs in rows.items()],
                        title="Rubric reward", xlabel="rubric reward",
                        bins=[i / 10 for i in range(11)]),
        plots.histogram([(n, [float(x.tool_calls) for x in rs]) for n, rs in rows.items()],
                        title="Tool calls per run", xlabel="tool calls", bins=_int_bins(rows)),
        plots.reward_vs_tool_calls(list(rows.items())),
        plots.accuracy_by_hops([(r.name, {k: h.accuracy for k, h in r.summary.by_hops.items()})
                                for r in runs]),
    ]
    figures += [plots.rubric_outcomes(r.rows) for r in runs]
    names = ["rubric-reward", "tool-calls", "reward-vs-tools", "accuracy-by-hops"]
    names += [f"rubric-outcomes-{i}" for i in range(len(runs))]
    imgs = [
        f"<figure><img alt='{n}' src='{uri}'></figure>"
        for n, uri in zip(names, figures, strict=True) if uri is not None
    ]
    if not imgs:
        return "<h2>Plots</h2><p>No scored tasks to plot.</p>"
    return "<h2>Plots</h2><div class=plots>" + "".join(imgs) + "</div>"


def _failed_section(a: RunData, b: RunData | None) -> str:
    rows = [
        f"<tr><td>{_e(run.name)}</td><td>{_e(r.task_id)}</td><td>{_e('; '.join(r.errors))}</td></tr>"
        for run in (a, b) if run is not None for r in run.failed
    ]
    if not rows:
        return ""
    return ("<h2>Failed runs (retried by the next <code>carr-agent eval</code>)</h2>"
            "<table><tr><th>run</th><th>task</th><th>error</th></tr>" + "".join(rows) + "</table>")


def _tasks_section(a: RunData, b: RunData | None) -> str:
    if b is None:
        head = ("<tr><th>task</th><th>hops</th><th>outcome</th><th>answer</th><th>label</th>"
                "<th>rubric reward</th><th>ident.</th><th>supp.</th><th>conn.</th>"
                "<th>citations</th><th>unseen</th><th>unsupp.</th><th>tools (s/o/f)</th>"
                "<th>tokens</th><th>time (s)</th></tr>")
        body = "".join(_task_tr(r, "a") for r in a.rows)
        return f"<h2>Tasks</h2><table class=tasks id=tasks>{head}{body}</table>"
    pairs = paired_tasks(a.records, b.records)
    head = (f"<tr><th>task</th><th>outcome {_e(a.name)}</th><th>outcome {_e(b.name)}</th>"
            f"<th>rubric {_e(a.name)}</th><th>rubric {_e(b.name)}</th><th>Δ rubric</th>"
            f"<th>tools {_e(a.name)}</th><th>tools {_e(b.name)}</th></tr>")
    body = "".join(
        f"<tr><td><a href='#a-{_anchor(p.task_id)}'>{_e(p.task_id)}</a> · "
        f"<a href='#b-{_anchor(p.task_id)}'>B</a></td>"
        f"<td class={outcome_text(p.a.outcome)}>{outcome_text(p.a.outcome)}</td>"
        f"<td class={outcome_text(p.b.outcome)}>{outcome_text(p.b.outcome)}</td>"
        f"<td class=num>{_unknown(p.a.rubric_reward)}</td>"
        f"<td class=num>{_unknown(p.b.rubric_reward)}</td>"
        f"<td class='num {_sign(_diff(p.a.rubric_reward, p.b.rubric_reward))}'>"
        f"{format_delta(_diff(p.a.rubric_reward, p.b.rubric_reward), 'num')}</td>"
        f"<td class=num>{p.a.tool_calls}</td><td class=num>{p.b.tool_calls}</td></tr>"
        for p in pairs
    )
    only_a = len({r.task_id for r in a.records} - {p.task_id for p in pairs})
    only_b = len({r.task_id for r in b.records} - {p.task_id for p in pairs})
    note = (f"<p>{len(pairs)} tasks scored in both runs; {only_a} only in {_e(a.name)}, "
            f"{only_b} only in {_e(b.name)}.</p>")
    return f"<h2>Tasks side by side</h2>{note}<table class=tasks id=tasks>{head}{body}</table>"


def _task_tr(r: TaskRow, prefix: str) -> str:
    unsupported = "n/a" if r.unsupported_citations is None else str(r.unsupported_citations)
    return (
        f"<tr><td><a href='#{prefix}-{_anchor(r.task_id)}'>{_e(r.task_id)}</a></td>"
        f"<td class=num>{'' if r.hops is None else r.hops}</td>"
        f"<td class={outcome_text(r.outcome)}>{outcome_text(r.outcome)}</td>"
        f"<td>{_e(_clip(r.extracted_answer or '', 80))}</td><td>{_e(_clip(r.label, 80))}</td>"
        f"<td class=num>{_unknown(r.rubric_reward)}</td>"
        f"<td class=num>{_pct(r.identified)}</td><td class=num>{_pct(r.supported)}</td>"
        f"<td class=num>{_pct(r.connected)}</td>"
        f"<td class=num>{r.citations}</td><td class=num>{r.unseen_citations}</td>"
        f"<td class=num>{unsupported}</td>"
        f"<td class=num>{r.tool_calls} ({r.n_search}/{r.n_open}/{r.n_find})</td>"
        f"<td class=num>{'n/a' if r.tokens is None else r.tokens}</td>"
        f"<td class=num>{r.wall_s:.1f}</td></tr>"
    )


def _details_section(run: RunData, prefix: str) -> str:
    blocks = [_task_details(r, prefix) for r in run.records]
    return (f"<h2>Trajectories: {_e(run.name)}</h2>" + "".join(blocks)) if blocks else ""


def _task_details(r: EvalRecord, prefix: str) -> str:
    summary = (f"{_e(r.task_id)} — {outcome_text(r.outcome_reward)}, rubric reward "
               f"{_unknown(r.rubric_reward)}, {r.tool_calls} tool calls")
    errors = (f"<p class=errors>{_e('; '.join(r.errors))}</p>" if r.errors else "")
    return (
        f"<details class=task id='{prefix}-{_anchor(r.task_id)}'><summary>{summary}</summary>"
        f"<p><b>Question:</b> {_e(r.question)}</p><p><b>Label:</b> {_e(r.label)} · "
        f"<b>Extracted answer:</b> {_e(r.extracted_answer or '(none)')} · "
        f"<b>finish:</b> {_e(r.finish_reason or 'n/a')}</p>{errors}"
        f"<details open><summary>Answer</summary><pre class=answer>{_e(r.answer)}</pre></details>"
        f"{_rubrics_table(r.rubric_scores)}"
        f"<details><summary>Ledger ({len(r.ledger)} records)</summary>{_ledger_table(r.ledger)}"
        f"</details>"
        f"<details><summary>Messages ({len(r.trajectory.get('messages') or [])})</summary>"
        f"{_messages(r.trajectory.get('messages') or [])}</details>"
        "</details>"
    )


def _rubrics_table(scores: Sequence[dict[str, Any]]) -> str:
    if not scores:
        return "<p>No rubrics.</p>"
    rows = "".join(
        f"<tr><td>{_e(s.get('raw_rubric', ''))}</td><td>{_e(s.get('filled_rubric') or '')}</td>"
        f"<td>{_yn(s.get('all_entity_identified'))}</td><td>{_yn(s.get('is_supported'))}</td>"
        f"<td>{_yn(s.get('connected_to_answer'))}</td><td class=num>{s.get('score', 0)}</td></tr>"
        for s in scores
    )
    return ("<details open><summary>Rubrics</summary><table class=rubrics><tr><th>rubric</th>"
            "<th>filled</th><th>identified</th><th>supported</th><th>connected</th><th>score</th>"
            f"</tr>{rows}</table></details>")


def _ledger_table(ledger: Sequence[dict[str, Any]]) -> str:
    if not ledger:
        return "<p>Empty ledger: the agent observed nothing.</p>"
    rows = "".join(
        f"<tr><td class=num>{_e(str(rec.get('step', '')))}</td><td>{_e(str(rec.get('kind', '')))}</td>"
        f"<td>{_e(str(rec.get('source_id', '')))}</td>"
        f"<td><a href='{_e(str(rec.get('url', '')))}'>{_e(_clip(str(rec.get('url', '')), 70))}</a></td>"
        f"<td>{_e(str(rec.get('title', '')))}</td>"
        f"<td><pre>{_e(_clip(str(rec.get('text', '')), LEDGER_TEXT_CHARS))}</pre></td></tr>"
        for rec in ledger
    )
    return ("<table class=ledger><tr><th>step</th><th>kind</th><th>source</th><th>url</th>"
            f"<th>title</th><th>text shown</th></tr>{rows}</table>")


def _messages(messages: Sequence[dict[str, Any]]) -> str:
    out = []
    for m in messages:
        data = m.get("data", {}) if isinstance(m, dict) else {}
        kind = m.get("type", "?") if isinstance(m, dict) else "?"
        content = data.get("content", "")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        calls = data.get("tool_calls") or []
        call_text = "".join(
            f"\n→ {c.get('name')}({json.dumps(c.get('args', {}), ensure_ascii=False)})"
            for c in calls if isinstance(c, dict)
        )
        out.append(f"<div class='msg {_e(kind)}'><b>{_e(kind)}</b>"
                   f"<pre>{_e(_clip(content, MESSAGE_CHARS) + call_text)}</pre></div>")
    return "".join(out) or "<p>No messages stored.</p>"


# -- helpers ----------------------------------------------------------------------------------


def _head(title: str) -> str:
    return f"""<!DOCTYPE html><html lang=en><head><meta charset=utf-8>
<title>{_e(title)}</title><style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:1400px}}
table{{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}}
th,td{{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}}
th{{background:#f3f3f3}} td.num{{text-align:right;font-variant-numeric:tabular-nums}}
td.correct{{color:#2e7d32;font-weight:600}} td.wrong{{color:#c62828}} td.unknown{{color:#777;font-style:italic}}
td.pos{{color:#2e7d32}} td.neg{{color:#c62828}}
.plots{{display:flex;flex-wrap:wrap;gap:12px}} figure{{margin:0}} img{{max-width:100%}}
pre{{white-space:pre-wrap;word-break:break-word;margin:0;font-size:12px}}
details.task{{border:1px solid #ddd;border-radius:4px;margin:4px 0;padding:4px 8px}}
details.task>summary{{cursor:pointer;font-weight:600}} .errors{{color:#c62828}}
.msg{{border-left:3px solid #ccc;margin:4px 0;padding-left:6px}} .msg.ai{{border-color:#4C72B0}}
.msg.tool{{border-color:#CCB974}} .msg.human{{border-color:#55A868}} .meta{{color:#777}}
table.ledger pre{{max-height:12em;overflow:auto}}
</style></head><body>"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(task_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else f"_{ord(c):x}" for c in task_id)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return _clip(text, 60)


def _unknown(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _yn(value: object) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _sign(delta: float | None) -> str:
    if delta is None or delta == 0:
        return ""
    return "pos" if delta > 0 else "neg"


def _int_bins(rows: dict[str, list[TaskRow]]) -> list[float]:
    top = max((r.tool_calls for rs in rows.values() for r in rs), default=0)
    return [x - 0.5 for x in range(top + 2)]


__all__ = ["LEDGER_TEXT_CHARS", "RunData", "load_run", "render_report", "write_report"]
