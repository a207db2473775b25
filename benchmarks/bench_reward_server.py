"""Reward-server throughput: trajectories scored per second through ``carr-agent serve-reward``.

Two real processes: the OpenAI-compatible fake judge (``carr_agent.testing.fake_judge_server``)
answering every completion after a fixed latency (default 200 ms, a fast hosted judge), and
``carr-agent serve-reward --judge llm`` pointed at it (judge cache off, so every request really
calls the judge). Requests are reference-format ``/evaluate`` bodies built from trajectories that
drove the real ``Browser`` over the example corpus (see ``bench_judge_cost.py``).

Measured in the same run:

* ``naive sequential`` (baseline): what the reference's per-request flow costs: the three judge
  round-trips of one trajectory (entities, support, outcome) one after another, one trajectory at
  a time, sent by this script straight to the same fake judge with the same prompts;
* the server at client concurrency 1, 16, 64 (``--concurrency``), every request distinct (no
  cache hits): entity identification ‖ outcome run concurrently inside a request, requests
  concurrently across the server;
* identical retries: one request body sent ``--retries`` times at concurrency 16: answered once,
  then from the in-flight join / response cache.

Reported per row: trajectories/s, speedup over the baseline, judge calls per trajectory (from the
fake judge's ``GET /stats``), client-side p50/p99 latency, the server's peak RSS (psutil).

    python benchmarks/bench_reward_server.py --latency-ms 200 --concurrency 1 16 64 --requests 256
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness
import httpx
from bench_judge_cost import Trajectory, build_trajectories, example_tasks
from harness import summarize_ms, write_results

from carr_agent.rewards.citations import answer_body, cited_urls
from carr_agent.rewards.evidence import build_evidence_context, collect_evidence
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.judges.prompts import (
    identify_entities_prompt,
    outcome_prompt,
    parse_entities_output,
    parse_outcome_output,
    parse_support_output,
    support_prompt,
)
from carr_agent.rewards.rubrics import all_entity_labels, fill_rubric

ALPHA = 0.3


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def carr_agent_cmd() -> list[str]:
    script = Path(sys.executable).with_name("carr-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "carr_agent.cli"]


def start(cmd: list[str], port: int, log: Path, *, timeout: float = 90.0) -> subprocess.Popen:
    """Start a server process and wait for ``GET /health`` (the log names a failed start)."""
    fh = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not answer /health on port {port} within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


async def drive(url: str, bodies: Sequence[dict[str, Any]], concurrency: int,
                server_pid: int) -> dict[str, Any]:
    """POST every body with ``concurrency`` requests in flight; sample the server's RSS."""
    import psutil

    proc = psutil.Process(server_pid)
    peak = [proc.memory_info().rss]
    latencies: list[float] = []
    errors: list[str] = []
    rewards: list[float] = []
    limit = asyncio.Semaphore(concurrency)
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak.append(proc.memory_info().rss)
            await asyncio.sleep(0.1)

    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def one(body: dict[str, Any]) -> None:
            async with limit:
                t = time.perf_counter()
                resp = await client.post(f"{url}/evaluate", content=json.dumps(body),
                                         headers={"content-type": "application/json"})
                latencies.append(time.perf_counter() - t)
                reward = resp.json().get("reward") if resp.status_code == 200 else None
                if reward is None:
                    errors.append(f"{resp.status_code}: {resp.text[:200]}")
                else:
                    rewards.append(float(reward))

        sampler = asyncio.create_task(sample())
        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        elapsed = time.perf_counter() - start
        done.set()
        await sampler
    return {"elapsed": elapsed, "latencies": latencies, "errors": len(errors),
            "error_examples": errors[:3],
            "mean_reward": round(sum(rewards) / len(rewards), 3) if rewards else None,
            "rss_peak_mib": round(max(peak) / 2**20, 1)}


def judge_stats(judge: str) -> dict[str, Any]:
    return httpx.get(f"{judge}/stats", timeout=10).json()


