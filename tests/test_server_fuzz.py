"""A bounded fuzz of ``carr-agent serve-reward`` as a real process (the full fuzz, with 10,000+
requests and 10 MB bodies, is ``benchmarks/bench_server_fuzz.py``).

Mutated and pathological requests over a few keep-alive connections: no 5xx, no dropped
connection, and ``/health`` answers throughout.
"""

from __future__ import annotations

import copy
import time
from collections import Counter

import httpx

from carr_agent.testing.fuzz import mutated_requests, pathological_cases
from tests._carr_fixture import carr_agent_cmd, free_port, sample_requests, start_server, stop


def test_fuzzed_requests_never_get_a_5xx_nor_drop_the_connection(tmp_path):
    seeds = [copy.deepcopy(r) for r in sample_requests().values()]
    for seed in seeds:
        seed.pop("id")
    port = free_port()
    proc = start_server([*carr_agent_cmd(), "serve-reward", "--port", str(port), "--judge",
                         "deterministic", "--max-body-mb", "1"], port, log=tmp_path / "server.log")
    statuses: Counter[int] = Counter()
    dropped = 0
    worst_health = 0.0
    try:
        cases = [*pathological_cases(seeds[0], max_body_bytes=2**20),
                 *mutated_requests(seeds, 400, seed=7)]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for n, case in enumerate(cases):
                try:
                    resp = client.post("/evaluate", content=case.body,
                                       headers={"content-type": case.content_type})
                    statuses[resp.status_code] += 1
                    assert resp.status_code < 500, (case.name, resp.text[:300])
                except httpx.TransportError:
                    dropped += 1
                if n % 25 == 0:
                    t = time.perf_counter()
                    assert client.get("/health").status_code == 200
                    worst_health = max(worst_health, time.perf_counter() - t)
    finally:
        stop(proc)
    assert dropped == 0
    assert statuses[200] > 50 and statuses[400] > 10 and statuses[422] > 10
    assert worst_health < 1.0
