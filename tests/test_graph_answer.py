"""Final-answer parsing, citation resolution against the ledger, and the context estimate."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from carr_agent.graph import estimate_context_tokens, parse_answer, resolve_citations
from carr_agent.graph.config import AgentConfig as Budgets
from carr_agent.types import LedgerRecord
from carr_agent.urls import source_id


def record(url: str, kind: str = "open") -> LedgerRecord:
    return LedgerRecord(source_id=source_id(url), url=url, title="t", kind=kind, step=1,
                        text="shown", start=0, end=5)


ANSWER = """## Explanation with Citations
### Step 1
The fight was at UFC 219 [1](https://en.wikipedia.org/wiki/UFC_219) [[2](https://www.Example.org/holm/#bio)].
![chart](https://img.example/chart.png)

## Exact Answer
UFC 219

## References
[1] https://en.wikipedia.org/wiki/UFC_219
[3](https://listed-only.example/)
"""


def test_sections_are_split_and_subheadings_stay_in_the_explanation() -> None:
    answer = parse_answer(ANSWER)

    assert answer["well_formed"] and not answer["forced"]
    assert answer["explanation"].startswith("### Step 1\nThe fight was at UFC 219")
    assert answer["exact_answer"] == "UFC 219"
    assert answer["references"].startswith("[1] https://en.wikipedia.org/wiki/UFC_219")


def test_only_body_links_are_citations_and_images_are_not() -> None:
    answer = parse_answer(ANSWER)

    assert [(c["label"], c["url"]) for c in answer["citations"]] == [
        ("1", "https://en.wikipedia.org/wiki/UFC_219"),
        ("2", "https://www.Example.org/holm/#bio"),
    ]
    assert all(not c["seen"] for c in answer["citations"])  # not yet resolved


def test_missing_sections_make_the_answer_not_well_formed() -> None:
    answer = parse_answer("It is UFC 219 [1](https://x.org/a).", forced=True)

    assert not answer["well_formed"] and answer["forced"]
    assert answer["exact_answer"] == "" and answer["citations"][0]["url"] == "https://x.org/a"


def test_citations_resolve_by_normalised_url_and_unseen_ones_are_flagged() -> None:
    ledger = [record("https://example.org/holm", "search"), record("http://example.org/holm", "find")]
    answer = resolve_citations(parse_answer(ANSWER), ledger)

    first, second = answer["citations"]
    assert not first["seen"] and first["source_id"] is None and first["kinds"] == []
    assert second["seen"] and second["source_id"] == source_id("https://example.org/holm")
    assert second["kinds"] == ["search", "find"]
    assert answer["unseen"] == ["https://en.wikipedia.org/wiki/UFC_219"]


def test_repeated_unseen_citations_are_listed_once() -> None:
    text = "A [1](https://a.org/x) B [2](http://www.a.org/x/) C [3](https://b.org)"
    answer = resolve_citations(parse_answer(text), [])
    assert answer["unseen"] == ["https://a.org/x", "https://b.org"]


def test_context_estimate_uses_usage_metadata_when_a_turn_reports_it() -> None:
    history = [
        HumanMessage("q" * 400),
        AIMessage("", tool_calls=[{"name": "search", "args": {"query": "x"}, "id": "1"}],
                  usage_metadata={"input_tokens": 1000, "output_tokens": 20, "total_tokens": 1020}),
        ToolMessage("r" * 800, tool_call_id="1"),
    ]
    assert estimate_context_tokens(history) == 1000 + 20 + 200
    # no usage anywhere: characters / 4, system prompt included
    assert estimate_context_tokens([HumanMessage("q" * 400)], system_prompt="s" * 40) == 110


def test_budgets_reject_nonsense_and_size_the_recursion_limit() -> None:
    import pytest

    from carr_agent.errors import ConfigError

    assert Budgets(max_tool_calls=0).recursion_limit == 8
    for bad in ({"max_tool_calls": -1}, {"max_tool_calls": True}, {"max_context_tokens": 0}):
        with pytest.raises(ConfigError):
            Budgets(**bad)


def test_the_running_context_estimate_matches_a_whole_history_estimate() -> None:
    from langchain_core.messages import AIMessage, ToolMessage

    from carr_agent.graph.budget import add_context_tokens

    history = [HumanMessage("q" * 401)]
    running = estimate_context_tokens(history, system_prompt="s" * 39)
    for i in range(20):
        step = [AIMessage("", tool_calls=[{"name": "search", "args": {"query": "x" * i}, "id": f"c{i}"}]),
                ToolMessage("o" * (37 * i + 1), tool_call_id=f"c{i}")]
        history += step
        running = add_context_tokens(running, step)
        whole = estimate_context_tokens(history, system_prompt="s" * 39)
        assert whole <= running <= whole + 2 * (i + 1)
    usage = AIMessage("", usage_metadata={"input_tokens": 900, "output_tokens": 12, "total_tokens": 912})
    after = [usage, ToolMessage("o" * 40, tool_call_id="c")]
    assert add_context_tokens(running, after) == estimate_context_tokens([*history, *after]) == 922
