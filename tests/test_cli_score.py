"""`carr-agent score`: /evaluate requests in, results out; resumable after a kill (a real process);
bad lines named (in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from carr_agent.rewards.batch import done_lines
from tests._carr_fixture import SAMPLE_REQUESTS, carr_agent_cmd, start_fake_judge, stop
from tests.cli_support import CliResult, judge_env_cleared, run_cli


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARR_JUDGE")}
    env["CARR_JUDGE_CACHE"] = "off"
    env["COLUMNS"] = "300"
    return env


def run_score(*args: str) -> CliResult:
    """``carr-agent score ARGS`` in-process (a real process only for the kill test below)."""
    return run_cli("score", *args, env=judge_env_cleared(COLUMNS="300"))


def read(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def test_score_writes_one_result_per_request_with_line_and_id(tmp_path):
    out = tmp_path / "out.jsonl"
    proc = run_score(str(SAMPLE_REQUESTS), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    results = {r["id"]: r for r in read(out)}
    assert len(results) == 7
    assert results["cited-correct"]["reward"] == pytest.approx(1.0)
    assert results["cited-correct"]["line"] == 1 and results["cited-correct"]["status"] == 200
    assert results["uncited-correct"]["reward"] == pytest.approx(0.7)
    assert results["unfinished"]["rubric_scores"] == {}
    assert "7 scored" in proc.stderr


def test_bad_lines_are_reported_by_line_number_and_skipped(tmp_path):
    good = SAMPLE_REQUESTS.read_text().splitlines()
    missing_label = json.loads(good[0])
    del missing_label["label"]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([good[0], "{not json", json.dumps(missing_label), good[1]]) + "\n")
    out = tmp_path / "out.jsonl"
    proc = run_score(str(src), "-o", str(out))
    assert proc.returncode == 1, proc.stderr  # the valid lines were scored; the bad ones named
    assert sorted(r["line"] for r in read(out)) == [1, 4]
    assert "line 2 skipped" in proc.stderr and "not valid JSON" in proc.stderr
    assert "line 3 skipped" in proc.stderr and "label" in proc.stderr


def many_requests(path: Path, n: int) -> Path:
    base = json.loads(SAMPLE_REQUESTS.read_text().splitlines()[0])
    base["remote_env_info"].pop("entities")
    lines = []
    for i in range(n):
        base["id"] = f"r{i}"
        lines.append(json.dumps(base))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_killed_run_resumes_and_scores_every_line_exactly_once(tmp_path):
    judge, port = start_fake_judge(tmp_path, latency_ms=150)
    judge_url = f"http://127.0.0.1:{port}"
    try:
        src = many_requests(tmp_path / "in.jsonl", 16)
        out = tmp_path / "out.jsonl"
        args = [str(src), "-o", str(out), "--judge", "llm", "--judge-base-url", f"{judge_url}/v1",
                "--judge-model", "fake-judge", "--concurrency", "2"]
        proc = subprocess.Popen([*carr_agent_cmd(), "score", *args], env=clean_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (not out.exists() or len(read(out)) < 4):
            assert proc.poll() is None, "scoring finished before it could be interrupted"
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        written = len(read(out))
        assert 4 <= written < 16
        httpx.post(f"{judge_url}/reset")
        resumed = run_score(*args)
        assert resumed.returncode == 0, resumed.stderr
        lines = sorted(r["line"] for r in read(out))
        assert lines == list(range(1, 17))               # every line exactly once
        assert all(r["status"] == 200 for r in read(out))
        assert f"{written} already in" in resumed.stderr
        # only the remaining lines were judged: 3 judge calls each (entities, outcome, support)
        assert httpx.get(f"{judge_url}/stats").json()["calls"] == 3 * (16 - written)
    finally:
        stop(judge)


async def test_judge_failures_are_written_as_null_and_retried_on_request(tmp_path):
    from langchain_openai import ChatOpenAI

    from carr_agent.rewards.batch import score_jsonl
    from carr_agent.rewards.judges import LLMJudge
    from carr_agent.rewards.scorer import CarrScorer
    from carr_agent.rewards.server import RewardService, ServerOptions

    judge, port = start_fake_judge(tmp_path, mode="error")
    judge_url = f"http://127.0.0.1:{port}"
    try:
        chat = ChatOpenAI(base_url=f"{judge_url}/v1", model="fake-judge", api_key="EMPTY",
                          use_responses_api=False, max_retries=0)
        service = RewardService(CarrScorer(LLMJudge(chat, max_retries=0)),
                                options=ServerOptions(judge="llm"))
        src = many_requests(tmp_path / "in.jsonl", 2)
        out = tmp_path / "out.jsonl"
        summary = await score_jsonl(src, out, service)
        assert (summary.scored, summary.failed) == (2, 2)
        first = read(out)
        assert [r["status"] for r in first] == [502, 502]
        assert all(r["reward"] is None and r["error"] for r in first)
        async with httpx.AsyncClient() as client:
            await client.post(f"{judge_url}/control", json={"mode": "ok"})
        again = await score_jsonl(src, out, service)
        assert (again.already_done, again.scored) == (2, 0)     # failures stay unless asked
        retried = await score_jsonl(src, out, service, retry_failed=True)
        assert (retried.scored, retried.failed) == (2, 0)
        final = read(out)
        assert sorted(r["line"] for r in final) == [1, 2]
        assert all(r["status"] == 200 and r["reward"] == pytest.approx(1.0) for r in final)
    finally:
        stop(judge)


def test_a_cut_off_last_output_line_is_removed_before_appending(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"line": 1, "status": 200, "reward": 1.0}\n{"line": 2, "sta')
    assert done_lines(out) == {1}
    assert out.read_text() == '{"line": 1, "status": 200, "reward": 1.0}\n'


def test_refuses_to_append_to_a_file_that_is_not_a_score_output(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"question": "not a score record"}\n')
    proc = run_score(str(SAMPLE_REQUESTS), "-o", str(out))
    assert proc.returncode != 0
    assert "not a score record" in proc.stderr
