"""Reward-server throughput: trajectories scored per second through ``carr-agent serve-reward``.

The harness of the reference measurement: distinct requests whose judge prompts all differ, judge
cache off, an OpenAI-compatible judge answering every completion after a fixed latency (default
200 ms: ``carr_agent.testing.fake_judge_server``, a real process), and the server, the judge and
this client sharing the machine. Requests are reference-format ``/evaluate`` bodies built from
trajectories that drove the real ``Browser`` over the example corpus (``bench_judge_cost.py``).

``carr-agent serve-reward`` runs with its DEFAULT command line (only the judge's address and
``--judge-cache off``). Measured in the same run, as the baseline:

* with ``--reference DIR`` (a THUDM/CaRR checkout, or its ``deepsearch_rm_with_rubrics`` folder):
  the reference reward server (``launch_server.py``, run by ``--reference-python``, which needs
  fastapi, uvicorn and openai) against the same judge, at the same client concurrencies;
* otherwise ``naive sequential``: the three judge round-trips of one trajectory (entities,
  support, outcome) one after another, one trajectory at a time, sent by this script straight to
  the judge with the same prompts.

With the reference, both servers run side by side and each concurrency level is measured on the
reference and then on ``serve-reward`` right after, so changes in the machine's load hit both.

Reported per row: trajectories/s, speedup over the baseline (at the same concurrency when the
reference runs), judge calls per trajectory (the judge's ``GET /stats``), client-side p50/p99
latency, the server's CPU time per trajectory and peak RSS (psutil, children included), errors.
A last row sends one body ``--retries`` times at concurrency 16 (in-flight join / response cache).

    python benchmarks/bench_reward_server.py --latency-ms 200 --concurrency 1 16 64 --requests 512
    python benchmarks/bench_reward_server.py --reference /path/to/CaRR --reference-python /venv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import harness
import httpx
import orjson
from bench_judge_cost import Trajectory, build_trajectories, example_tasks
from harness import summarize_ms, write_results

from carr_agent.rewards.citations import answer_body, cited_urls
from carr_agent.rewards.evidence import build_evidence_context, collect_evidence
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.judges.keepalive import HTTPError, KeepAliveClient
from carr_agent.rewards.judges.prompts import (
    identify_entities_prompt,
    outcome_prompt,
    parse_entities_output,
    parse_outcome_output,
    parse_support_output,
    support_prompt,
)
from carr_agent.rewards.rubrics import all_entity_labels, fill_rubric
from carr_agent.testing.processes import free_port, start_server, stop

ALPHA = 0.3
logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- processes


def carr_agent_cmd() -> list[str]:
    script = Path(sys.executable).with_name("carr-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "carr_agent.cli"]


def start(cmd: list[str], port: int, log: Path, *, cwd: Path | None = None,
          ready: str = "/health") -> subprocess.Popen:
    """Start a server process and wait for it (any answer to ``ready`` will do: the reference
    server has no health route)."""
    return start_server(cmd, port, log=log, cwd=cwd, ready=ready, any_status=True, timeout=90.0)


# ----------------------------------------------------------------------------- requests


def request_body(t: Trajectory, nonce: int) -> dict[str, Any]:
    """A reference ``/evaluate`` body; ``nonce`` makes otherwise equal requests distinct."""
    history = copy.deepcopy(t.history)
    history[0]["content"] = f"{history[0]['content']}\n(request {nonce})"
    return {
        "history": history,
        "label": t.task.label,
        "task_unfinished": False,
        "remote_env_info": {"search_forbidden_strs": [t.task.question],
                            "rubrics": list(t.task.rubrics), "rubric_reward_ratio": ALPHA},
    }


async def _judge_call(client: httpx.AsyncClient, judge: str, prompt: str) -> str:
    resp = await client.post(f"{judge}/v1/chat/completions", json={
        "model": "fake-judge", "messages": [{"role": "user", "content": prompt}], "temperature": 0})
    resp.raise_for_status()
    return str(resp.json()["choices"][0]["message"]["content"])


async def naive_sequential(judge: str, bodies: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The baseline: per trajectory, entities → support → outcome in sequence, no concurrency."""
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=120) as client:
        start = time.perf_counter()
        for body in bodies:
            t = time.perf_counter()
            info = body["remote_env_info"]
            question, rubrics = info["search_forbidden_strs"][0], info["rubrics"]
            parsed = parse_history(body["history"])
            answer = answer_body(parsed.answer)
            values = parse_entities_output(
                await _judge_call(client, judge, identify_entities_prompt(question, rubrics, answer)),
                all_entity_labels(rubrics))
            statements = [s for s in (fill_rubric(r, values) for r in rubrics) if s]
            sources = collect_evidence(parsed.records, cited_urls(answer), max_urls=20)
            if statements and sources:
                context = build_evidence_context(sources, statements)
                parse_support_output(
                    await _judge_call(client, judge, support_prompt(context, statements)),
                    len(statements))
            parse_outcome_output(
                await _judge_call(client, judge, outcome_prompt(question, answer, body["label"])))
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
    return {"elapsed": elapsed, "latencies": latencies, "errors": 0}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def drive(url: str, bodies: Sequence[dict[str, Any]], concurrency: int,
                server_pid: int) -> dict[str, Any]:
    """POST every body with ``concurrency`` requests in flight; sample the server's RSS and
    measure its CPU time."""
    import psutil

    proc = psutil.Process(server_pid)
    peak = [proc.memory_info().rss]
    latencies: list[float] = []
    errors: list[str] = []
    rewards: list[float] = []
    limit = asyncio.Semaphore(concurrency)
    done = asyncio.Event()
    encoded = [json.dumps(b).encode() for b in bodies]

    async def sample() -> None:
        while not done.is_set():
            peak.append(proc.memory_info().rss)
            await asyncio.sleep(0.1)

    # the lean keep-alive client: the load generator shares the machine with both servers, so it
    # should cost them as little CPU as possible
    client = KeepAliveClient(url, max_idle=concurrency)
    headers = {"Content-Type": "application/json"}

    async def one(body: bytes) -> None:
        async with limit:
            t = time.perf_counter()
            try:
                async with asyncio.timeout(300):
                    resp = await client.post("/evaluate", body, headers)
            except (HTTPError, TimeoutError) as exc:
                latencies.append(time.perf_counter() - t)
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            latencies.append(time.perf_counter() - t)
            reward = orjson.loads(resp.body).get("reward") if resp.status == 200 else None
            if reward is None:
                errors.append(f"{resp.status}: {resp.body[:200]!r}")
            else:
                rewards.append(float(reward))

    sampler = asyncio.create_task(sample())
    cpu0 = cpu_seconds(server_pid)
    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in encoded))
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(server_pid) - cpu0
    done.set()
    await sampler
    await client.aclose()
    return {"elapsed": elapsed, "latencies": latencies, "errors": len(errors),
            "error_examples": errors[:3], "server_cpu_s": cpu,
            "mean_reward": round(sum(rewards) / len(rewards), 3) if rewards else None,
            "rss_peak_mib": round(max(peak) / 2**20, 1)}


