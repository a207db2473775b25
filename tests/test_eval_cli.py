"""`carr-agent eval`: resumable after SIGKILL (a real process), clear errors for bad task files,
judge failures shown as unknown (in-process, typer's CliRunner)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests._carr_fixture import carr_agent_cmd, start_fake_judge, stop
from tests.cli_support import CliResult, judge_env_cleared, run_cli
from tests.eval_support import (
    SCRIPT,
    deepdive_task,
    many_tasks,
    river_task,
    town_task,
    write_jsonl,
    write_world,
)
from tests.fake_openai import FakeOpenAIServer, openai_turn


def env_for(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARR_JUDGE")}
    env.update(CARR_JUDGE_CACHE="off", CARR_AGENT_CACHE=str(tmp / "cache"), COLUMNS="140")
    return env


def eval_args(tmp: Path, tasks: Path, store: Path, *extra: str) -> list[str]:
    corpus, script = write_world(tmp)
    return ["eval", str(tasks), "--store", str(store),
            "--model", f"scripted:{script}", "--corpus", str(corpus), *extra]


def run_eval(tmp: Path, tasks: Path, store: Path, *extra: str) -> CliResult:
    return run_cli(*eval_args(tmp, tasks, store, *extra),
                   env=judge_env_cleared(CARR_AGENT_CACHE=str(tmp / "cache"), COLUMNS="140"))


def stored(store: Path) -> list[tuple]:
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT task_id, status, outcome_reward, rubric_reward, finished_at, "
                          "answer FROM results ORDER BY task_id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def test_eval_killed_mid_run_resumes_without_loss_or_duplicates(tmp_path):
    n = 24
    tasks = write_jsonl(tmp_path / "tasks.jsonl", many_tasks(n))
    store = tmp_path / "results.sqlite"
    judge, port = start_fake_judge(tmp_path, latency_ms=120)
    judge_args = ("--judge-base-url", f"http://127.0.0.1:{port}/v1", "--judge-model", "fake")
    try:
        proc = subprocess.Popen([*carr_agent_cmd(), *eval_args(tmp_path, tasks, store, "-j", "2",
                                                               *judge_args)],
                                env=env_for(tmp_path), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while len(stored(store)) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no results appeared"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        before = stored(store)
        assert 3 <= len(before) < n, "the run finished before it could be killed"
        db = sqlite3.connect(store)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()

        again = run_eval(tmp_path, tasks, store, "-j", "2", *judge_args)
        assert again.returncode == 0, again.stderr
        assert f"{len(before)} already done" in again.stdout
    finally:
        stop(judge)
    after = stored(store)
    assert sorted(r[0] for r in after) == sorted(t["id"] for t in many_tasks(n))
    assert len({r[0] for r in after}) == n
    assert {r[1] for r in after} == {"ok"}
    # results committed before the kill were kept as they were, not redone
    kept = {r[0]: r for r in after}
    assert all(kept[r[0]] == r for r in before)
    # river tasks are answered correctly, town tasks not; no score was lost to the kill
    assert all(r[2] == (1.0 if r[0].startswith("r") else 0.0) for r in after)
    assert all(r[3] is not None for r in after)


def test_bad_task_lines_are_named_and_good_tasks_still_run(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [
        river_task(),
        '{"id": "broken", "question": ',
        {"id": "nolabel", "question": "Who?"},
        {"id": "noe0", "question": "Who?", "label": "x", "rubrics": ["<E1> is a river."]},
        town_task(),
    ])
    proc = run_eval(tmp_path, tasks, tmp_path / "r.sqlite")
    assert proc.returncode == 1, proc.stderr  # the good tasks ran; the skipped lines make it fail
    err = " ".join(proc.stderr.split())
    assert "3 task lines skipped" in err
    assert "line 2: invalid JSON" in err
    assert "line 3 (id 'nolabel'): missing 'label'" in err
    assert "line 4 (id 'noe0'): rubrics never mention <E0>" in err
    assert sorted(r[0] for r in stored(tmp_path / "r.sqlite")) == ["river", "town"]


def test_a_task_file_without_usable_tasks_is_refused_with_line_numbers(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", ["{oops", {"question": "Who?"}])
    proc = run_eval(tmp_path, tasks, tmp_path / "r.sqlite")
    assert proc.returncode == 2
    err = " ".join(proc.stderr.split())
    assert "no usable task" in err
    assert "line 1: invalid JSON" in err and "line 2: missing 'label'" in err
    assert "Traceback" not in proc.stderr


def test_tasks_without_gold_entities_need_an_llm_judge(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [deepdive_task()])
    proc = run_eval(tmp_path, tasks, tmp_path / "r.sqlite")
    assert proc.returncode == 2
    assert "CARR_JUDGE_BASE_URL" in proc.stderr and "Traceback" not in proc.stderr


def test_a_failing_judge_gives_unknown_scores_not_zeros(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [river_task()])
    judge, port = start_fake_judge(tmp_path, mode="error")
    try:
        proc = run_eval(tmp_path, tasks, tmp_path / "r.sqlite", "--judge-base-url",
                        f"http://127.0.0.1:{port}/v1", "--judge-model", "fake")
    finally:
        stop(judge)
    assert proc.returncode == 0, proc.stderr
    ((task_id, status, outcome, rubric, _, _),) = stored(tmp_path / "r.sqlite")
    assert (task_id, status, outcome, rubric) == ("river", "ok", None, None)
    out = " ".join(proc.stdout.split())
    assert "outcome unknown (judge failed) │ 1" in out
    assert "accuracy (known outcomes) │ n/a" in out
    assert "acc n/a (0/0) · unknown 1" in out


def test_eval_against_an_openai_compatible_agent_server_with_concurrency(tmp_path):
    tasks = write_jsonl(tmp_path / "tasks.jsonl", many_tasks(6))
    corpus, _ = write_world(tmp_path)
    server = FakeOpenAIServer([openai_turn(t, n) for n, t in enumerate(SCRIPT)])
    try:
        proc = run_cli(
            "eval", str(tasks), "--store", str(tmp_path / "r.sqlite"),
            "--model", "fake-agent", "--base-url", server.url, "--corpus", str(corpus),
            "--concurrency", "3",
            env=judge_env_cleared(CARR_AGENT_CACHE=str(tmp_path / "cache"), COLUMNS="140",
                                  OPENAI_API_KEY="EMPTY"),
        )
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    assert len(server.requests) == 6 * 5  # 4 tool turns + the answer, per task
    db = sqlite3.connect(tmp_path / "r.sqlite")
    rows = db.execute("SELECT task_id, outcome_reward, tool_calls, prompt_tokens, "
                      "completion_tokens FROM results ORDER BY task_id").fetchall()
    model = json.loads(db.execute("SELECT config_json FROM runs").fetchone()[0])["model"]
    assert model == f"fake-agent@{server.url}"
    assert [r[0] for r in rows] == sorted(t["id"] for t in many_tasks(6))
    assert all(r[2] == 4 and r[3] == 500 and r[4] == 50 for r in rows)
    assert [r[1] for r in rows] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # r000..r004 right, t00x wrong
