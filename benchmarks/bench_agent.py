"""Per-step overhead of the LangGraph agent (graph + tools + ledger) vs a plain-Python loop.

A scripted chat model (``carr_agent.models.scripted.ScriptedChatModel``) makes N tool calls,
cycling search (a page title) → open (result 0) → find (a word of the title), then answers; the
agent built by ``build_agent`` runs it over the example corpus (``CorpusIndex``). In the same run:

* ``plain loop`` (the floor): the same N calls to the same ``Browser`` methods from a Python loop
  that keeps the latest hits, the open page and the ledger itself;
* the graph without a checkpointer, with ``InMemorySaver`` and with ``SqliteSaver`` (a file),
  (default durability: a checkpoint per step; and ``durability="exit"``: one at the end of the
  run) at each ``--steps`` size; the checkpoint size after the run (SQLite file + WAL; for the
  in-memory saver the bytes of its serialized checkpoints and writes), beside the size of the
  run's own trajectory (``trajectory_to_dict`` as JSON: messages, ledger, answer) and their ratio.

The model's own time is ~0 (scripted), so the numbers are what the agent machinery adds to every
step of a real run; the median of ``--repeats`` runs is reported, as wall time and as this
process's CPU time (the CPU columns hold up on a machine shared with other work).

    python benchmarks/bench_agent.py --steps 20 100 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness
from harness import write_results

from carr_agent.data import iter_corpus
from carr_agent.errors import ToolError
from carr_agent.graph import build_agent, trajectory_to_dict
from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.tools.browser import Browser
from carr_agent.tools.corpus import CorpusIndex, default_corpus
from carr_agent.types import Hit, LedgerRecord, Page

QUESTION = "In which town was the composer of the Ember Suite born?"


def plan(titles: Sequence[str], steps: int) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls of one run: search → open(0) → find, cycling over page titles."""
    calls: list[tuple[str, dict[str, Any]]] = []
    k = 0
    while len(calls) < steps:
        title = titles[k % len(titles)]
        word = max(title.split(), key=len)
        calls += [("search", {"query": title, "num": 10}), ("open", {"id_or_url": 0}),
                  ("find", {"pattern": word})]
        k += 1
    return calls[:steps]


def answer_text(url: str) -> str:
    return (f"## Explanation with Citations\nThe composer was born in Kessmar [[1]({url})].\n\n"
            f"## Exact Answer\nKessmar\n\n## References\n[1] {url}\n")


def script(calls: Sequence[tuple[str, dict[str, Any]]], url: str) -> ScriptedChatModel:
    turns: list[Any] = [{"content": "", "tool_calls": [{"name": n, "args": a}]} for n, a in calls]
    return ScriptedChatModel(turns=[*turns, answer_text(url)])


def plain_loop(browser: Browser, calls: Sequence[tuple[str, dict[str, Any]]]) -> int:
    """The floor: the same Browser calls, browsing state and ledger kept by hand."""
    hits: list[Hit] = []
    page: Page | None = None
    ledger: list[LedgerRecord] = []
    shown: list[str] = []
    for step, (name, args) in enumerate(calls, start=1):
        try:
            if name == "search":
                obs = browser.search(args["query"], args["num"], step=step)
                hits = obs.hits or []
            elif name == "open":
                obs = browser.open(args["id_or_url"], latest_hits=hits, step=step)
                page = obs.page or page
            else:
                obs = browser.find(args["pattern"], page=page, step=step)
        except ToolError as exc:
            shown.append(str(exc))
            continue
        shown.append(obs.text)
        ledger.extend(obs.records)
    return len(ledger)


