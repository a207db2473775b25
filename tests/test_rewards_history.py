"""Reference-format histories: parsed into evidence, malformed ones give clear errors."""

from __future__ import annotations

import copy
import json

import pytest

from carr_agent.errors import HistoryFormatError, TaskFormatError
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.judges import DeterministicJudge
from carr_agent.rewards.run import final_answer
from carr_agent.rewards.scorer import CarrScorer
from carr_agent.tools.render import FindMatch, render_find, render_page, render_search
from carr_agent.types import Hit, Page

WIKI = "https://en.wikipedia.org/wiki/UFC_219"
HITS = [
    Hit(url=WIKI, title="UFC 219", snippet="UFC 219: Cyborg vs. Holm was a mixed martial arts event "
        "held in Las Vegas.", date="2017-12-30"),
    Hit(url="https://ufc.com/event/219", title="UFC 219 results", snippet="Cyborg retained the title."),
]
PAGE = Page(url="https://ufc.com/event/219", title="UFC 219 results",
            text="Cris Cyborg defeated Holly Holm by unanimous decision. " * 3, date="2017-12-31")
ANSWER = (
    "## Explanation with Citations\nUFC 219 was held in Las Vegas [[1](" + WIKI + ")] and Cris "
    "Cyborg beat Holly Holm [[2](https://www.ufc.com/event/219/)].\n"
    "## Exact Answer\nUFC 219\n## References\n[1] " + WIKI
)


def call(cid: str, name: str, **args) -> dict:
    return {"tool_call_id": cid, "name": name, "arguments": json.dumps(args)}


def history() -> list[dict]:
    return [
        {"role": "user", "content": "Which event? Answer in the format ..."},
        {"role": "assistant", "reasoning_content": "search",
         "tool_calls": [call("tc-1", "browser.search", query="UFC 219", num=10)]},
        {"role": "tool", "content": [{"tool_call_id": "tc-1", "output": render_search(HITS)}]},
        {"role": "assistant", "tool_calls": [call("tc-2", "browser.open", id=1)]},
        {"role": "tool", "content": [{"tool_call_id": "tc-2",
                                      "output": render_page(PAGE, budget=60)[0]}]},
        {"role": "assistant", "tool_calls": [call("tc-3", "browser.find", pattern="decision")]},
        {"role": "tool", "content": [{"tool_call_id": "tc-3", "output": render_find(
            [FindMatch(text="Holly Holm by unanimous decision", start=0, end=10)])}]},
        {"role": "assistant", "content": ANSWER},
    ]


def test_valid_history_yields_search_open_find_records_and_answer() -> None:
    parsed = parse_history(history())
    kinds = [(r["kind"], r["url"]) for r in parsed.records]
    assert kinds == [("search", WIKI), ("search", "https://ufc.com/event/219"),
                     ("open", "https://ufc.com/event/219"), ("find", "https://ufc.com/event/219")]
    assert parsed.records[2]["text"] == PAGE.text[:60]
    assert parsed.records[0]["date"] == "2017-12-30"
    assert [r["step"] for r in parsed.records] == [1, 1, 2, 3]
    assert parsed.answer == ANSWER and parsed.question.startswith("Which event?")
    assert parsed.warnings == ()


def test_open_by_integer_id_resolves_through_latest_search_results() -> None:
    h = history()
    h[4]["content"][0]["output"] = "Markdown Content:\nA page whose header was lost."
    parsed = parse_history(h)
    assert parsed.records[2]["url"] == "https://ufc.com/event/219"
    assert parsed.records[2]["text"] == "A page whose header was lost."


def test_find_matches_go_to_the_most_recently_opened_page() -> None:
    h = history()
    other = Page(url="https://other.org/p", title="Other", text="Other text")
    h[5:5] = [
        {"role": "assistant", "tool_calls": [call("tc-9", "browser.open", id="https://other.org/p")]},
        {"role": "tool", "content": [{"tool_call_id": "tc-9", "output": render_page(other)[0]}]},
    ]
    assert parse_history(h).records[-1]["url"] == "https://other.org/p"


def test_tolerated_oddities_are_skipped_with_warnings() -> None:
    h = history()
    h[2]["content"].append({"output": "no id"})
    h[4]["content"][0]["output"] = "Error: fetch failed (404)"
    h.insert(5, {"role": "assistant", "tool_calls": [call("tc-7", "browser.scroll", n=1)]})
    h.insert(6, {"role": "tool", "content": [{"tool_call_id": "tc-7", "output": "scrolled"}]})
    parsed = parse_history(h)
    assert [r["kind"] for r in parsed.records] == ["search", "search"]  # find: no page open
    assert len(parsed.warnings) == 4


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: h[2]["content"][0].update(tool_call_id="tc-404"), "unknown tool_call_id 'tc-404'"),
        (lambda h: h[2].pop("content"), "tool message has no 'content'"),
        (lambda h: h[2]["content"][0].update(output=["a", "list"]), "list, not a string"),
        (lambda h: h.insert(1, "not a dict"), "message 1 is not an object"),
        (lambda h: h.clear(), "history is empty"),
    ],
)
def test_malformed_histories_raise_clear_errors(mutate, message) -> None:
    h = copy.deepcopy(history())
    mutate(h)
    with pytest.raises(HistoryFormatError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_history(h)


def test_final_answer_of_unfinished_history_is_none() -> None:
    assert final_answer(history()) == ANSWER
    assert final_answer(history()[:-1]) is None
    assert final_answer([]) is None
    assert parse_history(history()[:-1]).answer is None  # evidence is still parsed


async def test_score_history_with_deterministic_gold_judge() -> None:
    remote_env_info = {
        "search_forbidden_strs": ["Which MMA event ...?"],
        "rubrics": ["<E0> was held in Las Vegas.", "<E1> defeated Holly Holm at <E0>."],
        "rubric_reward_ratio": 0.5,
    }
    judge = DeterministicJudge(entities={"E0": "UFC 219", "E1": "Cris Cyborg"})
    result = await CarrScorer(judge).ascore_history(history(), "UFC 219", remote_env_info)
    assert [s.score for s in result.rubric_scores] == [1, 1]
    assert result.reward == pytest.approx(0.5 * 1 + 0.5 * 1)
    with pytest.raises(TaskFormatError, match="search_forbidden_strs"):
        await CarrScorer(judge).ascore_history(history(), "UFC 219", {"rubrics": []})
    with pytest.raises(TaskFormatError, match="rubric_reward_ratio"):
        await CarrScorer(judge).ascore_history(
            history(), "UFC 219", {**remote_env_info, "rubric_reward_ratio": 2})
