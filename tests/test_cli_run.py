"""`carr-agent run` end to end in-process (typer's CliRunner): scripted model, real corpus index,
real SQLite, a real OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from carr_agent.tools.corpus import CorpusIndex
from tests.cli_support import CliResult, run_cli
from tests.fake_openai import FakeOpenAIServer
from tests.graph_support import ANSWER, UFC_URL, write_corpus

SCRIPT = [
    {"tool_calls": [{"name": "search", "args": {"query": "Cyborg Holm featherweight event"}}]},
    {"tool_calls": [{"name": "open", "args": {"id_or_url": UFC_URL}},
                    {"name": "find", "args": {"pattern": "referee of the main event"}}]},
    {"tool_calls": [{"name": "open", "args": {"id_or_url": "https://example.org/herb-dean"}}]},
    ANSWER,
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-corpus")
    CorpusIndex.build(write_corpus(root / "docs.jsonl"), root / "index")
    return root / "index"


def carr(*args: str, cwd: Path) -> CliResult:
    return run_cli(*args, cwd=cwd, env={"CARR_AGENT_DATA": str(cwd / "data")})


def write_script(path: Path, turns: list) -> str:
    path.write_text(json.dumps(turns), encoding="utf-8")
    return f"scripted:{path}"


def test_run_prints_steps_a_cited_answer_and_writes_the_trajectory(index: Path, tmp_path: Path) -> None:
    model = write_script(tmp_path / "script.json", SCRIPT)
    out = tmp_path / "runs" / "trajectory.json"

    proc = carr("run", "Which event, and who refereed it?", "--model", model, "--corpus", str(index),
                "--output", str(out), cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    stdout = proc.stdout
    assert re.search(r"thread [0-9a-f]{12} \(resume with --resume [0-9a-f]{12}\)", stdout)
    assert '→ search {"query": "Cyborg Holm featherweight event"}' in stdout
    assert "[0] Title: " in stdout and "[Match 1]" in stdout  # observation previews
    assert f"UFC 219 [1]({UFC_URL})" in stdout  # the answer, citations inline
    assert "seen" in stdout and "UNSEEN" in stdout and "https://never-opened.example.com/page" in stdout
    assert "unseen citations: 1" in stdout
    data = json.loads(out.read_text())
    assert data["question"] == "Which event, and who refereed it?"
    assert {r["kind"] for r in data["ledger"]} == {"search", "open", "find"}
    assert data["answer"]["unseen"] == ["https://never-opened.example.com/page"]
    assert (tmp_path / "data" / "checkpoints.sqlite").is_file()  # checkpointed by default


@pytest.mark.parametrize("durability", ["step", "exit"])
def test_an_interrupted_run_resumes_with_its_thread_id(index: Path, tmp_path: Path,
                                                       durability: str) -> None:
    script = tmp_path / "script.json"
    db = tmp_path / "cp.sqlite"
    failing = write_script(script, [*SCRIPT[:2], {"raise": "simulated model crash"}])

    first = carr("run", "Which event?", "--model", failing, "--corpus", str(index),
                 "--checkpoint-db", str(db), "--durability", durability, cwd=tmp_path)

    assert first.returncode == 1
    assert "run interrupted: ModelError: scripted failure at turn 2: simulated model crash" in first.stderr
    thread = re.search(r"--resume ([0-9a-f]{12})", first.stderr).group(1)

    write_script(script, SCRIPT)  # the same file, now without the crash
    out = tmp_path / "t.json"
    # Defect: the printed hint dropped --model/--corpus/--max-tool-calls; the run's options are
    # now kept with its checkpoints, so the hint as printed resumes under the same settings.
    hint = re.search(r"continue it with: carr-agent run (--resume \S+ --checkpoint-db \S+)",
                     first.stderr).group(1).split()
    second = carr("run", *hint, "--output", str(out), cwd=tmp_path)

    assert second.returncode == 0, second.stderr
    assert "resuming with the run's options" in second.stdout and str(index) in second.stdout
    assert f"resuming thread {thread} (3 tool calls so far)" in second.stdout
    assert "→ search" not in second.stdout  # earlier calls not redone
    data = json.loads(out.read_text())
    assert data["thread_id"] == thread and data["tool_calls"] == 4
    calls = [c["name"] for m in data["messages"] if m["type"] == "ai" for c in m["data"]["tool_calls"]]
    assert calls == ["search", "open", "find", "open"]


def cli(*args: str, env: dict[str, str] | None = None):
    """In-process run of the CLI (for the quick usage-error checks)."""
    from typer.testing import CliRunner

    from carr_agent.cli import _register, app

    _register()
    return CliRunner().invoke(app, list(args), env=env)


def test_usage_errors_exit_2_with_a_clear_message(index: Path, tmp_path: Path) -> None:
    no_question = cli("run", "--corpus", str(index))
    assert no_question.exit_code == 2 and "give a QUESTION" in no_question.output

    both = cli("run", "--web", "--corpus", str(index), "q")
    assert both.exit_code == 2 and "--web and --corpus are alternatives" in both.output

    missing_script = cli("run", "q", "--model", f"scripted:{tmp_path / 'nope.json'}",
                         "--corpus", str(index))
    assert missing_script.exit_code == 2 and "script file not found" in missing_script.output

    (tmp_path / "bad.json").write_text('[{"tool_calls": [{"args": {}}]}]')
    bad_script = cli("run", "q", "--model", f"scripted:{tmp_path / 'bad.json'}", "--corpus", str(index))
    assert bad_script.exit_code == 2 and "script turn 0, tool call 0" in bad_script.output

    unknown_model = cli("run", "q", "--model", "no-such-model", "--corpus", str(index))
    assert unknown_model.exit_code == 2
    assert "unknown local model 'no-such-model'" in unknown_model.output
    assert "--base-url" in unknown_model.output

    model = write_script(tmp_path / "s.json", SCRIPT)
    unknown_thread = cli("run", "--resume", "feedbeef", "--model", model, "--corpus", str(index),
                         "--checkpoint-db", str(tmp_path / "empty.sqlite"))
    assert unknown_thread.exit_code == 2
    assert "no checkpointed run with thread id 'feedbeef'" in unknown_thread.output


def test_web_mode_wires_the_web_backends(tmp_path: Path) -> None:
    """--web builds DuckDuckGo search + the guarded HTTP fetcher (no call made: the model answers)."""
    model = write_script(tmp_path / "s.json", ["## Exact Answer\nnothing looked up"])
    result = cli("run", "q", "--web", "--model", model, "--no-checkpoint")
    assert result.exit_code == 0, result.output
    assert "nothing looked up" in result.output and "the answer cites no sources" in result.output


def test_a_missing_local_model_prints_the_install_command(monkeypatch, index: Path, tmp_path: Path) -> None:
    """The loader's ModelError (weights not installed) reaches the user with exit code 2."""
    import carr_agent.models.offline as offline
    from carr_agent.errors import ModelError

    def not_installed(name: str = "qwen2.5-0.5b", **_: object):
        raise ModelError(f"the weights of {name!r} are not installed. Install them with:  "
                         f"carr-agent models install {name}")

    monkeypatch.setattr(offline, "load_local_chat_model", not_installed)
    monkeypatch.setattr(offline, "load_llama_chat_model", not_installed)
    result = cli("run", "q", "--corpus", str(index))

    assert result.exit_code == 2
    assert "carr-agent models install qwen2.5-0.5b" in result.output


