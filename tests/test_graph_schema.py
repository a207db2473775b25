"""The agent's state schemas are readable by LangGraph's own tools (JSON schemas for Studio)."""

from __future__ import annotations

from carr_agent.graph import build_agent
from carr_agent.models.scripted import ScriptedChatModel


def agent():
    return build_agent(ScriptedChatModel(["done"]))


def test_agent_input_jsonschema_offers_question_and_messages():
    schema = agent().get_input_jsonschema()
    assert schema["title"] == "AgentInput"
    assert schema["properties"]["question"] == {"title": "Question", "type": "string"}
    assert schema["properties"]["messages"]["type"] == "array"


def test_agent_output_jsonschema_describes_the_ledger_and_answer():
    schema = agent().get_output_jsonschema()
    props = schema["properties"]
    assert {"messages", "ledger", "answer", "finish_reason", "tool_calls"} <= set(props)
    record = schema["$defs"]["LedgerRecord"]
    assert {"source_id", "url", "text", "start", "end"} <= set(record["required"])
    assert set(props["finish_reason"]["anyOf"][0]["enum"]) == {"answered", "tool_budget",
                                                               "context_budget"}