def judge_stats(judge: str) -> dict[str, Any]:
    return httpx.get(f"{judge}/stats", timeout=10).json()


def reset(judge: str) -> None:
    httpx.post(f"{judge}/reset", timeout=10)


# ----------------------------------------------------------------------------- main


def reference_dir(path: Path) -> Path:
    """The folder holding the reference's ``launch_server.py`` (a checkout or the folder)."""
    for candidate in (path, path / "deepsearch_rm_with_rubrics"):
        if (candidate / "launch_server.py").is_file():
            return candidate
    raise SystemExit(f"--reference {path}: no launch_server.py there (nor in deepsearch_rm_with_rubrics/)")


def measure_level(name: str, url: str, pid: int, judge_url: str, c: int,
                  bodies: Callable[[int], list[dict[str, Any]]], args: argparse.Namespace,
                  base_tps: float | None) -> dict[str, Any]:
    """One row: ``c`` requests in flight, distinct bodies."""
    n = args.requests_serial if c == 1 else args.requests
    reset(judge_url)
    result = asyncio.run(drive(url, bodies(n), c, pid))
    return _row(name, c, n, result, judge_stats(judge_url)["calls"], base_tps)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    n_needed = max(args.requests, args.requests_serial)
    trajectories, _ = build_trajectories(min(n_needed, 96), seed=args.seed, long_every=3)
    nonce = iter(range(10**9))

    def bodies(n: int) -> list[dict[str, Any]]:
        return [request_body(trajectories[i % len(trajectories)], next(nonce)) for i in range(n)]

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-reward-") as tmp:
        tmpdir = Path(tmp)
        gold = tmpdir / "gold.jsonl"
        gold.write_text("".join(json.dumps({"question": t.question, "entities": dict(t.entities)}) + "\n"
                                for t in example_tasks()), encoding="utf-8")
        jport = free_port()
        judge_url = f"http://127.0.0.1:{jport}"
        judge_proc = start([sys.executable, "-m", "carr_agent.testing.fake_judge_server", "--port",
                            str(jport), "--latency-ms", str(args.latency_ms), "--tasks", str(gold)],
                           jport, tmpdir / "judge.log")
        procs: list[subprocess.Popen] = [judge_proc]
        try:
            sport = free_port()
            server_url = f"http://127.0.0.1:{sport}"
            cmd = [*carr_agent_cmd(), "serve-reward", "--port", str(sport), "--judge", "llm",
                   "--judge-base-url", f"{judge_url}/v1", "--judge-model", "fake-judge",
                   "--judge-cache", "off", *args.server_args]
            server = start(cmd, sport, tmpdir / "server.log")
            procs.append(server)
            label = "serve-reward" + (f" {' '.join(args.server_args)}" if args.server_args
                                      else " (default command line)")
            asyncio.run(drive(server_url, bodies(8), 8, server.pid))  # warm-up, not measured
            ours: list[dict[str, Any]] = []
            if args.reference is not None:
                # both servers up; at each level the reference, then ours, minutes apart at
                # most, so a change in the machine's load hits both alike
                rport = free_port()
                ref = start([args.reference_python, "launch_server.py", "--host", "127.0.0.1",
                             "--port", str(rport), "--base_url", f"{judge_url}/v1",
                             "--model_name", "fake-judge", "--api_key", "EMPTY"],
                            rport, tmpdir / "reference.log", cwd=reference_dir(args.reference),
                            ready="/")
                procs.append(ref)
                ref_url = f"http://127.0.0.1:{rport}"
                asyncio.run(drive(ref_url, bodies(8), 8, ref.pid))
                for c in args.concurrency:
                    base = measure_level("reference server (THUDM/CaRR)", ref_url, ref.pid,
                                         judge_url, c, bodies, args, None)
                    rows.append(base)
                    ours.append(measure_level(label, server_url, server.pid, judge_url, c,
                                              bodies, args, base["trajectories_per_s"]))
            else:
                reset(judge_url)
                base = asyncio.run(naive_sequential(judge_url, bodies(args.requests_serial)))
                rows.append(_row("naive sequential (3 judge calls in a row, direct)", 1,
                                 args.requests_serial, base, judge_stats(judge_url)["calls"], None))
                base_tps = args.requests_serial / base["elapsed"]
                ours = [measure_level(label, server_url, server.pid, judge_url, c, bodies, args,
                                      base_tps) for c in args.concurrency]
            rows += ours
            reset(judge_url)
            same = bodies(1) * args.retries
            result = asyncio.run(drive(server_url, same, 16, server.pid))
            rows.append(_row(f"{label}, identical retries", 16, args.retries, result,
                             judge_stats(judge_url)["calls"], None))
            health = httpx.get(f"{server_url}/health", timeout=10).json()
        finally:
            for proc in reversed(procs):
                stop(proc)
    print_table(rows)
    notes = (
        f"Fake judge latency {args.latency_ms} ms per completion, judge cache off, "
        f"α = {ALPHA}, every request distinct. Baseline: "
        + ("the reference server (THUDM/CaRR launch_server.py) against the same judge, same run"
           if args.reference else "naive sequential judging, same run")
        + f". Server /health at the end: {health}. Load average at start: {args.load} "
        f"(machine shared with other work)."
    )
    write_results("reward_server", rows, notes=notes, params={
        "latency_ms": args.latency_ms, "concurrency": args.concurrency, "requests": args.requests,
        "requests_serial": args.requests_serial, "retries": args.retries,
        "server_args": args.server_args, "reference": str(args.reference) if args.reference else None,
        "load_average": args.load,
    }, columns=["mode", "client_concurrency", "requests", "trajectories_per_s", "speedup_x",
                "judge_calls_per_trajectory", "p50_ms", "p99_ms", "server_cpu_ms_per_trajectory",
                "server_rss_peak_mib", "mean_reward", "errors"])
    return rows


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    keys = ["mode", "client_concurrency", "trajectories_per_s", "speedup_x", "p50_ms", "p99_ms",
            "server_cpu_ms_per_trajectory", "judge_calls_per_trajectory", "errors"]
    logger.info(" | ".join(keys))
    for row in rows:
        logger.info(" | ".join(str(row.get(k)) for k in keys))