def _call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_run_against_an_openai_compatible_server(index: Path, tmp_path: Path) -> None:
    server = FakeOpenAIServer([
        {"content": None, "tool_calls": [_call("call_a", "search", '{"query": "Herb Dean referee"}')]},
        {"content": None, "tool_calls": [_call("call_b", "open", '{"id_or_url": ')]},  # broken JSON
        {"content": None, "tool_calls": [_call("call_c", "open", '{"id_or_url": "https://example.org/herb-dean"}')]},
        {"content": "## Explanation with Citations\nHerb Dean [1](https://example.org/herb-dean).\n\n"
                    "## Exact Answer\nHerb Dean\n\n## References\n[1] https://example.org/herb-dean"},
    ], usage=lambda n: (100 * (n + 1), 10))
    out = tmp_path / "t.json"
    with server:
        proc = carr("run", "Who refereed?", "--model", "test-model", "--base-url", server.url,
                    "--corpus", str(index), "--output", str(out), "--no-checkpoint", cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    assert "→ malformed call open" in proc.stdout and "could not be read" in proc.stdout
    first, second, *_ = server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["search", "open", "find"]
    assert first["tool_choice"] == {"type": "function", "function": {"name": "search"}}
    assert "tool_choice" not in second  # one call made: the model may now answer
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["tool_call_id"] == "call_a"
    # the malformed call went back to the server paired with its error observation
    third = server.requests[2]["messages"]
    assert [c["id"] for c in third[-2]["tool_calls"]] == ["call_b"]
    assert third[-1]["tool_call_id"] == "call_b" and "could not be read" in third[-1]["content"]
    data = json.loads(out.read_text())
    assert data["answer"]["exact_answer"] == "Herb Dean" and data["answer"]["unseen"] == []
    assert data["tool_calls"] == 3 and data["ledger"][-1]["kind"] == "open"


def test_run_task_shows_the_gold_answer_citation_check_and_carr_breakdown(
        index: Path, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({
        "id": "ufc-1", "question": "Which event, and who refereed it?", "label": "UFC 219",
        "rubrics": ["<E0> was refereed by <E1>.", "<E1> is a referee."],
        "entities": {"E0": "UFC 219", "E1": "Herb Dean"},
    }) + "\n", encoding="utf-8")
    model = write_script(tmp_path / "script.json", SCRIPT)

    proc = carr("run", "--task", "ufc-1", "--tasks-file", str(tasks), "--model", model,
                "--corpus", str(index), "--no-checkpoint", cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "question Which event, and who refereed it?" in out
    assert "scored against task ufc-1 (DeterministicJudge)" in out
    assert "gold answer     UFC 219" in out and "→ correct" in out
    assert "1 never shown (UNSEEN)" in out
    assert "CaRR rubrics" in out and "UFC 219 was refereed by Herb Dean." in out
    assert re.search(r"outcome reward 1\.00 · rubric reward \d\.\d\d · CaRR reward \d\.\d\d", out)


def test_run_task_unknown_id_names_the_known_ones(tmp_path: Path) -> None:
    proc = carr("run", "--task", "no-such-task", "--model", "scripted:x.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no task 'no-such-task'" in proc.stderr and "vd-dev-001" in proc.stderr


def test_third_party_info_logs_are_silent_unless_verbose() -> None:
    """Defect: one httpx INFO block per judge call flooded `eval` output."""
    import logging

    from carr_agent.cli.app import configure_logging

    try:
        configure_logging(verbose=False)
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
        assert logging.getLogger("carr_agent.eval").isEnabledFor(logging.INFO)
        configure_logging(verbose=True)
        assert logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("carr_agent.eval").isEnabledFor(logging.DEBUG)
    finally:
        logging.getLogger("carr_agent").setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.WARNING)


def test_concurrency_is_dash_j_everywhere_and_dash_c_only_means_config() -> None:
    """Defect: `score -c 8` was concurrency while `train -c FILE` was the config file."""
    import click
    import typer

    from carr_agent.cli import _register, app

    _register()
    root = typer.main.get_command(app)
    seen: dict[str, set[str]] = {}

    def walk(cmd: click.Command, path: str) -> None:
        for p in getattr(cmd, "params", []):
            for opt in getattr(p, "opts", []):
                seen.setdefault(opt, set()).add(f"{path} {p.name}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "carr-agent")
    assert {s.split()[-1] for s in seen.get("-c", set())} <= {"config"}, seen.get("-c")
    assert {s.split()[-1] for s in seen.get("-j", set())} == {"concurrency"}
    assert {s.split()[-1] for s in seen.get("--concurrency", set())} == {"concurrency"}
