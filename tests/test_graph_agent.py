"""The agent graph end to end with a scripted model through the real offline corpus (tantivy)."""

from __future__ import annotations

import json

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import ToolException, tool
from langgraph.errors import GraphRecursionError
from langgraph.graph import END

from carr_agent.errors import ConfigError, SearchError
from carr_agent.graph import (
    BUDGET_EXHAUSTED_MESSAGE,
    Budgets,
    build_agent,
    build_agent_graph,
    make_browser,
)
from carr_agent.tools.corpus import CorpusIndex
from carr_agent.types import Hit, Page
from carr_agent.urls import normalize_url
from tests.graph_support import (
    ANSWER,
    DEAN_URL,
    UFC_URL,
    DictFetcher,
    ListSearch,
    ToolFake,
    call,
    endless,
    script,
    turn,
    write_corpus,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusIndex:
    root = tmp_path_factory.mktemp("corpus")
    return CorpusIndex.build(write_corpus(root / "docs.jsonl"), root / "index")


def research_script() -> list:
    return [
        turn(call("search", query="Cyborg Holm featherweight event")),
        turn(call("open", id_or_url=UFC_URL)),
        turn(call("find", pattern="referee of the main event")),
        turn(call("open", id_or_url="https://example.org/herb-dean")),
        ANSWER,
    ]


def run(corpus: CorpusIndex, turns: list, **kwargs):
    model = ToolFake(messages=script(*turns))
    agent = build_agent(model, search=corpus, fetcher=corpus, **kwargs)
    return model, agent, agent.invoke({"messages": [HumanMessage("Which event, and who refereed?")]})


def test_ledger_records_point_at_the_text_shown_in_the_page(corpus: CorpusIndex) -> None:
    _, _, state = run(corpus, research_script(), page_budget=300)

    ledger = state["ledger"]
    assert {r["kind"] for r in ledger} == {"search", "open", "find"}
    for record in ledger:
        page = corpus.fetch(record["url"]).text
        if record["start"] is not None:
            assert page[record["start"]:record["end"]] == record["text"]
    opened = [r for r in ledger if r["kind"] == "open" and normalize_url(r["url"]) == normalize_url(UFC_URL)]
    assert len(opened) == 1 and len(opened[0]["text"]) == 300  # truncated to the page budget
    found = [r for r in ledger if r["kind"] == "find"]
    assert found and all("Herb Dean" in r["text"] and r["start"] > 300 for r in found)  # past the cut
    # every record is also the artifact of the ToolMessage that showed it, with its call id
    artifacts = [r for m in state["messages"] if isinstance(m, ToolMessage) for r in m.artifact]
    assert artifacts == ledger
    assert all(r["tool_call_id"].startswith("c") for r in ledger)
    assert [r["step"] for r in ledger if r["kind"] != "search"] == [2, 3, 4]


def test_final_answer_resolves_citations_and_flags_unseen_urls(corpus: CorpusIndex) -> None:
    _, _, state = run(corpus, research_script())

    answer = state["answer"]
    assert state["finish_reason"] == "answered" and answer["well_formed"] and not answer["forced"]
    assert answer["exact_answer"] == "UFC 219"
    by_label = {c["label"]: c for c in answer["citations"]}
    assert set(by_label) == {"1", "2", "3"}  # the link after "## References" is not a citation
    assert by_label["1"]["seen"] and by_label["1"]["kinds"] == ["search", "open", "find"]
    assert by_label["2"]["seen"] and by_label["2"]["source_id"] is not None  # http/www/slash variant
    assert not by_label["3"]["seen"] and by_label["3"]["source_id"] is None
    assert answer["unseen"] == ["https://never-opened.example.com/page"]


def test_model_sees_the_tool_schemas_and_the_system_prompt(corpus: CorpusIndex) -> None:
    model, _, _ = run(corpus, research_script(), system_prompt="Be brief.")

    messages, tools = model.requests[0]
    assert tools == ["search", "open", "find"]
    assert messages[0].type == "system" and messages[0].content == "Be brief."
    # the system prompt is not stored in the state, so it is not repeated turn after turn
    assert sum(m.type == "system" for m in model.requests[-1][0]) == 1


def test_bad_arguments_and_tool_failures_come_back_as_errors_and_the_run_continues(
    corpus: CorpusIndex,
) -> None:
    turns = [
        turn(call("find", pattern="anything")),                      # no page open
        turn(call("open", id_or_url=7)),                             # no search results yet
        turn(call("search", q="wrong argument name"),                # schema violation
             call("browse", url="x"),                                # unknown tool
             invalid=[{"name": "search", "args": '{"query": "unterminated', "error": "bad JSON"}]),
        turn(call("open", id_or_url="https://nowhere.example/missing")),  # not in the corpus
        turn(call("search", query="Herb Dean referee")),
        ANSWER,
    ]
    model, _, state = run(corpus, turns)

    errors = [m for m in state["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    texts = [m.content for m in errors]
    assert len(errors) == 6 and all(t.startswith("Error: ") for t in texts)
    assert "no page is open" in texts[0]
    assert "no search results" in texts[1]
    assert "invalid arguments for search" in texts[2] and "query" in texts[2]
    assert "unknown tool 'browse'" in texts[3] and "search, open, find" in texts[3]
    assert "could not be read" in texts[4] and "bad JSON" in texts[4]
    assert "nowhere.example" in texts[5]
    assert all(m.artifact == [] for m in errors)
    # each error reached the model, and the run went on to a cited answer
    assert isinstance(model.requests[1][0][-1], ToolMessage)
    assert state["tool_calls"] == 7 and state["answer"]["exact_answer"] == "UFC 219"
    assert [r["kind"] for r in state["ledger"]] == ["search"] * len(state["ledger"])


def test_search_backend_failure_is_an_observation() -> None:
    backend = ListSearch([], error=SearchError("the search engine timed out"))
    model = ToolFake(messages=script(turn(call("search", query="x")), "## Exact Answer\nnone"))
    agent = build_agent(model, search=backend, fetcher=DictFetcher([]))

    state = agent.invoke({"question": "q"})

    tool_message = state["messages"][2]
    assert tool_message.status == "error" and "timed out" in tool_message.content
    assert state["answer"]["exact_answer"] == "none" and not state["answer"]["well_formed"]


def test_programming_errors_in_a_backend_propagate() -> None:
    backend = ListSearch([], error=TypeError("bug in the backend"))
    model = ToolFake(messages=script(turn(call("search", query="x")), "done"))
    agent = build_agent(model, search=backend, fetcher=DictFetcher([]))

    with pytest.raises(TypeError, match="bug in the backend"):
        agent.invoke({"question": "q"})


def test_tool_budget_forces_an_answer_with_tool_calls_switched_off(corpus: CorpusIndex) -> None:
    def make(i: int) -> dict:
        if i < 3:
            return turn(call("search", query=f"query {i}"))
        return turn(call("search", query="one more"), content="Best guess: UFC 219")

    model = ToolFake(messages=endless(make))
    agent = build_agent(model, search=corpus, fetcher=corpus, max_tool_calls=3)

    state = agent.invoke({"question": "Which event?"})

    assert state["tool_calls"] == 3 and len(model.requests) == 4
    forced_prompt, forced_tools = model.requests[-1]
    # tools stay bound (the prompt extends the history) but calls are switched off
    assert forced_tools == ["search", "open", "find"] and model.tool_choices[-1] == "none"
    assert forced_prompt[-1].type == "human"
    assert forced_prompt[-1].content == BUDGET_EXHAUSTED_MESSAGE  # nothing was shown: no list
    # the model still called a tool; the run finalised with what it said
    assert state["finish_reason"] == "tool_budget" and state["answer"]["forced"]
    assert state["answer"]["text"] == "Best guess: UFC 219"
    assert isinstance(state["messages"][-1], AIMessage)


def test_forced_answer_lists_the_pages_the_run_was_shown(corpus: CorpusIndex) -> None:
    model = ToolFake(messages=endless(lambda i: turn(call("open", id_or_url=UFC_URL))))
    agent = build_agent(model, search=corpus, fetcher=corpus, max_tool_calls=1)

    agent.invoke({"question": "Which event?"})

    forced_prompt, _ = model.requests[-1]
    request = forced_prompt[-1].content
    assert request.startswith(BUDGET_EXHAUSTED_MESSAGE)
    assert "Pages you were shown" in request and f"[1] {UFC_URL}" in request


def test_parallel_calls_beyond_the_budget_are_refused_with_an_observation(corpus: CorpusIndex) -> None:
    turns = [turn(call("search", query="a"), call("search", query="b"), call("search", query="c")),
             "## Exact Answer\nx"]
    model = ToolFake(messages=script(*turns))
    agent = build_agent(model, search=corpus, fetcher=corpus, max_tool_calls=2)

    state = agent.invoke({"question": "q"})

    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in tool_messages] == ["success", "success", "error"]
    assert "budget (2) is used up" in tool_messages[2].content
    assert state["tool_calls"] == 2 and state["finish_reason"] == "tool_budget"


def test_context_budget_forces_an_answer(corpus: CorpusIndex) -> None:
    model = ToolFake(messages=endless(lambda i: turn(call("open", id_or_url=UFC_URL))))
    agent = build_agent(model, search=corpus, fetcher=corpus, max_context_tokens=500)

    state = agent.invoke({"question": "q"})

    assert state["finish_reason"] == "context_budget"
    assert state["tool_calls"] == 1 and state["context_tokens"] >= 500  # one 10k-char page is enough


def test_recursion_limit_follows_the_budgets(corpus: CorpusIndex) -> None:
    agent = build_agent(ToolFake(messages=iter([])), search=corpus, fetcher=corpus, max_tool_calls=5)
    assert agent.config["recursion_limit"] == Budgets(max_tool_calls=5).recursion_limit == 18

    # a per-run config still overrides it
    model = ToolFake(messages=endless(lambda i: turn(call("search", query="x"))))
    agent = build_agent(model, search=corpus, fetcher=corpus, max_tool_calls=50)
    with pytest.raises(GraphRecursionError):
        agent.invoke({"question": "q"}, {"recursion_limit": 6})


def test_invalid_configuration_is_rejected(corpus: CorpusIndex) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    with pytest.raises(ConfigError, match="bind_tools"):
        build_agent(FakeListChatModel(responses=["x"]), search=corpus, fetcher=corpus)
    with pytest.raises(ConfigError, match="max_tool_calls"):
        build_agent(ToolFake(messages=iter([])), search=corpus, fetcher=corpus, max_tool_calls=-1)

    @tool
    def search(query: str) -> str:
        """Shadow the built-in search."""
        return query

    with pytest.raises(ConfigError, match="search"):
        build_agent(ToolFake(messages=iter([])), search=corpus, fetcher=corpus, extra_tools=[search])


def test_extra_tools_run_alongside_and_may_add_ledger_records(corpus: CorpusIndex) -> None:
    @tool(response_format="content_and_artifact")
    def lookup_date(event: str) -> tuple[str, list[dict]]:
        """Look up the date of an event."""
        record = {"source_id": "Sx", "url": "https://dates.example/ufc", "title": "Dates",
                  "kind": "search", "step": 0, "text": "UFC 219: 2017-12-30", "start": None, "end": None}
        return "2017-12-30", [record]

    @tool
    def flaky(x: int) -> str:
        """Always fails."""
        raise ToolException("service unavailable")

    turns = [turn(call("lookup_date", event="UFC 219"), call("flaky", x=1), call("flaky", x="nan")),
             "## Exact Answer\n2017-12-30 [1](https://dates.example/ufc)"]
    model = ToolFake(messages=script(*turns))
    agent = build_agent(model, search=corpus, fetcher=corpus, extra_tools=[lookup_date, flaky])

    state = agent.invoke({"question": "When?"})

    assert model.requests[0][1] == ["search", "open", "find", "lookup_date", "flaky"]
    statuses = [(m.name, m.status) for m in state["messages"] if isinstance(m, ToolMessage)]
    assert statuses == [("lookup_date", "success"), ("flaky", "error"), ("flaky", "error")]
    assert [r["url"] for r in state["ledger"]] == ["https://dates.example/ufc"]
    assert state["answer"]["citations"][0]["seen"]


def test_streaming_updates_and_callbacks_see_every_step(corpus: CorpusIndex) -> None:
    class Spy(BaseCallbackHandler):
        def __init__(self) -> None:
            self.started: list[str] = []
            self.ended: list[str] = []

        def on_tool_start(self, serialized, input_str, **kwargs):
            self.started.append(serialized["name"])

        def on_tool_end(self, output, **kwargs):
            self.ended.append(output.tool_call_id)

    spy = Spy()
    model = ToolFake(messages=script(*research_script()))
    agent = build_agent(model, search=corpus, fetcher=corpus)

    nodes = [next(iter(chunk)) for chunk in
             agent.stream({"question": "q"}, {"callbacks": [spy]}, stream_mode="updates")]

    assert nodes == ["agent", "tools"] * 4 + ["agent", "finalize"]
    assert spy.started == ["search", "open", "find", "open"]
    assert spy.ended == ["c0_0", "c1_0", "c2_0", "c3_0"]


async def test_async_invocation_gives_the_same_result(corpus: CorpusIndex) -> None:
    model = ToolFake(messages=script(*research_script()))
    agent = build_agent(model, search=corpus, fetcher=corpus)

    state = await agent.ainvoke({"question": "Which event?"})

    assert state["question"] == "Which event?" and state["messages"][0].content == "Which event?"
    assert state["answer"]["exact_answer"] == "UFC 219" and len(state["ledger"]) >= 4


def test_forbidden_strings_hide_pages_quoting_the_question() -> None:
    question = "Which mixed martial arts event held on December 30 2017 at T-Mobile Arena featured Cyborg"
    leaky = Page(url="https://leak.example/q", title="Quiz answers",
                 text=f"Q: {question}? A: UFC 219.")
    fetcher = DictFetcher([leaky])
    search = ListSearch([Hit(url=leaky.url, title="Quiz", snippet="trivia")])
    model = ToolFake(messages=script(turn(call("open", id_or_url=leaky.url)),
                                     turn(call("find", pattern="UFC")), "## Exact Answer\n?"))
    agent = build_agent(model, search=search, fetcher=fetcher, forbidden_strs=[question])

    state = agent.invoke({"question": question})

    shown = [m.content for m in state["messages"] if isinstance(m, ToolMessage)]
    assert "UFC 219" not in json.dumps(shown) and "unavailable" in shown[0]
    assert "no page is open" in shown[1]  # the hidden page did not become the open page
    assert state["ledger"] == []


def test_nodes_embed_in_a_larger_graph(corpus: CorpusIndex) -> None:
    model = ToolFake(messages=script(*research_script()))
    graph = build_agent_graph(model, browser=make_browser(search=corpus, fetcher=corpus))

    def count_sources(state: dict) -> dict:
        sources = {r["source_id"] for r in state["ledger"]}
        return {"messages": [AIMessage(f"{len(sources)} sources", id="summary")]}

    graph.add_node("count_sources", count_sources)
    graph.add_edge("finalize", "count_sources")
    graph.add_edge("count_sources", END)
    state = graph.compile().invoke({"question": "q"})

    assert state["messages"][-1].content == "3 sources" and state["answer"]["exact_answer"] == "UFC 219"


def test_a_question_is_required() -> None:
    agent = build_agent(ToolFake(messages=iter([])), search=ListSearch([]), fetcher=DictFetcher([]))
    with pytest.raises(ConfigError, match="needs a question"):
        agent.invoke({"messages": []})


def test_open_by_index_uses_the_latest_results_kept_in_state(corpus: CorpusIndex) -> None:
    turns = [turn(call("search", query="Herb Dean referee")),
             turn(call("open", id_or_url=0)), "## Exact Answer\nx"]
    _, _, state = run(corpus, turns)

    assert state["latest_hits"][0]["url"] == DEAN_URL
    assert state["open_page"]["url"] == DEAN_URL and state["open_page"]["text"].startswith("Herb Dean")


def test_min_tool_calls_makes_the_model_call_tools_before_answering(corpus: CorpusIndex) -> None:
    turns = [turn(call("search", query="UFC 219")), turn(call("open", id_or_url=0)), "## Exact Answer\nx"]
    model = ToolFake(messages=script(*turns))
    agent = build_agent(model, search=corpus, fetcher=corpus, min_tool_calls=2)

    state = agent.invoke({"question": "q"})

    # forced until two calls were made: a search first, then any tool
    assert model.tool_choices == ["search", "any", None]
    assert state["answer"]["exact_answer"] == "x"
    with pytest.raises(ConfigError, match="min_tool_calls"):
        build_agent(model, search=corpus, fetcher=corpus, max_tool_calls=1, min_tool_calls=2)


def test_the_graph_drives_the_local_hf_chat_model(corpus: CorpusIndex) -> None:
    """HFChatModel (tiny random Qwen2, teacher-forced turns) through bind_tools and the real tools."""
    pytest.importorskip("transformers")
    from carr_agent.models.hf_chat import HFChatModel
    from carr_agent.models.tiny import build_tiny_model

    net, tokenizer = build_tiny_model(seed=0)
    completions = [
        '<tool_call>\n{"name": "search", "arguments": {"query": "Herb Dean referee"}}\n</tool_call>',
        '<tool_call>\n{"name": "open", "arguments": {"id_or_url": 0}}\n</tool_call>',
        f"## Explanation with Citations\nHerb Dean [1]({DEAN_URL}).\n\n## Exact Answer\nHerb Dean",
    ]
    model = HFChatModel(model=net, tokenizer=tokenizer, max_new_tokens=8).scripted(completions)
    agent = build_agent(model, search=corpus, fetcher=corpus)

    with model.recording() as recorder:
        state = agent.invoke({"question": "Who refereed?"})

    assert [r["kind"] for r in state["ledger"]][-1] == "open"
    assert state["open_page"]["url"] == DEAN_URL
    assert state["answer"]["exact_answer"] == "Herb Dean" and state["answer"]["citations"][0]["seen"]
    assert len(recorder.turns) == 3  # every model turn of the graph was recorded for training


def test_system_prompt_gives_a_small_model_nothing_to_copy() -> None:
    """Defect: the 0.5B model answered with the prompt's filled example (its answer and URLs)."""
    import re

    from carr_agent.graph import DEFAULT_SYSTEM_PROMPT

    assert not re.search(r"https?://|www\.|\.org|\.example", DEFAULT_SYSTEM_PROMPT)
    assert "<" not in DEFAULT_SYSTEM_PROMPT  # no <placeholder> template either
    for heading in ("## Explanation with Citations", "## Exact Answer", "## References"):
        assert heading in DEFAULT_SYSTEM_PROMPT


def test_a_tool_call_without_an_id_still_gets_its_observation(corpus: CorpusIndex) -> None:
    """A parser may give a call no id; the observation and its ledger records get a stable one."""
    turns = iter([AIMessage("", tool_calls=[{"name": "search", "args": {"query": "UFC 219"},
                                             "id": None, "type": "tool_call"}]), AIMessage(ANSWER)])
    agent = build_agent(ToolFake(messages=turns), search=corpus, fetcher=corpus)
    state = agent.invoke({"question": "q"})
    observation = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert observation.tool_call_id.startswith("call-") and observation.status == "success"
    assert {r["tool_call_id"] for r in state["ledger"]} == {observation.tool_call_id}
