"""Malformed tool-output ids in reference histories are format errors, not crashes."""

from __future__ import annotations

import pytest

from carr_agent.errors import HistoryFormatError
from carr_agent.rewards.history import parse_history


def _history(call_id: object) -> list[dict]:
    return [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"tool_call_id": "tc-1", "name": "browser.search", "arguments": "{\"query\": \"x\"}"}]},
        {"role": "tool", "content": [{"tool_call_id": call_id, "output": "No results found."}]},
        {"role": "assistant", "content": "## Exact Answer\nx"},
    ]


@pytest.mark.parametrize("call_id", [["tc-1"], {"id": "tc-1"}, 1, 1.5, True])
def test_non_string_tool_call_id_of_an_output_is_a_history_format_error(call_id):
    with pytest.raises(HistoryFormatError, match=r"message 2: .*'tool_call_id' must be a string"):
        parse_history(_history(call_id))


def test_openai_style_tool_message_with_non_string_id_is_a_history_format_error():
    history = _history("tc-1")
    history[2] = {"role": "tool", "tool_call_id": ["tc-1"], "content": "No results found."}
    with pytest.raises(HistoryFormatError, match="must be a string, got list"):
        parse_history(history)


def test_string_ids_still_parse():
    assert parse_history(_history("tc-1")).answer == "## Exact Answer\nx"
