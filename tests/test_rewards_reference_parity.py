"""Histories the reference reward server scores must be scored here too, the same way.

Each test pins one defect found side by side with the reference server (issue 9, items 1-5).
"""

from __future__ import annotations

import copy
import json

import pytest

from carr_agent.rewards.evidence import build_evidence_context, collect_evidence
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.judges import DeterministicJudge
from carr_agent.rewards.scorer import CarrScorer
from carr_agent.rewards.server import RewardService
from carr_agent.types import LedgerRecord
from carr_agent.urls import source_id

WIKI = "https://en.wikipedia.org/wiki/UFC_219"
UFC = "https://ufc.com/event/219"
SEARCH_OUT = (
    f"[0] Title: UFC 219\n[0] URL Source: {WIKI}\n"
    "[0] Description: UFC 219 was a mixed martial arts event held in Las Vegas.\n\n"
    f"[1] Title: UFC 219 results\n[1] URL Source: {UFC}\n"
    "[1] Description: Cris Cyborg defeated Holly Holm at UFC 219."
)
ANSWER = (
    "## Explanation with Citations\nUFC 219 was held in Las Vegas [[1](" + WIKI + ")] and Cris "
    "Cyborg beat Holly Holm [[2](" + UFC + ")].\n## Exact Answer\nUFC 219\n## References\n"
)
# the reference rollout's record of a call the policy wrote ill-formed, and its output
ILL_CALL = {"session_id": "s", "tool_call_id": "tool-call-bad", "name": None, "arguments": "null",
            "ill_formed_reasons": ["Error function call format."]}
ILL_OUTPUT = {"output": "Error: Error function call format. Please check your function call format."}


def call(cid: str, name: str, **args) -> dict:
    return {"tool_call_id": cid, "name": name, "arguments": json.dumps(args)}


def history(search_output: str = SEARCH_OUT) -> list[dict]:
    return [
        {"role": "user", "content": "Which event?"},
        {"role": "assistant", "reasoning_content": "r",
         "tool_calls": [call("tc-1", "browser.search", query="UFC 219", num=10)]},
        {"role": "tool", "content": [{"tool_call_id": "tc-1", "output": search_output}]},
        {"role": "assistant", "content": ANSWER},
    ]


def with_ill_formed(call_fields: dict, output: dict = ILL_OUTPUT) -> list[dict]:
    h = history()
    h[3:3] = [
        {"role": "assistant", "reasoning_content": "r", "tool_calls": [{**ILL_CALL, **call_fields}]},
        {"role": "tool", "content": [output]},
    ]
    return h


def body(h: list[dict], alpha: float = 0.5) -> dict:
    return {
        "history": h, "label": "UFC 219", "task_unfinished": False,
        "remote_env_info": {
            "search_forbidden_strs": ["Which MMA event?"],
            "rubrics": ["<E0> was held in Las Vegas.", "<E1> defeated Holly Holm at <E0>."],
            "rubric_reward_ratio": alpha,
            "entities": {"E0": "UFC 219", "E1": "Cris Cyborg"},
        },
    }


# -- item 1: ill-formed tool calls are recorded, never parsed -----------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {},                                                   # name null, arguments "null"
        {"ill_formed_reasons": None, "arguments": "[1, 2]"},  # name null, a JSON array
        {"name": "browser.search", "arguments": '"UFC 219"', "ill_formed_reasons": None},
        {"name": "browser.search", "arguments": "3", "ill_formed_reasons": None},
        {"name": "browser.open", "arguments": "{id: 3", "ill_formed_reasons": None},  # not JSON
        {"name": "browser.open", "arguments": None, "ill_formed_reasons": None},
        {"name": "browser.search", "arguments": '{"q": "x"}'},  # marked ill-formed by the rollout
    ],
    ids=["null-null", "array", "string", "number", "not-json", "json-null", "marked"],
)
def test_ill_formed_tool_calls_are_recorded_and_never_parsed(fields: dict) -> None:
    parsed = parse_history(with_ill_formed(fields))
    assert [r["url"] for r in parsed.records] == [WIKI, UFC]
    assert any("ill-formed tool call 'tool-call-bad'" in w for w in parsed.warnings)


def test_output_that_refers_to_an_ill_formed_call_is_ignored() -> None:
    page = f"Title: X\nURL Source: {WIKI}\nMarkdown Content:\nnot evidence"
    parsed = parse_history(with_ill_formed(
        {"name": "browser.open", "arguments": "[0]", "ill_formed_reasons": None},
        {"tool_call_id": "tool-call-bad", "output": page},
    ))
    assert all(r["text"] != "not evidence" for r in parsed.records)


