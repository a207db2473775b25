"""Property-based tests of the reference-history parser and the one reader of a finished run.

Histories reach the parser from requests and from model output, so: generated observations parse
back to exactly what was shown; any JSON value anywhere gives a result or a
``HistoryFormatError``/``RequestError``, never another exception; ill-formed tool calls (as the
reference rollout records them) and URL-less search hits never change the other evidence.
"""

from __future__ import annotations

import contextlib
import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carr_agent.errors import DataError
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.protocol import parse_request, request_trajectory
from carr_agent.rewards.run import final_answer, read_history, read_run
from carr_agent.tools.render import render_find, render_page, render_search
from carr_agent.types import Hit, Page

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,-'éü漢", min_size=1,
                max_size=40).filter(lambda s: s.strip())
URLS = st.builds(
    lambda host, path: f"https://{host}.example/{path}",
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/?=&%.", max_size=20),
)
HITS = st.lists(st.builds(Hit, url=URLS, title=WORDS, snippet=WORDS,
                          date=st.none() | st.just("2020-01-02")), min_size=1, max_size=6)
PAGES = st.builds(Page, url=URLS, title=WORDS, text=st.text(max_size=300),
                  date=st.none() | st.just("2019-05-06"))
MATCHES = st.lists(st.text(alphabet="abcdefgh \n.,", min_size=1, max_size=60)
                   .filter(lambda s: s.strip() and not s.startswith("\n")), max_size=4)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
ILL_FORMED_CALLS = st.fixed_dictionaries({
    "tool_call_id": st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12).map(lambda s: "bad-" + s),
    "name": st.none() | st.sampled_from(["browser.search", "browser.open", "browser.find"]),
    "arguments": st.sampled_from(["null", "[1, 2]", '"q"', "3", "{oops", "true"]),
})
ANSWER = "## Explanation with Citations\nIt is X.\n## Exact Answer\nX\n## References\n"


def call(cid: str, name: str, **args) -> dict:
    return {"tool_call_id": cid, "name": name, "arguments": json.dumps(args)}


def browsing_history(hits: list[Hit], page: Page, matches: list[str]) -> list[dict]:
    return [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [call("s", "browser.search", query="q")]},
        {"role": "tool", "content": [{"tool_call_id": "s", "output": render_search(hits)}]},
        {"role": "assistant", "tool_calls": [call("o", "browser.open", id=page.url)]},
        {"role": "tool", "content": [{"tool_call_id": "o", "output": render_page(page)[0]}]},
        {"role": "assistant", "tool_calls": [call("f", "browser.find", pattern="a")]},
        {"role": "tool", "content": [{"tool_call_id": "f", "output": render_find(matches)}]},
        {"role": "assistant", "content": ANSWER},
    ]


def one_line(text: str) -> str:
    return " ".join(text.split())


@SETTINGS
@given(HITS, PAGES, MATCHES)
def test_rendered_observations_parse_back_to_what_was_shown(hits, page, matches) -> None:
    parsed = parse_history(browsing_history(hits, page, matches))
    search = [r for r in parsed.records if r["kind"] == "search"]
    assert [(r["url"], r["title"], r["text"]) for r in search] == [
        (h.url, one_line(h.title), one_line(h.snippet)) for h in hits]
    (opened,) = [r for r in parsed.records if r["kind"] == "open"]
    assert (opened["url"], opened["text"], opened["date"]) == (page.url, page.text, page.date)
    found = [r for r in parsed.records if r["kind"] == "find"]
    assert [r["text"] for r in found] == [m for m in matches if m.strip()]
    assert all(r["url"] == page.url for r in found)
    assert parsed.answer == ANSWER == final_answer(browsing_history(hits, page, matches))


@SETTINGS
@given(HITS, PAGES, MATCHES, st.lists(ILL_FORMED_CALLS, min_size=1, max_size=3), st.data())
def test_ill_formed_calls_anywhere_never_change_the_evidence(hits, page, matches, calls, data) -> None:
    history = browsing_history(hits, page, matches)
    clean = parse_history(history).records
    for bad in calls:
        at = data.draw(st.integers(min_value=1, max_value=len(history) - 1))
        with_output = data.draw(st.booleans())
        history[at:at] = [
            {"role": "assistant", "tool_calls": [bad]},
            {"role": "tool", "content": [
                {"tool_call_id": bad["tool_call_id"], "output": render_page(page)[0]} if with_output
                else {"output": "Error: bad call. Please check your function call format."}]},
        ]
    assert parse_history(history).records == clean


@SETTINGS
@given(HITS, st.data())
def test_a_hit_without_its_url_never_drops_the_others(hits, data) -> None:
    missing = data.draw(st.integers(min_value=0, max_value=len(hits) - 1))
    suffix = data.draw(st.sampled_from(["", " (redirected)", "\t(moved)"]))
    text = render_search(hits)
    lines = [ln + suffix if " URL Source: " in ln else ln for ln in text.splitlines()
             if not ln.startswith(f"[{missing}] URL Source:")]
    history = browsing_history(hits, Page(url=hits[0].url, title="t", text=""), [])
    history[2]["content"][0]["output"] = "\n".join(lines)
    search = [r["url"] for r in parse_history(history).records if r["kind"] == "search"]
    assert search == [h.url for i, h in enumerate(hits) if i != missing]


@SETTINGS
@given(st.data())
def test_any_value_anywhere_is_parsed_or_refused_never_a_crash(data) -> None:
    history = browsing_history([Hit(url="https://a.example/", title="A", snippet="s")],
                               Page(url="https://a.example/", title="A", text="x"), ["x"])
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        target, path = history, []
        while isinstance(target, (list, dict)) and target and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(range(len(target)) if isinstance(target, list)
                                            else sorted(target)))
            path.append(key)
            if not isinstance(target[key], (list, dict)):
                break
            target = target[key]
        if not path:
            continue
        holder = history
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = data.draw(JSON)
    for reader in (parse_history, read_history, final_answer):
        with contextlib.suppress(DataError):
            reader(copy.deepcopy(history))
    body = {"history": history, "label": "X", "task_unfinished": False,
            "remote_env_info": {"search_forbidden_strs": ["q"], "rubrics": ["<E0> is X."],
                                "rubric_reward_ratio": 0.5}}
    with contextlib.suppress(DataError):
        request_trajectory(parse_request(body))


@SETTINGS
@given(st.lists(JSON, max_size=4), JSON)
def test_reading_any_state_gives_an_answer_or_none(messages, answer) -> None:
    for state in ({"messages": messages, "answer": answer}, {"messages": messages}, messages):
        got = final_answer(state)
        assert got is None or (isinstance(got, str) and got.strip())
        with contextlib.suppress(DataError):
            read_run(state)
