"""Browser: search / open / find observations and ledger records, over the corpus and real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carr_agent.errors import BlockedURLError, FetchError, NoPageOpenError, ToolError
from carr_agent.tools import Browser, CorpusIndex, HttpFetcher, LeakageGuard, ToolArgumentError
from carr_agent.tools.browser import UNAVAILABLE
from carr_agent.tools.render import parse_find, parse_page, parse_search
from carr_agent.types import Hit
from carr_agent.urls import source_id

QUESTION = "Which referee worked the featherweight title bout at UFC 219 in Paradise, Nevada in 2017?"
LONG_TEXT = ("UFC 219 was held on December 30, 2017 at T-Mobile Arena in Paradise, Nevada. "
             + "Filler sentence about the undercard. " * 60
             + "The referee of the main event was Herb Dean, who first worked for the UFC in 1994.")
DOCS = [
    {"url": "https://en.example.org/wiki/UFC_219", "title": "UFC 219", "text": LONG_TEXT, "date": "2017-12-30"},
    {"url": "https://en.example.org/wiki/Herb_Dean", "title": "Herb Dean",
     "text": "Herb Dean is an American mixed martial arts referee. He refereed many UFC title bouts."},
    {"url": "https://quiz.example.com/q/1", "title": "Quiz answers",
     "text": f"Q: {QUESTION} A: see below. The referee worked the featherweight title bout at UFC 219."},
]


@pytest.fixture
def corpus(tmp_path: Path) -> CorpusIndex:
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return CorpusIndex.build(src, tmp_path / "index")


@pytest.fixture
def browser(corpus: CorpusIndex) -> Browser:
    return Browser(search=corpus, fetcher=corpus, page_budget=300, find_context=40)


def test_search_renders_hits_and_records_exact_snippets(browser: Browser, corpus: CorpusIndex) -> None:
    obs = browser.search("Herb Dean referee", 5, step=1)
    assert obs.hits and [h.url for h in parse_search(obs.text)] == [h.url for h in obs.hits]
    assert len(obs.records) == len(obs.hits)
    for rec, hit in zip(obs.records, obs.hits, strict=True):
        assert rec["kind"] == "search" and rec["step"] == 1
        assert rec["source_id"] == source_id(hit.url) and rec["url"] == hit.url
        assert f"Description: {rec['text']}" in obs.text
        page = corpus.fetch(hit.url)
        assert rec["start"] is not None and page.text[rec["start"] : rec["end"]] == rec["text"]


def test_search_without_num_uses_default_k_and_bad_num_is_an_argument_error(browser: Browser) -> None:
    assert len(browser.search("UFC", None, step=1).hits or []) <= browser.default_k
    for bad in (0, 51, -3, True, "many"):
        with pytest.raises(ToolArgumentError, match="num"):
            browser.search("UFC", bad, step=1)  # type: ignore[arg-type]
    with pytest.raises(ToolArgumentError, match="query"):
        browser.search("   ", 3, step=1)


def test_search_with_no_hits_says_so(browser: Browser) -> None:
    obs = browser.search("zzzqqqxx", 5, step=2)
    assert obs.text == "No results found." and obs.records == [] and obs.hits == []


def test_open_by_index_digit_string_or_url_shows_truncated_page(browser: Browser) -> None:
    hits = browser.search("T-Mobile Arena December 2017", 3, step=1).hits
    assert hits and hits[0].title == "UFC 219"
    for arg in (0, "0", " 0 ", "https://en.example.org/wiki/UFC_219", "en.example.org/wiki/UFC_219/"):
        obs = browser.open(arg, latest_hits=hits, step=2)
        assert obs.page is not None and obs.page.text == LONG_TEXT  # the full page, for find
        shown = parse_page(obs.text).text
        assert shown == LONG_TEXT[:300]
        [rec] = obs.records
        assert rec["kind"] == "open" and rec["text"] == shown and (rec["start"], rec["end"]) == (0, 300)
        assert rec["source_id"] == source_id("https://en.example.org/wiki/UFC_219")
        assert obs.text.startswith("Title: UFC 219\nURL Source: https://en.example.org/wiki/UFC_219\n"
                                   "Published Time: 2017-12-30\nMarkdown Content:\n")


def test_open_with_a_bad_index_names_the_valid_range(browser: Browser) -> None:
    hits = browser.search("Herb Dean", 2, step=1).hits
    assert hits
    with pytest.raises(ToolArgumentError, match=rf"0 to {len(hits) - 1}"):
        browser.open(7, latest_hits=hits, step=2)
    with pytest.raises(ToolArgumentError, match="out of range"):
        browser.open("-1", latest_hits=hits, step=2)
    with pytest.raises(ToolArgumentError, match="no search results"):
        browser.open(0, latest_hits=[], step=2)
    for bad in (True, None, 1.5, ""):
        with pytest.raises(ToolArgumentError):
            browser.open(bad, latest_hits=hits, step=2)  # type: ignore[arg-type]


def test_open_of_an_unknown_url_is_a_tool_error(browser: Browser) -> None:
    with pytest.raises(FetchError):
        browser.open("https://nowhere.example/x", latest_hits=[], step=3)


def test_find_searches_the_whole_page_beyond_the_budget(browser: Browser) -> None:
    page = browser.open("https://en.example.org/wiki/UFC_219", latest_hits=[], step=1).page
    assert page is not None and "Herb Dean" not in page.text[:300]
    obs = browser.find("herb dean", page=page, step=2)
    [rec] = obs.records
    assert parse_find(obs.text) == [rec["text"]]
    assert "Herb Dean" in rec["text"] and page.text[rec["start"] : rec["end"]] == rec["text"]
    assert rec["kind"] == "find" and rec["url"] == page.url and rec["step"] == 2


def test_find_without_an_open_page_or_pattern_is_a_tool_error(browser: Browser) -> None:
    with pytest.raises(NoPageOpenError):
        browser.find("x", page=None, step=1)
    page = browser.open("https://en.example.org/wiki/Herb_Dean", latest_hits=[], step=1).page
    with pytest.raises(ToolArgumentError, match="pattern"):
        browser.find(" ", page=page, step=2)
    obs = browser.find("quantum chromodynamics", page=page, step=3)
    assert obs.text == "No matches found." and obs.records == []


def test_leaked_hits_are_dropped_and_leaked_pages_are_unavailable(corpus: CorpusIndex) -> None:
    guarded = Browser(search=corpus, fetcher=corpus, guard=LeakageGuard([QUESTION]))
    unguarded = Browser(search=corpus, fetcher=corpus)
    query = "referee featherweight title bout UFC 219"
    assert any("quiz" in h.url for h in unguarded.search(query, 5, step=1).hits or [])
    obs = guarded.search(query, 5, step=1)
    assert obs.hits and not any("quiz" in h.url for h in obs.hits)
    assert "quiz" not in obs.text and all("quiz" not in r["url"] for r in obs.records)
    assert len(guarded.search(query, 2, step=1).hits or []) == 2  # hidden hits are made up for
    opened = guarded.open("https://quiz.example.com/q/1", latest_hits=obs.hits, step=2)
    assert opened.text == UNAVAILABLE and opened.records == [] and opened.page is None


def test_web_snippets_without_offsets_are_recorded_as_rendered() -> None:
    class StubSearch:  # a user-written backend: any object with search(query, k)
        def search(self, query: str, k: int = 10) -> list[Hit]:
            return [Hit(url="https://a.example/", title="A", snippet="two\nlines  here")]

    browser = Browser(search=StubSearch(), fetcher=HttpFetcher())
    [rec] = browser.search("q", 1, step=4).records
    assert rec["text"] == "two lines here" and rec["start"] is None and rec["end"] is None


# -- over a real HTTP server --------------------------------------------------------------------

PAGE = """<html><head><title>Herb Dean - Referee Wiki</title></head><body><article>
<h1>Herb Dean</h1>
<p>Herb Dean is an American mixed martial arts referee and former fighter from Los Angeles.</p>
<p>He first worked for the Ultimate Fighting Championship in 1994 and has since refereed hundreds
of bouts, including the featherweight title bout between Cris Cyborg and Holly Holm at UFC 219.</p>
<p>Dean is also a certified trainer and coaches referees for several athletic commissions.</p>
</article></body></html>"""


def test_search_open_find_against_a_real_local_web_server(http_server, tmp_path: Path) -> None:
    final = http_server.route("/wiki/Herb_Dean", PAGE)
    moved = http_server.route("/people/dean", status=301, headers={"Location": "/wiki/Herb_Dean"},
                              content_type=None)
    src = tmp_path / "docs.jsonl"
    src.write_text(json.dumps({"url": moved, "title": "Herb Dean", "text": "Herb Dean referee bio."}) + "\n")
    index = CorpusIndex.build(src, tmp_path / "index")
    browser = Browser(search=index, fetcher=HttpFetcher(allow_hosts=("127.0.0.1",)), page_budget=2000)

    hits = browser.search("Herb Dean referee", 3, step=1).hits
    assert hits and hits[0].url == moved
    opened = browser.open(0, latest_hits=hits, step=2)
    assert opened.page is not None and opened.page.url == final
    assert "first worked for the Ultimate Fighting Championship in 1994" in opened.page.text
    # the redirect: evidence is recorded for the final URL and for the URL the agent opened
    assert [r["url"] for r in opened.records] == [final, moved]
    assert all(r["text"] == parse_page(opened.text).text for r in opened.records)
    found = browser.find("worked for the ultimate fighting", page=opened.page, step=3)
    [rec] = found.records
    assert "1994" in rec["text"] and opened.page.text[rec["start"] : rec["end"]] == rec["text"]

    default = Browser(search=index, fetcher=HttpFetcher())
    with pytest.raises(BlockedURLError) as err:
        default.open(0, latest_hits=hits, step=4)
    assert isinstance(err.value, ToolError)
