"""DuckDuckGoSearch: ddgs results and error paths (the DDGS class replaced at the vendor seam)."""

from __future__ import annotations

from typing import Any, ClassVar

import ddgs
import pytest
from ddgs.exceptions import DDGSException, TimeoutException

from carr_agent.errors import ConfigError, SearchError
from carr_agent.tools import Browser, DuckDuckGoSearch, HttpFetcher
from carr_agent.types import Hit


class ScriptedDDGS:
    """Stands in for ddgs.DDGS: each text() call takes the next scripted outcome."""

    script: ClassVar[list[Any]] = []
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, proxy: str | None = None, timeout: int | None = 5, **kw: Any) -> None:
        self.timeout = timeout

    def __enter__(self) -> ScriptedDDGS:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        ScriptedDDGS.calls.append({"query": query, "timeout": self.timeout, **kwargs})
        outcome = ScriptedDDGS.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedDDGS]:
    monkeypatch.setattr(ddgs, "DDGS", ScriptedDDGS)
    ScriptedDDGS.script, ScriptedDDGS.calls = [], []
    return ScriptedDDGS


ROWS = [
    {"title": "UFC 219 - Wikipedia", "href": "https://en.wikipedia.org/wiki/UFC_219", "body": "UFC 219 was..."},
    {"title": "dup", "href": "http://www.en.wikipedia.org/wiki/UFC_219/", "body": "same page"},
    {"title": "Holm", "href": "https://example.com/holm", "body": "Holly Holm..."},
    {"title": "no url", "body": "dropped"},
]


def test_results_become_hits_without_duplicates(scripted) -> None:
    scripted.script = [ROWS]
    hits = DuckDuckGoSearch(region="wt-wt", backend="duckduckgo", timeout=7).search("ufc 219", 5)
    assert hits == [Hit(url=ROWS[0]["href"], title=ROWS[0]["title"], snippet=ROWS[0]["body"]),
                    Hit(url=ROWS[2]["href"], title="Holm", snippet="Holly Holm...")]
    [call] = scripted.calls
    assert call["region"] == "wt-wt" and call["backend"] == "duckduckgo"
    assert call["max_results"] == 5 and call["timeout"] == 7


def test_persistent_no_results_becomes_an_empty_list_after_retries(scripted) -> None:
    scripted.script = [DDGSException("No results found.")] * 3
    assert DuckDuckGoSearch(max_retries=2, backoff=0).search("zzqqxx", 5) == []
    assert len(scripted.calls) == 3  # "no results" may be a rate limit: retried


def test_transient_timeout_is_retried_with_exponential_backoff(scripted, monkeypatch) -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr("carr_agent.tools.web._pause", record)
    scripted.script = [TimeoutException("timed out"), DDGSException("No results found."), ROWS[:1]]
    hits = DuckDuckGoSearch(max_retries=3, backoff=0.5).search("ufc", 3)
    assert [h.url for h in hits] == [ROWS[0]["href"]]
    assert sleeps == [0.5, 1.0]


def test_persistent_failure_raises_search_error_naming_the_cause(scripted) -> None:
    scripted.script = [TimeoutException("read timed out")] * 2
    with pytest.raises(SearchError, match="after 2 attempts: TimeoutException: read timed out"):
        DuckDuckGoSearch(max_retries=1, backoff=0).search("ufc", 3)
    scripted.script = [DDGSException("DNSError: no network")]
    with pytest.raises(SearchError, match="DNSError") as err:
        DuckDuckGoSearch(max_retries=0).search("ufc", 3)
    assert isinstance(err.value.__cause__, DDGSException)


def test_browser_shows_no_results_and_propagates_search_errors(scripted) -> None:
    browser = Browser(search=DuckDuckGoSearch(max_retries=0), fetcher=HttpFetcher())
    scripted.script = [DDGSException("No results found.")]
    assert browser.search("nothing", 3, step=1).text == "No results found."
    scripted.script = [TimeoutException("slow")]
    with pytest.raises(SearchError):
        browser.search("slow", 3, step=2)


def test_bad_config_is_rejected() -> None:
    for kwargs in ({"timeout": 0}, {"max_retries": -1}, {"backoff": -1}, {"safesearch": "strict"}):
        with pytest.raises(ConfigError):
            DuckDuckGoSearch(**kwargs)


@pytest.mark.network
def test_real_duckduckgo_search_returns_hits() -> None:
    hits = DuckDuckGoSearch(backend="duckduckgo", max_retries=2).search("UFC 219 Cyborg Holm", 5)
    assert hits and all(h.url.startswith("http") for h in hits)


def test_odd_rows_from_the_engine_are_skipped_not_a_crash(scripted) -> None:
    scripted.script = [[None, "a string", {"href": 123, "title": "x"}, {"href": None},
                        {"href": "https://ok.example/a", "title": ["list"], "body": {"b": 1}, "date": 5},
                        {"href": "not a url with spaces"}, {"url": "  https://ok.example/b  "}]]
    hits = DuckDuckGoSearch(max_retries=0).search("odd", 10)
    assert hits == [Hit(url="https://ok.example/a", title="", snippet=""),
                    Hit(url="https://ok.example/b", title="", snippet="")]
