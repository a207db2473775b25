"""Trajectories as JSON and as the reference ``history`` the reward server scores."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from carr_agent.graph import (
    build_agent,
    messages_from_trajectory,
    to_reference_history,
    trajectory_to_dict,
)
from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.types import Hit, Page
from tests.graph_support import DictFetcher, ListSearch

URL = "https://example.org/voyager"
PAGE = Page(url=URL, title="Voyager", text="Carl Sagan chaired the committee that chose the record.")
ANSWER = (f"## Explanation with Citations\nSagan chaired it [1]({URL}).\n\n"
          f"## Exact Answer\nCarl Sagan\n\n## References\n[1] {URL}")


def finished_state() -> dict:
    model = ScriptedChatModel([
        {"tool_calls": [{"name": "search", "args": {"query": "golden record committee", "num": 3}}]},
        {"tool_calls": [{"name": "open", "args": {"id_or_url": 0}},
                        {"name": "find", "args": {"pattern": "chaired"}}],
         "invalid_tool_calls": [{"name": "find", "args": "{broken", "error": "not JSON"}]},
        ANSWER,
    ])
    agent = build_agent(model, search=ListSearch([Hit(url=URL, title="Voyager", snippet="record")]),
                        fetcher=DictFetcher([PAGE]))
    return agent.invoke({"question": "Who chaired the committee?"})


def test_trajectory_is_json_with_the_ledger_and_round_trips_its_messages() -> None:
    state = finished_state()
    data = json.loads(json.dumps(trajectory_to_dict(state)))

    assert data["question"] == "Who chaired the committee?"
    assert data["ledger"] == [dict(r) for r in state["ledger"]] and len(data["ledger"]) == 3
    assert data["answer"]["exact_answer"] == "Carl Sagan" and data["finish_reason"] == "answered"
    messages = messages_from_trajectory(data)
    assert [type(m) for m in messages] == [type(m) for m in state["messages"]]
    assert messages[2].artifact == state["messages"][2].artifact  # ledger records survive


def test_reference_history_uses_browser_tool_names_and_json_arguments() -> None:
    history = to_reference_history(finished_state()["messages"])

    assert [h["role"] for h in history] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    calls = history[3]["tool_calls"]
    assert [c["name"] for c in calls] == ["browser.open", "browser.find"]  # malformed call left out
    assert [json.loads(c["arguments"]) for c in calls] == [{"id": 0}, {"pattern": "chaired"}]
    assert json.loads(history[1]["tool_calls"][0]["arguments"]) == {"query": "golden record committee",
                                                                     "num": 3}
    outputs = history[4]["content"]  # one tool turn holding both outputs, the error dropped
    assert [o["tool_call_id"] for o in outputs] == [c["tool_call_id"] for c in calls]
    assert outputs[0]["output"].startswith("Title: Voyager\nURL Source: " + URL)
    assert history[-1] == {"role": "assistant", "content": ANSWER}


def test_reference_history_is_scorable_by_the_rewards_history_parser() -> None:
    from carr_agent.rewards.run import read_history

    trajectory = read_history(to_reference_history(finished_state()["messages"]))
    records, final = trajectory.ledger, trajectory.answer

    assert final == ANSWER
    assert {r["kind"] for r in records} == {"search", "open", "find"}
    assert any("Carl Sagan chaired" in r["text"] for r in records if r["kind"] == "open")


def test_reference_history_skips_system_messages_and_keeps_reasoning() -> None:
    from langchain_core.messages import SystemMessage

    history = to_reference_history([
        SystemMessage("sys"), HumanMessage("q"),
        AIMessage("", additional_kwargs={"reasoning_content": "thinking"},
                  tool_calls=[{"name": "my_tool", "args": {"a": 1}, "id": "x"}]),
        ToolMessage("out", tool_call_id="x"),
    ])
    assert history[0] == {"role": "user", "content": "q"}
    assert history[1]["reasoning_content"] == "thinking"
    assert history[1]["tool_calls"][0]["name"] == "my_tool"
    assert history[2] == {"role": "tool", "content": [{"tool_call_id": "x", "output": "out"}]}
