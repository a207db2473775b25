"""Fuzzing the reward server: 10,000+ mutated requests plus 10 MB and pathological bodies.

Two real processes: the fake OpenAI-compatible judge (``carr_agent.testing.fake_judge_server``,
``--judge-latency-ms`` per completion, every ``--flaky-every``-th phase failing every second call
so that judge failures happen too) and ``carr-agent serve-reward --judge auto`` pointed at it
(requests carrying gold entities go to the deterministic judge, the others to the LLM judge).

The attack (``carr_agent.testing.fuzz``): every pathological case (deep JSON, 5,000-digit
integers, ``Infinity``/``NaN``, lone surrogates, invalid UTF-8, bad-port and broken-IPv6 URLs in
citations, search results and opened pages, 29+-digit numbers in answers, quadratic-parser bait
up to 512 kB, a body just under the size limit, a 10 MB body, blank gold entities, unusable
rubrics, wrong Content-Types), then ``--requests`` random mutations of valid requests, sent by
``--workers`` clients over keep-alive connections. Meanwhile a probe calls ``GET /health`` every
50 ms on its own connection.

Reported: requests sent, answers by status, 5xx other than the judge's 502/504, dropped
connections (a request that got no HTTP answer), hangs (no answer within ``--hang-s``), the
server's RSS (start, peak, end), ``/health`` latency p50/p99/max under attack. Goal: 0 unexpected
5xx, 0 dropped connections, 0 hangs, ``/health`` p99 < 1 s.

    python benchmarks/bench_server_fuzz.py --requests 10000 --workers 16
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness
import httpx
from bench_reward_server import carr_agent_cmd, free_port, start, stop
from harness import percentile, write_results

from carr_agent.testing.fuzz import FuzzCase, mutated_requests, pathological_cases

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "data" / "evaluate_requests.jsonl"
logger = logging.getLogger(__name__)


def seeds() -> list[dict[str, Any]]:
    """The shipped sample requests, with gold entities (deterministic judge) and without (LLM)."""
    out = []
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        body = json.loads(line)
        body.pop("id", None)
        out.append(body)
        plain = copy.deepcopy(body)
        plain["remote_env_info"].pop("entities", None)
        out.append(plain)
    return out


def probe_health(url: str, stop_probe: Any, results: Any) -> None:
    """In its own process (so the attackers' event loop does not delay it): ``GET /health``
    every 50 ms on one keep-alive connection until told to stop; puts (latencies, failures)."""
    latencies: list[float] = []
    failed = 0
    with httpx.Client(timeout=30) as client:
        while not stop_probe.is_set():
            t = time.perf_counter()
            try:
                ok = client.get(f"{url}/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - t)
            failed += not ok
            time.sleep(0.05)
    results.put((latencies, failed))


async def attack(url: str, cases: Sequence[FuzzCase], *, workers: int, hang_s: float,
                 judge_url: str, flaky_every: int) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    unexpected: list[str] = []
    dropped: list[str] = []
    hangs: list[str] = []
    queue: asyncio.Queue[tuple[int, FuzzCase]] = asyncio.Queue()
    for item in enumerate(cases):
        queue.put_nowait(item)

    async def worker() -> None:
        async with httpx.AsyncClient(timeout=hang_s) as client:
            while not queue.empty():
                n, case = queue.get_nowait()
                if flaky_every and n % 1000 == 0:  # some phases with a failing judge
                    mode = "flaky-error" if (n // 1000) % flaky_every == flaky_every - 1 else "ok"
                    await client.post(f"{judge_url}/control", json={"mode": mode})
                try:
                    resp = await client.post(f"{url}/evaluate", content=case.body,
                                             headers={"content-type": case.content_type})
                except httpx.TimeoutException:
                    hangs.append(case.name)
                    continue
                except httpx.TransportError as exc:
                    dropped.append(f"{case.name}: {type(exc).__name__}")
                    continue
                statuses[resp.status_code] += 1
                if resp.status_code >= 500 and resp.status_code not in (502, 504):
                    unexpected.append(f"{resp.status_code} {case.name}: {resp.text[:200]}")

    stop_probe = multiprocessing.Event()
    results: multiprocessing.Queue[tuple[list[float], int]] = multiprocessing.Queue()
    prober = multiprocessing.Process(target=probe_health, args=(url, stop_probe, results))
    prober.start()
    start_t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - start_t
    stop_probe.set()
    health, failed = results.get(timeout=60)
    prober.join(timeout=10)
    return {"statuses": statuses, "unexpected": unexpected, "dropped": dropped, "hangs": hangs,
            "health": health, "health_failed": failed, "elapsed": elapsed}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    bodies = seeds()
    cases = [*pathological_cases(bodies[0], max_body_bytes=8 * 2**20),
             *pathological_cases(bodies[1], max_body_bytes=8 * 2**20),
             *mutated_requests(bodies, args.requests, seed=args.seed)]
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        tmpdir = Path(tmp)
        jport, sport = free_port(), free_port()
        judge_url, url = f"http://127.0.0.1:{jport}", f"http://127.0.0.1:{sport}"
        judge = start([sys.executable, "-m", "carr_agent.testing.fake_judge_server", "--port",
                       str(jport), "--latency-ms", str(args.judge_latency_ms)], jport,
                      tmpdir / "judge.log")
        server = None
        try:
            server = start([*carr_agent_cmd(), "serve-reward", "--port", str(sport), "--judge",
                            "auto", "--judge-base-url", f"{judge_url}/v1", "--judge-model",
                            "fake-judge", "--judge-cache", "off"], sport, tmpdir / "server.log")
            proc = psutil.Process(server.pid)
            rss = [proc.memory_info().rss]
            sampling = True

            async def main() -> dict[str, Any]:
                async def sample() -> None:
                    while sampling:
                        rss.append(proc.memory_info().rss)
                        await asyncio.sleep(0.2)

                sampler = asyncio.create_task(sample())
                result = await attack(url, cases, workers=args.workers, hang_s=args.hang_s,
                                      judge_url=judge_url, flaky_every=args.flaky_every)
                nonlocal sampling
                sampling = False
                await sampler
                return result

            result = asyncio.run(main())
            alive = server.poll() is None
            rss_end = proc.memory_info().rss if alive else 0
        finally:
            if server is not None:
                stop(server)
            stop(judge)
    h_ms = [x * 1000 for x in result["health"]]
    statuses = result["statuses"]
    five = sum(v for k, v in statuses.items() if k >= 500 and k not in (502, 504))
    row = {
        "requests": len(cases), "answered": sum(statuses.values()),
        "by_status": dict(sorted(statuses.items())), "unexpected_5xx": five,
        "judge_502_504": statuses.get(502, 0) + statuses.get(504, 0),
        "dropped_connections": len(result["dropped"]), "hangs": len(result["hangs"]),
        "server_alive": alive,
        "rss_start_mib": round(rss[0] / 2**20, 1), "rss_peak_mib": round(max(rss) / 2**20, 1),
        "rss_end_mib": round(rss_end / 2**20, 1),
        "health_probes": len(h_ms), "health_failed": result["health_failed"],
        "health_p50_ms": round(percentile(h_ms, 50), 1),
        "health_p99_ms": round(percentile(h_ms, 99), 1), "health_max_ms": round(max(h_ms), 1),
        "requests_per_s": round(len(cases) / result["elapsed"], 1),
        "examples": (result["unexpected"] + result["dropped"] + result["hangs"])[:10],
    }
    for key, value in row.items():
        logger.info("%-22s %s", key, value)
    write_results("server_fuzz", [row], notes=(
        f"{args.requests} mutated + {len(cases) - args.requests} pathological requests, "
        f"{args.workers} clients, judge latency {args.judge_latency_ms} ms (failing every second "
        f"call in every {args.flaky_every}th phase of 1,000 requests), hang = no answer in "
        f"{args.hang_s:g} s. Load average at start: {args.load} (machine shared)."),
        params=vars(args) | {"reference": None}, columns=[
            "requests", "answered", "unexpected_5xx", "judge_502_504", "dropped_connections",
            "hangs", "health_failed", "rss_start_mib", "rss_peak_mib", "rss_end_mib", "health_p50_ms",
            "health_p99_ms", "health_max_ms", "requests_per_s"])
    return row


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="mutated requests")
    parser.add_argument("--workers", type=int, default=16, help="concurrent clients")
    parser.add_argument("--judge-latency-ms", type=int, default=50)
    parser.add_argument("--flaky-every", type=int, default=4,
                        help="every Nth phase of 1,000 requests the judge fails half its calls")
    parser.add_argument("--hang-s", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.results_dir is not None:
        harness.RESULTS_DIR = args.results_dir
    args.load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    run(args)


if __name__ == "__main__":
    main()