def checkpoint_bytes(saver: Any) -> int:
    """Bytes held by an InMemorySaver: its serialized checkpoints, blobs and writes."""
    total = 0
    stack: list[Any] = [saver.storage, saver.writes, saver.blobs]
    while stack:
        obj = stack.pop()
        if isinstance(obj, (bytes, bytearray)):
            total += len(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
    return total


def run_graph(corpus: CorpusIndex, calls: Sequence[tuple[str, dict[str, Any]]], url: str,
              saver: str, workdir: Path, tag: str) -> tuple[float, int, int | None, int, float]:
    """One agent run: (seconds, ledger records, checkpoint bytes or None, trajectory bytes,
    CPU seconds of this process)."""
    cp: Any = None
    conn = None
    db = workdir / f"{tag}.sqlite"
    if saver == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        cp = InMemorySaver()
    elif saver in ("sqlite", "sqlite-exit"):
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(str(db), check_same_thread=False)
        cp = SqliteSaver(conn)
    agent = build_agent(script(calls, url), search=corpus, fetcher=corpus,
                        max_tool_calls=len(calls) + 1, checkpointer=cp)
    config = {"configurable": {"thread_id": tag}} if cp is not None else {}
    t, cpu = time.perf_counter(), time.process_time()
    durability = "exit" if saver == "sqlite-exit" else None
    state = agent.invoke({"question": QUESTION}, config=config, durability=durability)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    if state.get("tool_calls") != len(calls) or not state.get("answer"):
        raise RuntimeError(f"the agent did not run the script: tool_calls={state.get('tool_calls')}")
    size: int | None = None
    if saver == "memory":
        size = checkpoint_bytes(cp)
    elif conn is not None:
        conn.close()
        size = sum(p.stat().st_size for p in workdir.glob(f"{tag}.sqlite*"))
    trajectory = len(json.dumps(trajectory_to_dict(state)).encode("utf-8"))
    return elapsed, len(state["ledger"]), size, trajectory, cpu


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    corpus = default_corpus()
    titles = [d["title"] for d in iter_corpus() if d.get("title")][: max(args.steps) + 3]
    url = next(d["url"] for d in iter_corpus())
    browser = Browser(search=corpus, fetcher=corpus, page_budget=10_000)
    rows: list[dict[str, Any]] = []
    # warm-up: imports, tantivy searcher, graph compilation paths
    plain_loop(browser, plan(titles, 6))
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        run_graph(corpus, plan(titles, 3), url, "none", Path(tmp), "warm")
        for steps in args.steps:
            calls = plan(titles, steps)
            floor, floor_cpu = [], []
            for _ in range(args.repeats):
                t, cpu = time.perf_counter(), time.process_time()
                records = plain_loop(browser, calls)
                floor.append(time.perf_counter() - t)
                floor_cpu.append(time.process_time() - cpu)
            base = (statistics.median(floor), statistics.median(floor_cpu))
            rows.append(_row("plain loop (Browser calls, floor)", steps, base, records, None,
                             None, base))
            for saver, label in (("none", "graph, no checkpointer"),
                                 ("memory", "graph + InMemorySaver"),
                                 ("sqlite", "graph + SqliteSaver (file)"),
                                 ("sqlite-exit", "graph + SqliteSaver, durability='exit'")):
                runs = [run_graph(corpus, calls, url, saver, Path(tmp), f"{saver}-{steps}-{r}")
                        for r in range(args.repeats)]
                timing = (statistics.median(r[0] for r in runs), statistics.median(r[4] for r in runs))
                records, size, trajectory = runs[-1][1], runs[-1][2], runs[-1][3]
                rows.append(_row(label, steps, timing, records, size, trajectory, base))
    notes = (f"Median of {args.repeats} runs per row; scripted model (no model time). "
             f"Load average at start: {args.load} (2 cores shared with other work).")
    write_results("agent", rows, notes=notes, params={"steps": args.steps, "repeats": args.repeats,
                                                      "load_average": args.load},
                  columns=["mode", "steps", "total_ms", "ms_per_step", "steps_per_s",
                           "overhead_ms_per_step", "cpu_ms_per_step", "cpu_overhead_ms_per_step",
                           "x_floor", "ledger_records", "checkpoint_kib",
                           "trajectory_kib", "x_trajectory"])
    return rows


def _row(mode: str, steps: int, timing: tuple[float, float], records: int, size: int | None,
         trajectory: int | None, floor: tuple[float, float]) -> dict[str, Any]:
    """One table row; ``timing`` and ``floor`` are (wall seconds, CPU seconds)."""
    (seconds, cpu), (floor_s, floor_cpu) = timing, floor
    per = seconds * 1000 / steps
    return {
        "mode": mode, "steps": steps, "total_ms": round(seconds * 1000, 1),
        "ms_per_step": round(per, 3), "steps_per_s": round(steps / seconds, 1),
        "overhead_ms_per_step": round(per - floor_s * 1000 / steps, 3),
        "cpu_ms_per_step": round(cpu * 1000 / steps, 3),
        "cpu_overhead_ms_per_step": round((cpu - floor_cpu) * 1000 / steps, 3),
        "x_floor": round(seconds / floor_s, 1), "ledger_records": records,
        "checkpoint_kib": round(size / 1024, 1) if size is not None else None,
        "trajectory_kib": round(trajectory / 1024, 1) if trajectory is not None else None,
        "x_trajectory": round(size / trajectory, 2) if size is not None and trajectory else None,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 100], help="tool calls per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per row (median reported)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where to write <name>.json/.md (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.results_dir is not None:
        harness.RESULTS_DIR = args.results_dir
    if min(args.steps) < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")
    args.load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run(args)


if __name__ == "__main__":
    main()
