"""Parsing tool calls out of raw model text."""

from __future__ import annotations

import pytest

from carr_agent.models.toolcalls import new_tool_call_id, parse_tool_calls

TOOLS = ["search", "open", "find"]


def test_several_tagged_calls_are_parsed_and_removed_from_content():
    text = (
        "I will look this up.\n<tool_call>\n"
        '{"name": "search", "arguments": {"query": "moon landing", "num": 3}}\n</tool_call>\n'
        '<tool_call>\n{"name": "open", "arguments": {"id_or_url": "1"}}\n</tool_call>'
    )
    parsed = parse_tool_calls(text, TOOLS)
    assert parsed.content == "I will look this up."
    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [
        ("search", {"query": "moon landing", "num": 3}),
        ("open", {"id_or_url": "1"}),
    ]
    assert parsed.invalid_tool_calls == []
    assert all(c["type"] == "tool_call" for c in parsed.tool_calls)


def test_tool_call_ids_are_unique():
    text = '<tool_call>{"name": "find", "arguments": {"pattern": "a"}}</tool_call>' * 3
    ids = [c["id"] for c in parse_tool_calls(text).tool_calls]
    ids += [new_tool_call_id() for _ in range(100)]
    assert len(set(ids)) == len(ids) == 103


def test_missing_closing_tag_is_tolerated():
    parsed = parse_tool_calls('<tool_call>\n{"name": "find", "arguments": {"pattern": "x"}}\n')
    assert parsed.tool_calls[0]["args"] == {"pattern": "x"}
    assert parsed.content == ""


def test_arguments_given_as_json_string_are_decoded():
    text = '<tool_call>{"name": "open", "arguments": "{\\"id_or_url\\": \\"https://a.org\\"}"}</tool_call>'
    assert parse_tool_calls(text).tool_calls[0]["args"] == {"id_or_url": "https://a.org"}


def test_code_fenced_json_inside_tags_is_unwrapped():
    text = (
        '<tool_call>\n```json\n{"name": "find", "arguments": {"pattern": "p"}}\n```\n</tool_call>'
    )
    assert parse_tool_calls(text).tool_calls[0]["name"] == "find"


def test_single_quotes_trailing_commas_and_python_literals_are_recovered():
    text = "<tool_call>{'name': 'search', 'arguments': {'query': 'q', 'num': 2, 'x': True,},}</tool_call>"
    call = parse_tool_calls(text).tool_calls[0]
    assert call["args"] == {"query": "q", "num": 2, "x": True}


def test_parameters_key_and_openai_function_shape_are_accepted():
    a = parse_tool_calls('<tool_call>{"name": "find", "parameters": {"pattern": "p"}}</tool_call>')
    b = parse_tool_calls(
        '<tool_call>{"type": "function", "function": {"name": "find", "arguments": {"pattern": "p"}}}</tool_call>'
    )
    assert a.tool_calls[0]["args"] == b.tool_calls[0]["args"] == {"pattern": "p"}


def test_several_objects_in_one_block_become_several_calls():
    text = '<tool_call>{"name": "find", "arguments": {}}\n{"name": "open", "arguments": {"id_or_url": "2"}}</tool_call>'
    assert [c["name"] for c in parse_tool_calls(text).tool_calls] == ["find", "open"]


def test_bare_json_reply_naming_a_known_tool_is_a_call():
    parsed = parse_tool_calls('  {"name": "search", "arguments": {"query": "q"}}  ', TOOLS)
    assert parsed.content == ""
    assert parsed.tool_calls[0]["args"] == {"query": "q"}


def test_fenced_json_call_in_prose_is_a_call():
    text = 'Searching now:\n```json\n{"name": "search", "arguments": {"query": "q"}}\n```'
    parsed = parse_tool_calls(text, TOOLS)
    assert parsed.content == "Searching now:"
    assert parsed.tool_calls[0]["name"] == "search"


def test_bare_json_answer_naming_no_known_tool_stays_content():
    text = '{"name": "Neil Armstrong", "arguments": {"x": 1}}'
    parsed = parse_tool_calls(text, TOOLS)
    assert parsed.tool_calls == [] and parsed.content == text
    assert parse_tool_calls('{"answer": 42}', TOOLS).content == '{"answer": 42}'


def test_plain_text_has_no_calls():
    parsed = parse_tool_calls("The answer is 42 [1].", TOOLS)
    assert parsed == ("The answer is 42 [1].", [], [])


@pytest.mark.parametrize(
    ("text", "error_part"),
    [
        ('<tool_call>{"name": "search", "arguments": {"query": </tool_call>', "invalid JSON"),
        ('<tool_call>{"arguments": {"query": "q"}}</tool_call>', '"name"'),
        ('<tool_call>{"name": "search", "arguments": [1, 2]}</tool_call>', "JSON object"),
        ('<tool_call>{"name": "open", "arguments": "not json"}</tool_call>', "string"),
        ("<tool_call>\n</tool_call>", "empty"),
    ],
)
def test_unparsable_calls_are_reported_as_invalid_with_the_reason(text, error_part):
    parsed = parse_tool_calls(text, TOOLS)
    assert parsed.tool_calls == []
    assert len(parsed.invalid_tool_calls) == 1
    bad = parsed.invalid_tool_calls[0]
    assert error_part in bad["error"]
    assert bad["type"] == "invalid_tool_call" and bad["id"]


def test_invalid_call_keeps_the_tool_name_when_recognisable():
    parsed = parse_tool_calls('<tool_call>{"name": "search", "arguments": {"query": }</tool_call>')
    assert parsed.invalid_tool_calls[0]["name"] == "search"


def test_valid_and_invalid_calls_in_one_reply_are_separated():
    text = (
        '<tool_call>{"name": "find", "arguments": {"pattern": "p"}}</tool_call>'
        "<tool_call>{broken</tool_call> trailing words"
    )
    parsed = parse_tool_calls(text, TOOLS)
    assert [c["name"] for c in parsed.tool_calls] == ["find"]
    assert len(parsed.invalid_tool_calls) == 1
    assert parsed.content == "trailing words"


def test_prose_after_an_unclosed_call_stays_content():
    parsed = parse_tool_calls(
        '<tool_call>\n{"name": "find", "arguments": {"pattern": "x"}}\nThen I will answer.'
    )
    assert parsed.tool_calls[0]["args"] == {"pattern": "x"}
    assert parsed.content == "Then I will answer."


def test_flat_arguments_count_only_for_a_bound_tool() -> None:
    tools = ["search", "open", "find"]
    parsed = parse_tool_calls('{"name": "find", "pattern": "Ember Suite"}', tools)
    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("find", {"pattern": "Ember Suite"})]
    # not a bound tool, or tools unknown: plain content, never a guessed call
    assert parse_tool_calls('{"name": "Bob", "age": 3}', tools).tool_calls == []
    assert parse_tool_calls('{"name": "find", "pattern": "x"}', None).tool_calls == []


def test_a_reply_opening_with_a_call_keeps_the_trailing_prose_as_content() -> None:
    text = '{"name": "open", "arguments": {"id_or_url": 2}}\nThen I will read it.'
    parsed = parse_tool_calls(text, ["search", "open", "find"])
    assert [(c["name"], c["args"]) for c in parsed.tool_calls] == [("open", {"id_or_url": 2})]
    assert parsed.content == "Then I will read it."