def reset(judge: str) -> None:
    httpx.post(f"{judge}/reset", timeout=10)


# ----------------------------------------------------------------------------- main


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
        jport, sport = free_port(), free_port()
        judge_url, server_url = f"http://127.0.0.1:{jport}", f"http://127.0.0.1:{sport}"
        judge_proc = start([sys.executable, "-m", "carr_agent.testing.fake_judge_server", "--port",
                       str(jport), "--latency-ms", str(args.latency_ms), "--tasks", str(gold)],
                      jport, tmpdir / "judge.log")
        server = None
        try:
            server = start([*carr_agent_cmd(), "serve-reward", "--port", str(sport), "--judge", "llm",
                            "--judge-base-url", f"{judge_url}/v1", "--judge-model", "fake-judge",
                            "--judge-cache", "off", "--concurrency", str(args.server_concurrency)],
                           sport, tmpdir / "server.log")
            # warm-up (imports, connection pools), not measured
            asyncio.run(drive(server_url, bodies(2), 2, server.pid))

            reset(judge_url)
            base = asyncio.run(naive_sequential(judge_url, bodies(args.requests_serial)))
            rows.append(_row("naive sequential (3 judge calls in a row, direct)", 1,
                             args.requests_serial, base, judge_stats(judge_url)["calls"], None))
            base_tps = args.requests_serial / base["elapsed"]
            for c in args.concurrency:
                n = args.requests_serial if c == 1 else args.requests
                reset(judge_url)
                result = asyncio.run(drive(server_url, bodies(n), c, server.pid))
                rows.append(_row("serve-reward, distinct requests", c, n, result,
                                 judge_stats(judge_url)["calls"], base_tps))
            reset(judge_url)
            same = bodies(1) * args.retries
            result = asyncio.run(drive(server_url, same, 16, server.pid))
            rows.append(_row("serve-reward, identical retries", 16, args.retries, result,
                             judge_stats(judge_url)["calls"], base_tps))
            health = httpx.get(f"{server_url}/health", timeout=10).json()
        finally:
            if server is not None:
                stop(server)
            stop(judge_proc)
    notes = (
        f"Fake judge latency {args.latency_ms} ms per completion; server `--concurrency "
        f"{args.server_concurrency}` (judge calls in flight ≤ 2× that), `--judge-cache off`; "
        f"α = {ALPHA}. Server /health at the end: {health}. Load average at start: {args.load} "
        f"(machine shared with other work)."
    )
    write_results("reward_server", rows, notes=notes, params={
        "latency_ms": args.latency_ms, "concurrency": args.concurrency, "requests": args.requests,
        "requests_serial": args.requests_serial, "retries": args.retries,
        "server_concurrency": args.server_concurrency, "load_average": args.load,
    }, columns=["mode", "client_concurrency", "requests", "trajectories_per_s", "speedup_x",
                "judge_calls_per_trajectory", "p50_ms", "p99_ms", "server_rss_peak_mib", "mean_reward", "errors"])
    return rows


def _row(mode: str, c: int, n: int, result: dict[str, Any], calls: int,
         base_tps: float | None) -> dict[str, Any]:
    tps = n / result["elapsed"]
    lat = summarize_ms(result["latencies"])
    return {
        "mode": mode, "client_concurrency": c, "requests": n,
        "trajectories_per_s": round(tps, 2),
        "speedup_x": round(tps / base_tps, 2) if base_tps else 1.0,
        "judge_calls_per_trajectory": round(calls / n, 3),
        "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
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
    parser.add_argument("--server-concurrency", type=int, default=64,
                        help="serve-reward --concurrency (requests judged at once)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where to write <name>.json/.md (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.results_dir is not None:
        harness.RESULTS_DIR = args.results_dir
    if min(args.concurrency) < 1 or args.requests < 1 or args.requests_serial < 1 or args.retries < 1:
        parser.error("sizes must be >= 1")
    args.load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run(args)


if __name__ == "__main__":
    main()
