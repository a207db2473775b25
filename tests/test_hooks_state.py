"""score_state / add_carr_reward on user-built LangGraph apps (real graphs, scripted model)."""

from __future__ import annotations

import itertools
import operator
import runpy
from pathlib import Path
from typing import Annotated

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt

from carr_agent.errors import ConfigError, JudgeError
from carr_agent.rewards.hooks import (
    CarrRewardState,
    add_carr_reward,
    ascore_state,
    carr_reward_node,
    messages_to_history,
    score_state,
)
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.scorer import CarrScorer, ScoreOptions
from carr_agent.tools.render import render_page, render_search
from carr_agent.types import Hit
from carr_agent.urls import source_id
from tests._carr_fixture import sample, sample_task_dict


def scorer() -> CarrScorer:
    return CarrScorer(DeterministicJudge(), ScoreOptions(alpha=0.3))


def ledger_record(page, kind="open"):
    return {"source_id": source_id(page.url), "url": page.url, "title": page.title, "kind": kind,
            "step": 1, "text": page.text, "start": 0, "end": len(page.text)}


def test_score_state_uses_the_state_ledger():
    state = {"messages": [HumanMessage(sample.QUESTION), AIMessage(sample.CITED)],
             "ledger": [ledger_record(sample.MAREK), ledger_record(sample.BRASTOW)]}
    result = score_state(state, sample_task_dict(), scorer())
    assert result.reward == pytest.approx(1.0)
    assert [s.score for s in result.rubric_scores] == [1, 1, 1, 1]


async def test_score_state_reads_ledger_records_from_tool_artifacts():
    messages = [
        HumanMessage(sample.QUESTION),
        AIMessage("", tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "c1"}]),
        ToolMessage("two pages", tool_call_id="c1",
                    artifact=[ledger_record(sample.MAREK), ledger_record(sample.BRASTOW)]),
        AIMessage(sample.CITED),
    ]
    result = await ascore_state({"messages": messages}, sample_task_dict(), scorer())
    assert result.rubric_reward == pytest.approx(1.0)


async def test_score_state_parses_reference_format_tool_outputs_without_ledger():
    messages = [
        HumanMessage(sample.QUESTION),
        AIMessage("", tool_calls=[{"name": "open", "args": {"id": sample.MAREK.url}, "id": "c1"}]),
        ToolMessage(render_page(sample.MAREK)[0], tool_call_id="c1"),
        AIMessage("", tool_calls=[{"name": "open", "args": {"id": sample.BRASTOW.url}, "id": "c2"}]),
        ToolMessage(render_page(sample.BRASTOW)[0], tool_call_id="c2"),
        AIMessage(sample.CITED),
    ]
    result = await ascore_state({"messages": messages}, sample_task_dict(), scorer())
    assert result.reward == pytest.approx(1.0)


async def test_uncited_pages_do_not_support_rubrics():
    messages = [HumanMessage(sample.QUESTION), AIMessage(sample.UNCITED)]
    state = {"messages": messages, "ledger": [ledger_record(sample.MAREK)]}
    result = await ascore_state(state, sample_task_dict(), scorer())
    assert result.outcome_reward == 1.0 and result.rubric_reward == 0.0


async def test_state_without_final_answer_scores_zero():
    messages = [HumanMessage("q"), AIMessage("", tool_calls=[{"name": "search", "args": {}, "id": "c"}])]
    result = await ascore_state({"messages": messages}, sample_task_dict(), scorer())
    assert (result.reward, result.outcome_reward, result.rubric_reward) == (0.0, 0.0, 0.0)


def test_trl_style_tool_messages_are_matched_to_calls_by_name():
    history = messages_to_history([
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "search", "arguments": {"query": "a"}}},
            {"type": "function", "function": {"name": "open", "arguments": {"id": 0}}}]},
        {"role": "tool", "name": "open", "content": "page"},
        {"role": "tool", "name": "search", "content": "hits"},
    ])
    calls = {c["name"]: c["tool_call_id"] for c in history[0]["tool_calls"]}
    outputs = {m["content"][0]["output"]: m["content"][0]["tool_call_id"] for m in history[1:]}
    assert outputs == {"page": calls["browser.open"], "hits": calls["browser.search"]}


# ---------------------------------------------------------------- a user's own graph


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