def _row(mode: str, c: int, n: int, result: dict[str, Any], calls: int,
         base_tps: float | None) -> dict[str, Any]:
    tps = n / result["elapsed"]
    lat = summarize_ms(result["latencies"])
    cpu = result.get("server_cpu_s")
    return {
        "mode": mode, "client_concurrency": c, "requests": n,
        "trajectories_per_s": round(tps, 2),
        "speedup_x": round(tps / base_tps, 2) if base_tps else 1.0,
        "judge_calls_per_trajectory": round(calls / n, 3),
        "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
        "server_cpu_ms_per_trajectory": round(1000 * cpu / n, 2) if cpu is not None else None,
        "server_rss_peak_mib": result.get("rss_peak_mib"), "mean_reward": result.get("mean_reward"),
        "errors": result["errors"], "error_examples": result.get("error_examples", []),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=int, default=200, help="fake judge latency per call")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64],
                        help="client concurrency levels")
    parser.add_argument("--requests", type=int, default=256,
                        help="distinct requests per concurrency level > 1")
    parser.add_argument("--requests-serial", type=int, default=24,
                        help="requests for the baseline and concurrency 1")
    parser.add_argument("--retries", type=int, default=64, help="identical requests in the retry run")
    parser.add_argument("--server-args", nargs=argparse.REMAINDER, default=[],
                        help="extra serve-reward options (default: none, the default command line)")
    parser.add_argument("--reference", type=Path, default=None,
                        help="a THUDM/CaRR checkout: its reward server is the baseline")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="interpreter with fastapi, uvicorn and openai for the reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where to write <name>.json/.md (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.results_dir is not None:
        harness.RESULTS_DIR = args.results_dir
    if min(args.concurrency) < 1 or args.requests < 1 or args.requests_serial < 1 or args.retries < 1:
        parser.error("sizes must be >= 1")
    args.load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run(args)


if __name__ == "__main__":
    main()
