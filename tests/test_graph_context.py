"""Run-time configuration of the agent (LangGraph context) and the Studio entry (langgraph.json)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage

from carr_agent.errors import ConfigError
from carr_agent.graph import AgentConfig, AgentContext, build_agent
from carr_agent.tools.corpus import CorpusIndex
from tests.graph_support import ANSWER, UFC_URL, ToolFake, call, script, turn, write_corpus

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusIndex:
    root = tmp_path_factory.mktemp("corpus")
    return CorpusIndex.build(write_corpus(root / "docs.jsonl"), root / "index")


def agent_with(corpus: CorpusIndex, *turns, **kwargs):
    model = ToolFake(messages=script(*turns))
    return model, build_agent(model, search=corpus, fetcher=corpus, **kwargs)


def test_by_default_the_agent_must_search_before_answering(corpus: CorpusIndex) -> None:
    """Defect: build_agent defaulted min_tool_calls to 0 (the CLI to 1); the agent answered blind."""
    model, agent = agent_with(corpus, turn(call("search", query="UFC 219")), ANSWER)
    agent.invoke({"question": "q"})
    assert model.tool_choices == ["search", None]
    assert AgentConfig().min_tool_calls == 1 and AgentConfig(max_tool_calls=0).min_tool_calls == 0


def test_a_run_context_changes_the_budgets(corpus: CorpusIndex) -> None:
    turns = [turn(call("search", query="a")), turn(call("search", query="b")), ANSWER]
    _, agent = agent_with(corpus, *turns)
    state = agent.invoke({"question": "q"}, context={"max_tool_calls": 1, "min_tool_calls": 0})
    assert state["tool_calls"] == 1 and state["finish_reason"] == "tool_budget"


def test_a_run_context_changes_the_page_budget(corpus: CorpusIndex) -> None:
    _, agent = agent_with(corpus, turn(call("open", id_or_url=UFC_URL)), ANSWER)
    short = agent.invoke({"question": "q"}, context=AgentContext(page_budget=120))
    shown = next(m for m in short["messages"] if isinstance(m, ToolMessage))
    record = short["ledger"][0]
    assert len(record["text"]) <= 120 and record["text"] in shown.content
    _, agent = agent_with(corpus, turn(call("open", id_or_url=UFC_URL)), ANSWER)
    assert len(agent.invoke({"question": "q"})["ledger"][0]["text"]) > 120


def test_a_run_context_chooses_the_model_and_the_search_backend(corpus: CorpusIndex,
                                                                tmp_path: Path) -> None:
    script_file = tmp_path / "script.json"
    script_file.write_text(json.dumps([
        {"tool_calls": [{"name": "search", "args": {"query": "Holly Holm boxer"}}]}, ANSWER]))
    other = CorpusIndex.build(write_corpus(tmp_path / "docs.jsonl", [
        {"url": "https://other.example/holm", "title": "Holm", "text": "Holly Holm boxer."}]),
        tmp_path / "index")
    model, agent = agent_with(corpus)  # the graph's own model has no turns: it must not be asked
    state = agent.invoke({"question": "q"}, context={"model": f"scripted:{script_file}",
                                                     "search": str(other.index_dir)})
    assert model.requests == []
    assert [r["url"] for r in state["ledger"]] == ["https://other.example/holm"]


def test_an_unknown_context_key_is_rejected(corpus: CorpusIndex) -> None:
    _, agent = agent_with(corpus, ANSWER)
    with pytest.raises(TypeError, match="max_tools"):
        agent.invoke({"question": "q"}, context={"max_tools": 3})
    with pytest.raises(ConfigError, match="max_tools"):
        AgentContext.from_mapping({"max_tools": 3})


def load_langgraph_json_graph(name: str):
    """Import a graph the way `langgraph dev` does: langgraph.json's "path.py:attr"."""
    spec_text = json.loads((ROOT / "langgraph.json").read_text())["graphs"][name]
    path, attr = spec_text.rsplit(":", 1)
    spec = importlib.util.spec_from_file_location("studio_graph", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attr)


def test_langgraph_json_serves_the_agent_with_input_and_context_forms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script_file = tmp_path / "script.json"
    script_file.write_text(json.dumps([
        {"tool_calls": [{"name": "search", "args": {"query": "UFC 219"}}]}, ANSWER]))
    monkeypatch.setenv("CARR_AGENT_MODEL", f"scripted:{script_file}")
    monkeypatch.setenv("CARR_AGENT_SEARCH", str(write_corpus(tmp_path / "docs.jsonl")))
    monkeypatch.setenv("CARR_AGENT_CACHE", str(tmp_path / "cache"))
    graph = load_langgraph_json_graph("carr_agent")()
    assert {"question", "messages"} <= set(graph.get_input_jsonschema()["properties"])
    assert {"answer", "ledger"} <= set(graph.get_output_jsonschema()["properties"])
    context = graph.get_context_jsonschema()["properties"]
    assert {"model", "base_url", "search", "max_tool_calls", "page_budget"} <= set(context)
    state = graph.invoke({"question": "Which event?"})
    assert state["answer"]["exact_answer"] == "UFC 219" and state["ledger"]
