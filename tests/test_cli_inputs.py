"""Odd inputs to the CLIs: each bad line is named with its number, the rest is processed, and the
exit status says something was skipped. The real ``carr-agent`` commands (in-process), real files."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from carr_agent.rewards.batch import score_jsonl
from carr_agent.rewards.server import RewardService
from tests._carr_fixture import SAMPLE_REQUESTS
from tests.cli_support import CliResult, judge_env_cleared, run_cli
from tests.graph_support import write_corpus

GOOD = SAMPLE_REQUESTS.read_text(encoding="utf-8").splitlines()
#: Lines no request parser can take whole.
HOSTILE = [
    b"[" * 50_000 + b"]" * 50_000,                        # JSON nested 50,000 deep
    b'{"id": 1' + b"0" * 5000 + b"}",                     # a 5,000-digit integer
    b'{"id": "x", "question": "\\ud800", "label": 1}',   # a lone surrogate
    b"\xff\xfe\x00binary\x00",                             # not UTF-8
    b'{"id": Infinity}',
]


def _env(tmp: Path) -> dict[str, str | None]:
    return judge_env_cleared(COLUMNS="300", CARR_AGENT_CACHE=str(tmp / "cache"),
                             CARR_AGENT_DATA=str(tmp / "data"))


def _carr(tmp: Path, *args: str) -> CliResult:
    return run_cli(*args, env=_env(tmp))


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_score_names_hostile_lines_scores_the_valid_ones_and_exits_non_zero(tmp_path) -> None:
    lines = [GOOD[0].encode(), *HOSTILE, GOOD[1].encode()]
    src = _write(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    proc = _carr(tmp_path, "score", str(src), "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    scored = [json.loads(x)["line"] for x in out.read_text().splitlines()]
    assert 1 in scored and len(lines) in scored  # the valid lines around them were scored
    err = " ".join(proc.stderr.split())
    for number in range(2, 2 + len(HOSTILE)):
        assert number in scored or f"line {number} skipped" in err, err[-2000:]
    assert "nested too deeply" in err and "not UTF-8" in err


class ExplodingService(RewardService):
    """The real service, except that requests with id "boom" raise inside scoring."""

    async def evaluate(self, body: Any) -> tuple[int, dict[str, Any]]:
        if isinstance(body, dict) and body.get("id") == "boom":
            raise RuntimeError("scorer bug")
        return await super().evaluate(body)


def test_a_line_that_raises_while_scored_is_named_and_its_neighbours_are_scored(tmp_path) -> None:
    boom = json.loads(GOOD[0])
    boom["id"] = "boom"
    src = _write(tmp_path / "in.jsonl", [GOOD[0].encode(), json.dumps(boom).encode(), GOOD[1].encode()])
    out = tmp_path / "out.jsonl"
    summary = asyncio.run(score_jsonl(src, out, ExplodingService(None)))
    assert summary.bad == [(2, "scoring failed: RuntimeError: scorer bug")]
    assert sorted(json.loads(x)["line"] for x in out.read_text().splitlines()) == [1, 3]


# -- corpus build / open ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    from carr_agent.tools.corpus import CorpusIndex

    CorpusIndex.build(write_corpus(root / "docs.jsonl"), root / "index")
    return root / "index"


@pytest.mark.parametrize("url", ["http://example.org:99999/a", "http://example.org:abc/",
                                 "http://[::1", "http://[zz::1]/", "https://[::1]:80/x",
                                 "http://example.org/\udcff", "wiki:Brastow", "Anton Marek: biography"])
def test_corpus_open_of_odd_urls_is_a_named_error(index, tmp_path, url) -> None:
    proc = _carr(tmp_path, "corpus", "open", str(index), url)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr


def test_corpus_build_names_each_bad_line(tmp_path) -> None:
    good = json.dumps({"url": "https://example.org/a", "title": "A", "text": "alpha"}).encode()
    lines = [good,
             json.dumps({"url": "http://example.org:99999/b", "text": "bad port"}).encode(),
             json.dumps({"url": "http://[::1", "text": "broken IPv6"}).encode(),
             json.dumps({"url": "https://[2001:db8::1]/c", "text": "an IPv6 literal"}).encode(),
             b'{"url": "https://example.org/d", "text": "x"',
             b"[" * 50_000 + b"]" * 50_000,
             b'{"url": "https://example.org/e", "text": "\\ud800"}',
             b'{"url": "https://example.org/f", "text": "n", "n": 1' + b"0" * 5000 + b"}"]
    src = _write(tmp_path / "docs.jsonl", lines)
    proc = _carr(tmp_path, "corpus", "build", str(src), "-o", str(tmp_path / "index"))
    assert "Traceback" not in proc.stderr
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 1, err
    for number, reason in [(5, "invalid JSON"), (6, "invalid JSON (nested too deeply)"),
                           (7, "'text' holds a lone surrogate"),
                           (8, "invalid JSON")]:
        assert f"line {number}: {reason}" in err, err


# -- run ------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_run_refuses_an_empty_question_without_leaving_a_thread(tmp_path, question) -> None:
    proc = _carr(tmp_path, "run", question, "--model", "scripted:/nonexistent.json")
    assert proc.returncode == 2
    assert "question is empty" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "checkpoints.sqlite").exists()


def test_resuming_a_thread_that_cannot_go_on_says_so_without_a_resume_hint(tmp_path) -> None:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from carr_agent.errors import ConfigError
    from carr_agent.graph import build_agent
    from carr_agent.models.scripted import ScriptedChatModel
    from carr_agent.tools.corpus import CorpusIndex

    index = CorpusIndex.build(write_corpus(tmp_path / "docs.jsonl"), tmp_path / "index")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["an answer"]))
    db = tmp_path / "cp.sqlite"
    conn = sqlite3.connect(db, check_same_thread=False)
    agent = build_agent(ScriptedChatModel(["an answer"]), search=index, fetcher=index,
                        checkpointer=SqliteSaver(conn))
    with pytest.raises(ConfigError):  # a thread left behind by an empty question (older versions)
        agent.invoke({"question": ""}, {"configurable": {"thread_id": "t-empty"}})
    conn.close()
    proc = _carr(tmp_path, "run", "--resume", "t-empty", "--checkpoint-db", str(db),
                 "--model", f"scripted:{script}", "--corpus", str(tmp_path / "index"))
    assert proc.returncode == 1, proc.stderr
    assert "cannot go on" in proc.stderr and "--resume" not in proc.stderr


@pytest.mark.parametrize("where", ["output", "input"])
def test_score_names_an_unusable_path_instead_of_a_traceback(tmp_path, where) -> None:
    src, out = SAMPLE_REQUESTS, tmp_path / "out.jsonl"
    if where == "output":
        out = tmp_path  # a directory
    else:
        src = tmp_path / "unreadable.jsonl"
        src.write_text(GOOD[0] + "\n")
        src.chmod(0)
        if os.access(src, os.R_OK):  # root reads anything
            pytest.skip("running as root: the file stays readable")
    proc = _carr(tmp_path, "score", str(src), "-o", str(out))
    assert proc.returncode == 2 and "error:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_eval_names_a_store_path_that_cannot_be_created(tmp_path) -> None:
    from tests.eval_support import river_task, write_jsonl, write_world

    tasks = write_jsonl(tmp_path / "tasks.jsonl", [river_task()])
    corpus, script = write_world(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = _carr(tmp_path, "eval", str(tasks), "--store", str(blocker / "r.sqlite"),
                 "--model", f"scripted:{script}", "--corpus", str(corpus))
    assert proc.returncode == 2 and "error:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_corpus_pages_at_ipv6_literals_and_odd_ports_build_and_open(tmp_path) -> None:
    docs = [{"url": "https://[2001:db8::1]/c", "title": "IPv6 page", "text": "an IPv6 literal host"},
            {"url": "http://example.org:8080/p", "title": "Port page", "text": "a non-default port"},
            {"url": "http://example.org:99999/q", "title": "Bad port", "text": "a port out of range"}]
    src = _write(tmp_path / "docs.jsonl", [json.dumps(d).encode() for d in docs])
    built = _carr(tmp_path, "corpus", "build", str(src), "-o", str(tmp_path / "ix"))
    assert built.returncode == 0, built.stderr
    for url, text in [("http://[2001:DB8::1]/c/", "IPv6 literal"), ("https://example.org:8080/p", "non-default"),
                      ("http://example.org:99999/q", "out of range")]:
        opened = _carr(tmp_path, "corpus", "open", str(tmp_path / "ix"), url)
        assert opened.returncode == 0 and text in opened.stdout, (url, opened.stderr)


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"[" * 100_000, b"[1" + b"0" * 5000 + b"]",
                                     b"{not json", b"[]", b'[{"tool_calls": 5}]'])
def test_run_with_a_broken_script_file_is_a_named_error(tmp_path, content) -> None:
    script = tmp_path / "script.json"
    script.write_bytes(content)
    proc = _carr(tmp_path, "run", "a question", "--model", f"scripted:{script}", "--no-checkpoint")
    assert proc.returncode == 2, proc.stderr
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_run_prints_and_writes_an_answer_holding_a_lone_surrogate(tmp_path) -> None:
    from carr_agent.tools.corpus import CorpusIndex

    CorpusIndex.build(write_corpus(tmp_path / "docs.jsonl"), tmp_path / "ix")
    answer = "## Explanation with Citations\nX \ud800 [1](https://x.org/a)\n\n## Exact Answer\nX \ud800"
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"tool_calls": [{"name": "search", "args": {"query": "UFC"}}]},
                                  answer]))
    out = tmp_path / "t.json"
    proc = _carr(tmp_path, "run", "a question", "--model", f"scripted:{script}", "--corpus",
                 str(tmp_path / "ix"), "--no-checkpoint", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text(encoding="utf-8"))["answer"]["exact_answer"] == "X \ud800"