def script():
    """Search, open hit 0, open the Brastow page by URL, then answer (fresh objects each turn)."""
    yield AIMessage("", tool_calls=[{"name": "search", "args": {"query": "Silver Lantern"}, "id": "c1"}])
    yield AIMessage("", tool_calls=[{"name": "open", "args": {"id": "0"}, "id": "c2"}])
    yield AIMessage("", tool_calls=[{"name": "open", "args": {"id": sample.BRASTOW.url}, "id": "c3"}])
    yield AIMessage(sample.CITED)


PAGES = {sample.MAREK.url: sample.MAREK, sample.BRASTOW.url: sample.BRASTOW}
HITS = [Hit(url=sample.MAREK.url, title=sample.MAREK.title, snippet="Anton Marek, composer.")]


@tool
def search(query: str) -> str:
    """Search the fictional web."""
    return render_search(HITS)


@tool("open")
def open_page(id: str) -> str:
    """Open a search hit by index or a page by URL."""
    page = PAGES.get(id) or PAGES[HITS[int(id)].url]
    return render_page(page)[0]


class UserState(MessagesState, CarrRewardState):
    pass


def user_builder(model, sync=False) -> StateGraph:
    async def agent(state):
        return {"messages": [await model.ainvoke(state["messages"])]}

    def sync_agent(state):
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(UserState)
    builder.add_node("agent", sync_agent if sync else agent)
    builder.add_node("tools", ToolNode([search, open_page]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder


async def test_add_carr_reward_scores_a_user_graph_routed_by_tools_condition():
    builder = user_builder(ScriptedModel(messages=script()))
    graph = add_carr_reward(builder, scorer=scorer()).compile()
    out = await graph.ainvoke({"messages": [HumanMessage(sample.PROMPT)], "task": sample_task_dict()})
    assert out["reward"] == pytest.approx(1.0)
    assert out["carr"]["outcome_reward"] == 1.0
    assert set(out["carr"]["rubric_scores"]) == {"0", "1", "2", "3"}
    assert out["carr"]["rubric_scores"]["1"]["filled_rubric"] == "Anton Marek was born in Brastow."


async def test_add_carr_reward_redirects_plain_edges_to_end_with_a_fixed_task():
    async def answer(state):
        return {"messages": [AIMessage(sample.UNCITED)]}

    builder = StateGraph(UserState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    graph = add_carr_reward(builder, scorer=scorer(), task=sample_task_dict()).compile()
    out = await graph.ainvoke({"messages": [HumanMessage(sample.PROMPT)]})
    assert out["reward"] == pytest.approx(0.7)


async def test_add_carr_reward_extends_a_state_schema_without_the_reward_keys():
    async def answer(state):
        return {"messages": [AIMessage(sample.UNCITED)]}

    builder = StateGraph(MessagesState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    graph = add_carr_reward(builder, scorer=scorer(), task=sample_task_dict()).compile()
    out = await graph.ainvoke({"messages": [HumanMessage(sample.PROMPT)]})
    assert out["reward"] == pytest.approx(0.7) and len(out["messages"]) == 2


def test_add_carr_reward_scores_a_pydantic_state_graph():
    from pydantic import BaseModel

    class PydanticState(BaseModel):
        messages: Annotated[list[AnyMessage], add_messages] = []

    def answer(state):
        return {"messages": [AIMessage(sample.UNCITED)]}

    builder = StateGraph(PydanticState)
    builder.add_node("a", answer)
    builder.add_edge(START, "a")
    builder.add_edge("a", END)
    graph = add_carr_reward(builder, scorer=scorer(), task=sample_task_dict()).compile()
    out = graph.invoke({"messages": [HumanMessage(sample.PROMPT)]})
    assert out["reward"] == pytest.approx(0.7) and len(out["messages"]) == 2


def test_add_carr_reward_graph_runs_with_sync_invoke():
    """A user's `graph.invoke(...)` works (the scoring node has a sync path, like ToolNode)."""
    builder = user_builder(ScriptedModel(messages=script()), sync=True)
    graph = add_carr_reward(builder, scorer=scorer()).compile()
    out = graph.invoke({"messages": [HumanMessage(sample.PROMPT)], "task": sample_task_dict()})
    assert out["reward"] == pytest.approx(1.0)
    assert out["carr"]["errors"] == []


async def test_add_carr_reward_accepts_a_compiled_graph_and_keeps_its_reducers():
    """The user's graph as a subgraph: an `operator.add` list is not doubled, thread state carries on."""

    class LogState(MessagesState):
        log: Annotated[list[str], operator.add]

    def answer(state):
        return {"messages": [AIMessage(sample.UNCITED)], "log": ["answered"]}

    builder = StateGraph(LogState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    graph = add_carr_reward(builder.compile(), scorer=scorer(), task=sample_task_dict()).compile(
        checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    first = await graph.ainvoke({"messages": [HumanMessage(sample.PROMPT)], "log": ["start"]}, config)
    assert first["log"] == ["start", "answered"] and first["reward"] == pytest.approx(0.7)
    second = await graph.ainvoke({"messages": [HumanMessage("again")]}, config)
    assert second["log"] == ["start", "answered", "answered"]
    assert [m.type for m in second["messages"]] == ["human", "ai", "human", "ai"]


def test_add_carr_reward_resumes_a_user_graph_after_an_interrupt():
    def ask(state):
        approved = interrupt("answer now?")
        return {"messages": [AIMessage(sample.UNCITED if approved else "no")]}

    builder = StateGraph(UserState)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = add_carr_reward(builder, scorer=scorer(), task=sample_task_dict()).compile(
        checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    paused = graph.invoke({"messages": [HumanMessage(sample.PROMPT)]}, config)
    assert "reward" not in paused and paused["__interrupt__"][0].value == "answer now?"
    out = graph.invoke(Command(resume=True), config)
    assert out["reward"] == pytest.approx(0.7)


def test_add_carr_reward_graph_has_json_schemas_with_the_reward_keys():
    graph = add_carr_reward(user_builder(ScriptedModel(messages=script())), scorer=scorer()).compile()
    assert {"messages", "task"} <= set(graph.get_input_jsonschema()["properties"])
    assert {"messages", "reward", "carr"} <= set(graph.get_output_jsonschema()["properties"])


async def test_add_carr_reward_works_on_this_projects_agent_graph():
    from carr_agent.graph import build_agent_graph
    from carr_agent.models.scripted import ScriptedChatModel
    from carr_agent.tools.browser import Browser

    class Pages:
        def search(self, query, k=10):
            return [Hit(url=p.url, title=p.title, snippet=p.text[:60]) for p in PAGES.values()]

        def fetch(self, url):
            return PAGES[url]

    model = ScriptedChatModel([
        {"tool_calls": [{"name": "open", "args": {"id_or_url": sample.MAREK.url}}]},
        {"tool_calls": [{"name": "open", "args": {"id_or_url": sample.BRASTOW.url}}]},
        sample.CITED,
    ])
    builder = build_agent_graph(model, browser=Browser(search=Pages(), fetcher=Pages()))
    graph = add_carr_reward(builder, scorer=scorer(), task=sample_task_dict()).compile()
    out = await graph.ainvoke({"question": sample.QUESTION})
    assert out["ledger"], "the agent records its evidence"
    assert out["reward"] == pytest.approx(1.0), out["carr"]


class BrokenJudge(DeterministicJudge):
    async def judge_outcome(self, *args, **kwargs):
        raise JudgeError("judge unreachable")


async def test_reward_node_reports_a_failed_judge_as_unknown_not_zero():
    node = carr_reward_node(CarrScorer(BrokenJudge()), task=sample_task_dict())
    state = {"messages": [HumanMessage("q"), AIMessage(sample.CITED)],
             "ledger": [ledger_record(sample.MAREK)]}
    out = await node.ainvoke(state)
    assert out["reward"] is None
    assert any("judge unreachable" in e for e in out["carr"]["errors"])


async def test_reward_node_names_a_missing_task():
    node = carr_reward_node(scorer())
    with pytest.raises(Exception, match="no 'task'"):
        await node.ainvoke({"messages": [AIMessage(sample.CITED)]})


def test_script_yields_fresh_messages():
    first, second = itertools.islice(script(), 2)
    assert first is not second


async def test_add_reward_node_takes_the_task_from_state_with_a_getter():
    from carr_agent.rewards.hooks import add_reward_node

    async def answer(state):
        return {"messages": [AIMessage(sample.UNCITED)]}

    builder = StateGraph(UserState)
    builder.add_node("answer", answer)
    builder.set_entry_point("answer")
    builder.set_finish_point("answer")
    graph = add_reward_node(builder, scorer=scorer(),
                            task_from_state=lambda state: sample_task_dict()).compile()
    out = await graph.ainvoke({"messages": [HumanMessage(sample.PROMPT)]})
    assert out["reward"] == pytest.approx(0.7)


async def test_sync_score_state_inside_an_event_loop_says_to_await_the_async_one():
    with pytest.raises(RuntimeError, match="ascore_state"):
        score_state({"messages": [AIMessage(sample.CITED)]}, sample_task_dict(), scorer())


async def test_after_limits_scoring_to_runs_that_end_at_that_node():
    async def route(state):
        return {}

    async def answer(state):
        return {"messages": [AIMessage(sample.UNCITED)]}

    async def give_up(state):
        return {"messages": [AIMessage("I could not find it.")]}

    def pick(state) -> str:
        return "answer" if "river" in state["messages"][0].content else "give_up"

    builder = StateGraph(UserState)
    builder.add_node("route", route)
    builder.add_node("answer", answer)
    builder.add_node("give_up", give_up)
    builder.add_edge(START, "route")
    builder.add_conditional_edges("route", pick, ["answer", "give_up"])
    builder.add_edge("answer", END)
    builder.add_edge("give_up", END)
    graph = add_carr_reward(builder, scorer=scorer(), task=sample_task_dict(), after="answer").compile()
    scored = await graph.ainvoke({"messages": [HumanMessage("which river?")]})
    unscored = await graph.ainvoke({"messages": [HumanMessage("which town?")]})
    assert scored["reward"] == pytest.approx(0.7)
    assert "reward" not in unscored
    with pytest.raises(ConfigError, match="no such node"):
        add_carr_reward(StateGraph(UserState), scorer=scorer(), task=sample_task_dict(), after="x")


def wiki_graph(wiki_tool):
    """A user graph whose only tool is `wiki_lookup`; the model looks up both pages, then answers."""
    calls = [AIMessage("", tool_calls=[{"name": "wiki_lookup", "args": {"title": t}, "id": f"w{i}"}])
             for i, t in enumerate(("Anton Marek", "Brastow"))]
    model = ScriptedModel(messages=iter([*calls, AIMessage(sample.CITED)]))

    def agent(state):
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(UserState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([wiki_tool]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return add_carr_reward(builder, scorer=scorer()).compile()


WIKI = {"Anton Marek": sample.MAREK, "Brastow": sample.BRASTOW}


def test_a_plain_text_tool_is_named_in_the_result_as_ignored():
    @tool
    def wiki_lookup(title: str) -> str:
        """Look a title up in the wiki."""
        return WIKI[title].text

    out = wiki_graph(wiki_lookup).invoke({"messages": [HumanMessage(sample.PROMPT)],
                                          "task": sample_task_dict()})
    assert out["carr"]["rubric_reward"] == 0.0
    assert out["carr"]["errors"] == [
        "2 tool results ignored: tool 'wiki_lookup' is not a browsing tool and has no ledger artifact"]


def test_a_content_and_artifact_tool_returning_url_and_text_counts_as_evidence():
    @tool(response_format="content_and_artifact")
    def wiki_lookup(title: str) -> tuple[str, dict]:
        """Look a title up in the wiki."""
        page = WIKI[title]
        return page.text, {"url": page.url, "text": page.text}

    out = wiki_graph(wiki_lookup).invoke({"messages": [HumanMessage(sample.PROMPT)],
                                          "task": sample_task_dict()})
    assert out["reward"] == pytest.approx(1.0)
    assert out["carr"]["errors"] == []


def test_the_attach_example_scores_its_graph_with_sync_invoke():
    example = runpy.run_path(str(Path(__file__).parents[1] / "examples" / "attach_carr_to_your_graph.py"))
    graph = example["build_graph"](scorer())
    final = graph.invoke({"messages": [HumanMessage(example["TASK"].question)], "task": example["TASK"]})
    assert final["reward"] == pytest.approx(1.0) and final["carr"]["errors"] == []
