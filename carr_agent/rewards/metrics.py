"""Prometheus metrics of the reward server, written in the text exposition format (``/metrics``).

A deliberately small registry (counters, gauges, histograms with labels) so the server needs no
metrics library. Updates happen on the server's event loop and in worker threads; each metric
holds a lock.

Exposed (all prefixed ``carr_reward_``):

* ``requests_total{status}``: answered ``/evaluate`` requests by HTTP status;
* ``request_seconds{route}``: latency histogram (``route``: llm, gold, cached, rejected);
* ``requests_in_progress`` / ``requests_queued``: being judged / waiting for a judging slot;
* ``judge_calls_total{kind,result}``: judge questions (entities, support, outcome) by result
  (ok, failed), retries inside one question included in its latency;
* ``judge_call_seconds{kind}``: latency histogram of judge questions;
* ``judge_http_in_flight`` / ``judge_http_queued``: judge HTTP calls sent / waiting for the
  judge's limits (calls in flight, requests and tokens per minute);
* ``response_cache_entries`` / ``response_cache_bytes``.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Sequence

#: Latency buckets (seconds) of the histograms.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   120.0, 300.0, 600.0)
Labels = tuple[str, ...]


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self._lock = threading.Lock()

    def _labels(self, values: Labels) -> str:
        if not values:
            return ""
        pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(self.labelnames, values, strict=True))
        return "{" + pairs + "}"

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help, labelnames)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{self._labels(k)} {_num(v)}" for k, v in items]


class Gauge(_Metric):
    """A value read when scraped (from a callback)."""

    kind = "gauge"

    def __init__(self, name: str, help: str, read: Callable[[], float]) -> None:
        super().__init__(name, help)
        self._read = read

    def lines(self) -> list[str]:
        return [f"{self.name} {_num(self._read())}"]


class Histogram(_Metric):
    """Observations counted in cumulative buckets, per label set."""

    kind = "histogram"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        super().__init__(name, help, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._data: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts, total = self._data.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[i] += 1
            total[0] += value

    def lines(self) -> list[str]:
        out = []
        with self._lock:
            items = sorted((k, (list(c), t[0])) for k, (c, t) in self._data.items())
        for labels, (counts, total) in items:
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = "+Inf" if math.isinf(bound) else _num(bound)
                names = (*self.labelnames, "le")
                pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(names, (*labels, le),
                                                                          strict=True))
                out.append(f"{self.name}_bucket{{{pairs}}} {running}")
            out.append(f"{self.name}_sum{self._labels(labels)} {_num(total)}")
            out.append(f"{self.name}_count{self._labels(labels)} {running}")
        return out


class Registry:
    """The metrics of one server, rendered together."""

    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def add(self, metric: _Metric) -> _Metric:
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        return "\n".join(_render(self._metrics)) + "\n"


def _render(metrics: Iterable[_Metric]) -> Iterable[str]:
    for metric in metrics:
        yield from metric.header()
        yield from metric.lines()


def _num(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


__all__ = ["DEFAULT_BUCKETS", "Counter", "Gauge", "Histogram", "Registry"]
