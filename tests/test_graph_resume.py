"""An interrupted run resumes from its SQLite checkpoint without redoing earlier tool calls."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from carr_agent.errors import ModelError
from carr_agent.graph import build_agent
from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.types import Hit, Page
from tests.graph_support import ListSearch, ToolFake, call, script, turn

PAGE = Page(url="https://example.org/a", title="A",
            text="Letters are old. " * 30 + "Alpha is the first letter of the Greek alphabet.")
ANSWER = "## Explanation with Citations\nAlpha [1](https://example.org/a).\n## Exact Answer\nAlpha\n## References\n"


class CountingFetcher:
    def __init__(self) -> None:
        self.calls = 0

    def fetch(self, url: str) -> Page:
        self.calls += 1
        return PAGE


def saver(path: Path) -> tuple[SqliteSaver, sqlite3.Connection]:
    conn = sqlite3.connect(path, check_same_thread=False)
    return SqliteSaver(conn), conn


def test_a_failed_model_call_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    search = ListSearch([Hit(url=PAGE.url, title="A", snippet="Alpha")])
    fetcher = CountingFetcher()
    turns = [turn(call("search", query="alpha")), turn(call("open", id_or_url=0)),
             turn(call("find", pattern="first")), ANSWER]
    model = ToolFake(messages=script(*turns), fail_on={2: ConnectionError("model server went away")})
    cp, conn = saver(tmp_path / "cp.sqlite")
    agent = build_agent(model, search=search, fetcher=fetcher, checkpointer=cp)
    config = {"configurable": {"thread_id": "t1"}}

    with pytest.raises(ConnectionError):
        agent.invoke({"question": "First letter?"}, config)
    interrupted = agent.get_state(config)
    assert interrupted.next == ("agent",) and interrupted.values["tool_calls"] == 2

    state = agent.invoke(None, config)  # same thread: continue

    assert search.queries == ["alpha"] and fetcher.calls == 1  # nothing redone
    assert state["tool_calls"] == 3 and state["answer"]["exact_answer"] == "Alpha"
    assert [r["kind"] for r in state["ledger"]] == ["search", "open", "find"]
    assert state["answer"]["citations"][0]["seen"]
    conn.close()


def test_a_new_process_can_resume_a_thread_from_the_database(tmp_path: Path) -> None:
    """A fresh checkpointer and model (as after a crash) pick the run up where it stopped."""
    db = tmp_path / "cp.sqlite"
    search = ListSearch([Hit(url=PAGE.url, title="A", snippet="Alpha")])
    fetcher = CountingFetcher()
    first = [{"tool_calls": [{"name": "search", "args": {"query": "alpha"}}]},
             {"tool_calls": [{"name": "open", "args": {"id_or_url": 0}}]},
             {"raise": "simulated crash"}]
    config = {"configurable": {"thread_id": "t2"}}

    cp, conn = saver(db)
    with pytest.raises(ModelError, match="simulated crash"):
        build_agent(ScriptedChatModel(first), search=search, fetcher=fetcher,
                    checkpointer=cp).invoke({"question": "First letter?"}, config)
    conn.close()

    cp, conn = saver(db)
    fixed = [*first[:2], ANSWER]
    agent = build_agent(ScriptedChatModel(fixed), search=search, fetcher=fetcher, checkpointer=cp)
    state = agent.invoke(None, config)
    conn.close()

    assert search.queries == ["alpha"] and fetcher.calls == 1
    assert state["answer"]["exact_answer"] == "Alpha" and state["open_page"]["url"] == PAGE.url
    assert [m.type for m in state["messages"]] == ["human", "ai", "tool", "ai", "tool", "ai"]


def test_checkpoints_grow_linearly_not_quadratically(tmp_path: Path) -> None:
    """Defect: every checkpoint stored the whole history again (52 MB after 100 steps).

    Each message, ledger record and page is now stored once (delta channels): the SQLite file of a
    run stays within 3x the run's own trajectory, and doubling the run about doubles the file.
    """
    from carr_agent.graph import trajectory_to_dict

    page = Page(url=PAGE.url, title="A", text="Letters are old and the alphabet is older. " * 100)

    class Fetcher:
        def fetch(self, url: str) -> Page:
            return page

    def run(steps: int) -> tuple[int, int]:
        search = ListSearch([Hit(url=f"https://example.org/{i}", title=f"Page {i}",
                                 snippet="About letters and alphabets. " * 4) for i in range(10)])
        turns = [turn(call("search", query=f"q{i}")) if i % 2 else turn(call("open", id_or_url=0))
                 for i in range(steps)]
        model = ToolFake(messages=script(*turns, ANSWER))
        path = tmp_path / f"cp{steps}.sqlite"
        cp, conn = saver(path)
        agent = build_agent(model, search=search, fetcher=Fetcher(), checkpointer=cp,
                            max_tool_calls=steps + 1)
        state = agent.invoke({"question": "First letter?"}, {"configurable": {"thread_id": "t"}})
        conn.close()
        assert state["tool_calls"] == steps
        return path.stat().st_size, len(json.dumps(trajectory_to_dict(state)))

    small, small_trajectory = run(20)
    large, large_trajectory = run(40)
    assert small <= 3 * small_trajectory and large <= 3 * large_trajectory, (small, large)
    assert large / small < 2.5, (small, large)


def test_state_after_resume_equals_the_state_of_an_uninterrupted_run(tmp_path: Path) -> None:
    """The delta channels rebuild the same messages, ledger and browsing state from the file."""
    turns = [turn(call("search", query="alpha")), turn(call("open", id_or_url=0)),
             turn(call("find", pattern="first")), ANSWER]
    search = ListSearch([Hit(url=PAGE.url, title="A", snippet="Alpha")])
    cp, conn = saver(tmp_path / "cp.sqlite")
    agent = build_agent(ToolFake(messages=script(*turns)), search=search, fetcher=CountingFetcher(),
                        checkpointer=cp)
    final = agent.invoke({"question": "First letter?"}, {"configurable": {"thread_id": "t"}})
    conn.close()
    cp2, conn2 = saver(tmp_path / "cp.sqlite")
    reread = build_agent(ToolFake(messages=iter([])), search=search, fetcher=CountingFetcher(),
                         checkpointer=cp2).get_state({"configurable": {"thread_id": "t"}}).values
    conn2.close()
    for key in ("messages", "ledger", "open_page", "latest_hits", "answer", "tool_calls"):
        assert reread[key] == final[key], key
