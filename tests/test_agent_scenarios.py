"""Scripted scenarios: ordinary model mistakes and hostile pages must never crash an agent run.

Each scenario drives the real compiled graph (real tools node, real finalize node) with a scripted
model (:class:`carr_agent.models.scripted.ScriptedChatModel`) against real backends: the offline
tantivy corpus, or the web fetcher against a real HTTP server on 127.0.0.1. Every run must end
with an answer; a bad tool call must come back to the model as an error observation it can read,
and the model's next turn must still happen.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage

from carr_agent.graph import build_agent
from carr_agent.models.scripted import ScriptedChatModel
from carr_agent.tools.corpus import CorpusIndex
from carr_agent.tools.fetch import HttpFetcher
from carr_agent.types import Hit
from tests.graph_support import UFC_URL, ListSearch, write_corpus

FINAL = (
    "## Explanation with Citations\nIt was UFC 219 [1](https://en.wikipedia.org/wiki/UFC_219).\n\n"
    "## Exact Answer\nUFC 219\n\n## References\n[1] https://en.wikipedia.org/wiki/UFC_219"
)

#: Citations a model may really write: malformed ports, broken IPv6 literals, odd schemes.
BAD_CITATIONS = [
    "http://example.org:99999/a", "http://example.org:abc/a", "http://[::1/a", "http://[zz::1]/",
    "https://[::1]x/", "http://example.org:-1/", "http://exa mple.org/a b", "http://\ud800.org/x",
    "https://example.org/\udfff", "http://:80/", "http://@/", "http://[]/",
]


def _final_citing(urls: list[str]) -> str:
    cites = " ".join(f"[{i}]({u})" for i, u in enumerate(urls, start=1))
    return (f"## Explanation with Citations\nSee {cites}.\n\n## Exact Answer\nUFC 219\n\n"
            "## References\n" + "\n".join(f"[{i}] {u}" for i, u in enumerate(urls, start=1)))


@dataclass(frozen=True)
class Scenario:
    """A scripted run: tool calls turn by turn, then a final answer."""

    name: str
    calls: list[list[dict[str, Any]]]
    final: str = FINAL
    #: indexes (in order) of the tool messages that must be error observations
    errors: tuple[int, ...] = ()
    hits: list[Hit] = field(default_factory=list)


def _open(arg: Any) -> list[dict[str, Any]]:
    return [{"name": "open", "args": {"id_or_url": arg}}]


OPEN_ARGS = [
    "Anton Marek: biography", "wiki:Brastow", "javascript:alert(1)", "mailto:someone@example.org",
    "data:text/html,<p>x</p>", "file:///etc/passwd", "http://example.org:99999/a",
    "http://example.org:abc/", "https://example.org:-5/", "http://[::1", "http://[zz::1]/",
    "https://[::1]x/", "http://[fe80::1%25eth0]/", "[::1]:80", "http://", "//", "://x", ":",
    "http://\ud800.org/", "https://example.org/\udfff", "a" * 5000, "http://" + "a." * 200 + "org/",
    "http://example.org/" + "%" * 300, "\x00", " \t\n ", "-1", "999999999999999999999999", "0",
    "http://@/", "http://[]/", "https://en.wikipedia.org/wiki/UFC_219:80x",
]
#: open(...) arguments that are no error: a valid index into the scripted search results.
_VALID_OPEN = {"0"}

SCENARIOS: list[Scenario] = [
    *(Scenario(f"open {a!r}"[:60], [[{"name": "search", "args": {"query": "UFC 219"}}], _open(a)],
               errors=() if a in _VALID_OPEN else (1,))
      for a in OPEN_ARGS),
    Scenario("cite malformed URLs", [[{"name": "search", "args": {"query": "UFC 219"}}]],
             final=_final_citing(BAD_CITATIONS)),
    Scenario("forced answer citing malformed URLs",
             [[{"name": "search", "args": {"query": "x"}}]] * 2, final=_final_citing(BAD_CITATIONS)),
    Scenario("search hits with malformed URLs, then open them",
             [[{"name": "search", "args": {"query": "anything"}}], _open(0), _open(1), _open(2)],
             hits=[Hit(url="http://example.org:99999/a", title="bad port", snippet="one"),
                   Hit(url="http://[::1/a", title="bad ipv6", snippet="two"),
                   Hit(url="http://\ud800.example/", title="surrogate", snippet="three")],
             errors=(1, 2, 3)),
    Scenario("index out of range and odd ids",  # (True is read as 1 by the argument schema)
             [[{"name": "search", "args": {"query": "UFC"}}], _open(57), _open(-1), _open(True),
              _open(10**30), _open(1.5), _open(None), _open([1])],
             errors=(1, 2, 4, 5, 6, 7)),
    Scenario("find before open, then odd patterns",
             [[{"name": "find", "args": {"pattern": "x"}}],
              [{"name": "search", "args": {"query": "UFC 219"}}], _open(UFC_URL),
              [{"name": "find", "args": {"pattern": "((("}}],
              [{"name": "find", "args": {"pattern": "\ud800"}}],
              [{"name": "find", "args": {"pattern": ""}}],
              [{"name": "find", "args": {"pattern": "a" * 20000}}]],
             errors=(0, 5, 6)),
    Scenario("odd search arguments",
             [[{"name": "search", "args": {"query": ""}}], [{"name": "search", "args": {"query": "x", "num": 0}}],
              [{"name": "search", "args": {"query": "x", "num": 10**30}}],
              [{"name": "search", "args": {"query": "x", "num": "abc"}}],
              [{"name": "search", "args": {"query": "\ud800 UFC"}}],
              [{"name": "search", "args": {"query": "AND OR NOT ( ) : \" ^ * title:x"}}],
              [{"name": "search", "args": {}}], [{"name": "search", "args": {"query": ["x"]}}]],
             errors=(0, 1, 2, 3, 6, 7)),
    Scenario("unknown tool", [[{"name": "browse", "args": {"url": "x"}}]], errors=(0,)),
    Scenario("wrong and extra argument names",
             [[{"name": "open", "args": {"url": UFC_URL}}],
              [{"name": "search", "args": {"query": "UFC 219", "page": 2, "lang": "xx"}}],
              [{"name": "find", "args": {"text": "referee"}}]],
             errors=(0, 2)),
    Scenario("malformed tool calls the parser could not read", [[]], errors=(0, 1)),
    Scenario("more calls in one turn than the budget allows",
             [[{"name": "search", "args": {"query": f"UFC {i}"}} for i in range(5)]],
             errors=(3, 4)),  # (run with a budget of 3)
]
_MALFORMED = [{"name": "open", "args": "{not json", "error": "invalid JSON"},
              {"name": None, "args": None, "error": None}]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusIndex:
    root = tmp_path_factory.mktemp("corpus")
    return CorpusIndex.build(write_corpus(root / "docs.jsonl"), root / "index")


def _turns(scenario: Scenario) -> list[dict[str, Any]]:
    if scenario.name.startswith("malformed"):
        return [{"invalid_tool_calls": _MALFORMED}, scenario.final]
    return [*({"tool_calls": calls} for calls in scenario.calls), scenario.final]


def _run(turns: list[Any], *, search: Any, fetcher: Any, max_tool_calls: int = 30,
         mode: str = "sync") -> dict[str, Any]:
    agent = build_agent(ScriptedChatModel(turns), search=search, fetcher=fetcher,
                        max_tool_calls=max_tool_calls)
    if mode == "async":  # the eval runner's path: tools run in worker threads
        return asyncio.run(agent.ainvoke({"question": "Which event was it?"}))
    return agent.invoke({"question": "Which event was it?"})


def _tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scripted_scenario_ends_with_an_answer_and_error_observations(
    scenario: Scenario, mode: str, corpus: CorpusIndex
) -> None:
    search = ListSearch(scenario.hits) if scenario.hits else corpus
    budget = 2 if scenario.name.startswith("forced") else 3 if scenario.name.startswith("more") else 30
    state = _run(_turns(scenario), search=search, fetcher=corpus, max_tool_calls=budget, mode=mode)
    assert state["answer"]["exact_answer"] == "UFC 219"
    messages = _tool_messages(state)
    errors = tuple(i for i, m in enumerate(messages) if m.status == "error")
    assert errors == scenario.errors, [m.text[:120] for m in messages]
    for i in errors:
        assert messages[i].text.startswith("Error: ") and len(messages[i].text) > 10


def test_citations_of_malformed_urls_are_unseen_not_a_crash(corpus: CorpusIndex) -> None:
    state = _run([{"tool_calls": [{"name": "search", "args": {"query": "UFC"}}]},
                  _final_citing(BAD_CITATIONS)], search=corpus, fetcher=corpus)
    answer = state["answer"]
    assert answer["citations"] and all(not c["seen"] for c in answer["citations"])
    assert answer["unseen"]


# -- the web fetcher against a real local server ---------------------------------------------

_PAGE = "<html><head><title>Charset page</title></head><body><p>{}</p></body></html>"
_TEXT = "The UFC 219 event was held at T-Mobile Arena on December 30, 2017, in Paradise."


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "base64", "rot13", "zlib",
                                     "no-such-codec", "utf-16", "utf-32", "x" * 300])
@pytest.mark.parametrize("where", ["header", "meta"])
def test_pages_declaring_odd_charsets_never_crash_the_run(http_server, charset: str, where: str) -> None:
    body = _PAGE.format(_TEXT)
    if where == "header":
        url = http_server.route("/p", body, content_type=f"text/html; charset={charset}")
    else:
        body = body.replace("<head>", f'<head><meta charset="{charset}">')
        url = http_server.route("/p", body, content_type="text/html")
    fetcher = HttpFetcher(allow_hosts=("127.0.0.1",), total_timeout=10)
    state = _run([{"tool_calls": [{"name": "open", "args": {"id_or_url": url}}]}, FINAL],
                 search=ListSearch([]), fetcher=fetcher)
    (message,) = _tool_messages(state)
    assert state["answer"]["exact_answer"] == "UFC 219"
    if charset.startswith("utf-"):  # a real codec, wrongly declared: mojibake, but no crash
        return
    assert message.status == "error" or "T-Mobile Arena" in message.text


@pytest.mark.parametrize("url", OPEN_ARGS)
def test_the_web_fetcher_turns_odd_urls_into_error_observations(url: str) -> None:
    # no name resolves (no network here): every URL must fail as an observation, never raise
    fetcher = HttpFetcher(total_timeout=5, connect_timeout=2, resolver=lambda host, port: [])
    state = _run([{"tool_calls": [{"name": "open", "args": {"id_or_url": url}}]}, FINAL],
                 search=ListSearch([]), fetcher=fetcher)
    (message,) = _tool_messages(state)
    assert message.status == "error", message.text[:200]


# -- a bounded fuzz of tool-call arguments ------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(st.characters(codec=None), max_size=60),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_ARG_NAMES = st.sampled_from(["query", "num", "id_or_url", "pattern", "url", "x"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(calls=st.lists(st.tuples(st.sampled_from(["search", "open", "find", "search", "open", "nope"]),
                                st.dictionaries(_ARG_NAMES, _JSON, max_size=3)), min_size=1, max_size=4))
def test_any_tool_call_arguments_end_in_observations_never_a_crash(corpus, calls) -> None:
    turns = [{"tool_calls": [{"name": name, "args": args} for name, args in calls]}, FINAL]
    state = _run(turns, search=corpus, fetcher=corpus)
    assert state["answer"]["exact_answer"] == "UFC 219"
    assert len(_tool_messages(state)) == len(calls)


class _BrokenBackend:
    """A third-party backend failing the way libraries do: with OSError/ValueError subclasses."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def search(self, query: str, k: int = 10) -> list[Hit]:
        raise self.exc

    def fetch(self, url: str) -> Any:
        raise self.exc


@pytest.mark.parametrize("exc", [ConnectionResetError("peer reset"), TimeoutError("slow"),
                                 OSError("disk gone"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
                                 ValueError("bad url")])
def test_backend_library_errors_become_observations(exc: Exception) -> None:
    backend = _BrokenBackend(exc)
    state = _run([{"tool_calls": [{"name": "search", "args": {"query": "x"}},
                                  {"name": "open", "args": {"id_or_url": "https://a.example/"}}]}, FINAL],
                 search=backend, fetcher=backend)
    assert [m.status for m in _tool_messages(state)] == ["error", "error"]
    assert state["answer"]["exact_answer"] == "UFC 219"