async def test_server_scores_a_history_with_ill_formed_calls_like_the_reference() -> None:
    service = RewardService(None)
    clean_status, clean = await service.evaluate(body(history()))
    status, response = await service.evaluate(body(with_ill_formed({})))
    assert (clean_status, status) == (200, 200)
    assert response["reward"] == clean["reward"] == pytest.approx(1.0)


# -- item 2: one hit without its URL does not drop the others ----------------------------------


def test_search_hit_without_url_source_drops_only_that_hit() -> None:
    broken = SEARCH_OUT.replace(f"[0] URL Source: {WIKI}\n", "")
    parsed = parse_history(history(broken))
    assert [r["url"] for r in parsed.records] == [UFC]
    assert any("[0] has no 'URL Source:'" in w for w in parsed.warnings)


def test_open_by_index_still_finds_the_hit_after_a_hit_without_url() -> None:
    broken = SEARCH_OUT.replace(f"[0] URL Source: {WIKI}\n", "")
    h = history(broken)
    h[3:3] = [
        {"role": "assistant", "tool_calls": [call("tc-2", "browser.open", id=1)]},
        {"role": "tool", "content": [{"tool_call_id": "tc-2",
                                      "output": "Markdown Content:\nCyborg won."}]},
    ]
    assert parse_history(h).records[-1]["url"] == UFC


# -- item 3: "URL Source: <url> (redirected)" ---------------------------------------------------


async def test_trailing_text_after_url_source_does_not_break_citation_matching() -> None:
    h = history(SEARCH_OUT.replace(f"URL Source: {UFC}", f"URL Source: {UFC} (redirected)"))
    h[3:3] = [
        {"role": "assistant", "tool_calls": [call("tc-2", "browser.open", id=UFC)]},
        {"role": "tool", "content": [{"tool_call_id": "tc-2", "output": (
            f"Title: UFC 219\nURL Source: {UFC} (redirected)\nMarkdown Content:\nCyborg won.")}]},
    ]
    assert {r["url"] for r in parse_history(h).records} == {WIKI, UFC}
    status, response = await RewardService(None).evaluate(body(h))
    assert status == 200 and response["rubric_reward"] == 1.0


# -- item 4: a cited page seen with a title/date but empty content -------------------------------


def record(url: str, text: str, title: str = "T", date: str | None = "2017-12-31") -> LedgerRecord:
    return LedgerRecord(source_id=source_id(url), url=url, title=title, kind="open", step=1,
                        text=text, start=None, end=None, tool_call_id="tc", date=date)


def test_cited_page_seen_with_empty_content_is_shown_with_url_title_and_date() -> None:
    sources = collect_evidence([record(WIKI, "")], [WIKI])
    assert [s.url for s in sources] == [WIKI]
    context = build_evidence_context(sources)
    assert f"URL Source: {WIKI}" in context and "Title: T" in context
    assert "Published Time: 2017-12-31" in context


def test_url_cap_counts_seen_cited_urls_including_empty_ones_like_the_reference() -> None:
    urls = [f"https://e{i}.example/p" for i in range(25)]
    ledger = [record(u, "" if i % 2 else f"text {i}") for i, u in enumerate(urls)]
    cited = ["https://never-seen.example/", *urls]
    sources = collect_evidence(ledger, cited, max_urls=20)
    assert [s.url for s in sources] == urls[:20]


async def test_history_with_empty_page_content_reaches_the_support_judge() -> None:
    h = copy.deepcopy(history())
    h[3:3] = [
        {"role": "assistant", "tool_calls": [call("tc-2", "browser.open", id="https://x.example/")]},
        {"role": "tool", "content": [{"tool_call_id": "tc-2", "output": (
            "Title: Empty\nURL Source: https://x.example/\nPublished Time: 2020\nMarkdown Content:\n")}]},
    ]
    h[-1]["content"] = ANSWER.replace(UFC, "https://x.example/")
    judge = DeterministicJudge(entities={"E0": "UFC 219", "E1": "Cris Cyborg"})
    scorer = CarrScorer(judge)
    parsed = parse_history(h)
    context = scorer.evidence_context(parsed.answer, parsed.records)
    assert "[Webpage 2]\nURL Source: https://x.example/\nTitle: Empty\nPublished Time: 2020" in context
