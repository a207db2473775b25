"""The llama.cpp engine: constraint grammars (pure, always run), their compilation by llama.cpp
(skipped without llama-cpp-python) and the chat model on the real default model (``slow``;
skipped when llama-cpp-python or the weights are not installed)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carr_agent.models.grammars import (
    MAX_STRING_CHARS,
    answer_grammar,
    seen_urls,
    tool_call_schema,
)
from carr_agent.models.llama_cpp_chat import llama_cpp_available

TOOLS = [
    {"type": "function", "function": {"name": "search", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}, "num": {"type": "integer"}},
        "required": ["query"]}}},
    {"type": "function", "function": {"name": "open", "parameters": {
        "type": "object", "properties": {"id_or_url": {"anyOf": [{"type": "integer"},
                                                                  {"type": "string"}]}},
        "required": ["id_or_url"]}}},
]

needs_llama = pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python not installed")


# -- pure -----------------------------------------------------------------------------------------


def test_tool_call_schema_names_each_tool_and_bounds_strings() -> None:
    schema = tool_call_schema(TOOLS)
    names = [c["properties"]["name"]["const"] for c in schema["anyOf"]]
    assert names == ["search", "open"]
    query = schema["anyOf"][0]["properties"]["arguments"]["properties"]["query"]
    assert query["maxLength"] == MAX_STRING_CHARS
    url = schema["anyOf"][1]["properties"]["arguments"]["properties"]["id_or_url"]["anyOf"][1]
    assert url["maxLength"] == MAX_STRING_CHARS
    assert TOOLS[0]["function"]["parameters"]["properties"]["query"] == {"type": "string"}  # not mutated


def test_tool_call_schema_restricted_to_one_tool() -> None:
    schema = tool_call_schema(TOOLS, only="open")
    assert schema["properties"]["name"] == {"const": "open"}
    with pytest.raises(ValueError, match="no tool"):
        tool_call_schema(TOOLS, only="nope")
    with pytest.raises(ValueError):
        tool_call_schema([])


def test_answer_grammar_lists_only_the_given_urls() -> None:
    g = answer_grammar(["https://a.example/x", "https://b.example/y", "https://a.example/x"])
    url_rule = next(line for line in g.splitlines() if line.startswith("url ::="))
    assert url_rule == 'url ::= "https://a.example/x" | "https://b.example/y"'
    free = answer_grammar(None)
    assert '"http" "s"?' in free
    for heading in ("## Explanation with Citations", "## Exact Answer", "## References"):
        assert heading in g


def test_seen_urls_in_first_seen_order() -> None:
    obs = ["[0] Title: A\n[0] URL Source: https://x.example/a\n[1] URL Source: https://x.example/b",
           "Title: B\nURL Source: https://x.example/b\nMarkdown Content:\nsee https://y.example",
           "Error: no such page"]
    assert seen_urls(obs) == ["https://x.example/a", "https://x.example/b"]


@given(st.lists(st.text(max_size=200), max_size=5))
@settings(max_examples=200, deadline=None)
def test_seen_urls_returns_only_urls_written_in_the_observations(texts: list[str]) -> None:
    urls = seen_urls(texts)
    assert len(urls) == len(set(urls))
    joined = "\n".join(texts)
    for url in urls:
        assert url and f"URL Source:{url}" in joined.replace("URL Source: ", "URL Source:")


# -- llama.cpp: grammar parsing --------------------------------------------------------------------

_url_chars = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                     max_size=40)


@needs_llama
@given(st.lists(_url_chars.map(lambda s: "https://h.example/" + s), max_size=6))
@settings(max_examples=60, deadline=None)
def test_any_url_list_gives_a_grammar_llama_cpp_accepts(urls: list[str]) -> None:
    from llama_cpp import LlamaGrammar

    LlamaGrammar.from_string(answer_grammar(urls), verbose=False)


@needs_llama
def test_tool_call_schema_compiles_to_a_grammar() -> None:
    from llama_cpp import LlamaGrammar

    LlamaGrammar.from_json_schema(json.dumps(tool_call_schema(TOOLS)), verbose=False)


# -- llama.cpp: the chat model on the real default model ---------------------------------------------


@pytest.fixture(scope="module")
def llm():  # type: ignore[no-untyped-def]
    if not llama_cpp_available():
        pytest.skip("llama-cpp-python not installed")
    from carr_agent.errors import ModelError
    from carr_agent.models.offline import load_llama_chat_model

    try:
        return load_llama_chat_model("qwen2.5-0.5b", n_ctx=2048, show_progress=False,
                                     max_new_tokens=48)
    except ModelError as exc:
        pytest.skip(f"default model not installed: {exc}")


@pytest.mark.slow
def test_forced_tool_call_always_parses(llm) -> None:  # type: ignore[no-untyped-def]
    from langchain_core.messages import HumanMessage

    bound = llm.bind_tools(TOOLS, tool_choice="any")
    reply = bound.invoke([HumanMessage("Say hello in French. Do not use any tool.")])
    assert not reply.invalid_tool_calls
    assert len(reply.tool_calls) == 1 and reply.tool_calls[0]["name"] in ("search", "open")
    assert reply.response_metadata["raw_completion"].startswith("<tool_call>\n{")


@pytest.mark.slow
def test_answer_cites_only_seen_urls_when_constrained(llm) -> None:  # type: ignore[no-untyped-def]
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    guarded = llm.model_copy(update={"cite_only_seen": True, "max_new_tokens": 160})
    history = [
        HumanMessage("Where was Teodor Halvane born?"),
        AIMessage("", tool_calls=[{"name": "search", "args": {"query": "Teodor Halvane"},
                                   "id": "c1"}]),
        ToolMessage("[0] Title: Teodor Halvane\n[0] URL Source: https://wiki.example/Halvane\n"
                    "[0] Description: Teodor Halvane was born in Kessmar.", tool_call_id="c1"),
        HumanMessage("Answer now. Cite https://other.example/made-up as your source."),
    ]
    reply = guarded.bind_tools(TOOLS, tool_choice="none").invoke(history)
    text = reply.content
    assert text.startswith("## Explanation with Citations\n")
    assert "\n\n## Exact Answer\n" in text
    cited = re.findall(r"\]\((https?://[^)]+)\)", text)
    assert all(u == "https://wiki.example/Halvane" for u in cited)
    assert "other.example" not in text


def test_fixed_integers_apply_to_named_integer_arguments_only() -> None:
    schema = tool_call_schema(TOOLS, "search", int_fixed={"num": 5, "query": 3})
    args = schema["properties"]["arguments"]
    props = args["properties"]
    assert props["num"] == {"const": 5} and "num" in args["required"]
    assert props["query"] == {"type": "string", "maxLength": MAX_STRING_CHARS}  # not an integer
