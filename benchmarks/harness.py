"""Small shared helpers for the benchmark scripts: timing, percentiles, tables, result files.

Every benchmark prints a Markdown table, writes ``benchmarks/results/<name>.json`` and ``.md``
and records the machine it ran on, so numbers in ``benchmarks/README.md`` can be traced.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """What the numbers came from."""
    try:
        import psutil

        mem_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        mem_gib = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": mem_gib,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean in milliseconds of a list of durations in seconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
    }


@contextmanager
def timer() -> Iterable[Callable[[], float]]:
    """``with timer() as elapsed: ...; elapsed()`` → seconds since entering."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def rss_mib() -> float | None:
    """Resident memory of this process in MiB (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Render rows (dicts) as a GitHub Markdown table."""
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        out.append("| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_results(name: str, rows: Sequence[dict[str, Any]], *, params: dict[str, Any],
                  columns: Sequence[str] | None = None, notes: str = "") -> str:
    """Write ``results/<name>.json`` and ``.md``; return the Markdown table (also printed)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, columns)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(), "params": params, "rows": list(rows), "notes": notes}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    md = f"## {name}\n\n{table}\n\n{notes}\n\nMachine: {payload['machine']}\n"
    (RESULTS_DIR / f"{name}.md").write_text(md)
    print(table)
    if notes:
        print(notes)
    return table
