"""Round trips of the tool-observation text contract and URL normalisation."""

from __future__ import annotations

import pytest

from carr_agent.errors import HistoryFormatError
from carr_agent.tools.render import (
    NO_RESULTS,
    FindMatch,
    parse_find,
    parse_page,
    parse_search,
    parse_search_blocks,
    render_find,
    render_page,
    render_search,
)
from carr_agent.types import Hit, Page
from carr_agent.urls import normalize_url, source_id


def test_search_render_parses_back_to_the_same_hits() -> None:
    hits = [
        Hit(url="https://en.example.org/wiki/UFC_219", title="UFC 219", snippet="An event.", date="2017-12-30"),
        Hit(url="https://news.example.com/a?b=1", title="Second: with colon", snippet="No date here."),
    ]
    assert parse_search(render_search(hits)) == hits


def test_empty_search_renders_no_results_and_parses_to_nothing() -> None:
    assert render_search([]) == NO_RESULTS
    assert parse_search(NO_RESULTS) == []


def test_search_hit_without_url_is_left_out_and_the_others_kept() -> None:
    text = ("[0] Title: Orphan\n[0] Description: no url\n\n"
            "[1] Title: Kept\n[1] URL Source: https://b.example/x\n[1] Description: d")
    assert parse_search(text) == [Hit(url="https://b.example/x", title="Kept", snippet="d")]
    assert [(i, h is None) for i, h in parse_search_blocks(text)] == [(0, True), (1, False)]


@pytest.mark.parametrize("suffix", [" (redirected)", "  redirected from https://old.example/", "\t#"])
def test_text_after_the_url_is_not_part_of_it(suffix: str) -> None:
    url = "https://a.example/final"
    assert parse_search(f"[0] Title: T\n[0] URL Source: {url}{suffix}\n[0] Description: d")[0].url == url
    assert parse_page(f"Title: T\nURL Source: {url}{suffix}\nMarkdown Content:\nbody").url == url


def test_page_render_truncates_to_budget_and_parses_back() -> None:
    page = Page(url="https://x.example/p", title="P", text="line one\nline two\n" * 50, date="2020-01-02")
    observation, shown = render_page(page, budget=30)
    assert shown == page.text[:30]
    back = parse_page(observation)
    assert back == Page(url=page.url, title="P", text=shown, date="2020-01-02")


def test_page_without_url_source_is_a_clear_error() -> None:
    with pytest.raises(HistoryFormatError, match="URL Source"):
        parse_page("Title: nothing\nMarkdown Content:\nbody")


def test_find_render_parses_back_including_blank_lines_inside_matches() -> None:
    matches = [FindMatch("alpha\n\nbeta", 0, 11), FindMatch("gamma", 20, 25)]
    assert parse_find(render_find(matches)) == ["alpha\n\nbeta", "gamma"]


@pytest.mark.parametrize(
    "variant",
    [
        "http://en.example.org/wiki/UFC_219",
        "https://www.en.example.org/wiki/UFC_219/",
        "HTTPS://EN.EXAMPLE.ORG/wiki/UFC_219#Results",
        "view-source:https://en.example.org/wiki/UFC_219",
        "https://r.jina.ai/https://en.example.org/wiki/UFC_219",
        "https://en.example.org:443/wiki/UFC_219",
        " <https://en.example.org/wiki/UFC%5F219> ",
    ],
)
def test_url_variants_normalise_to_one_key(variant: str) -> None:
    assert normalize_url(variant) == "en.example.org/wiki/UFC_219"
    assert source_id(variant) == source_id("https://en.example.org/wiki/UFC_219")


def test_different_paths_and_queries_stay_different() -> None:
    assert normalize_url("https://a.org/x?id=1") != normalize_url("https://a.org/x?id=2")
    assert normalize_url("https://a.org/x") != normalize_url("https://a.org/y")
