"""The browser: search / open / find over pluggable backends, yielding ledger records.

Stateless per call: the latest hits and the open page are passed in and handed back in the
:class:`Observation`, so the browsing state can live in LangGraph state (or anywhere else). Each
observation carries the text the model sees (the reference formats of
:mod:`carr_agent.tools.render`) and the citation-ledger records for it: for every source, exactly
the text shown and, when known, its offsets in the page text.

Failures the agent can recover from raise :class:`carr_agent.errors.ToolError` subclasses with
messages written for the model (a backend's own ``ValueError``/``UnicodeError``/``OSError`` is
mapped to a ``SearchError``/``FetchError`` here, at the seam); leaked hits and pages (see
:mod:`carr_agent.tools.leakage`) are hidden, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from carr_agent.errors import ConfigError, FetchError, NoPageOpenError, SearchError, ToolError
from carr_agent.tools.base import PageFetcher, SearchBackend, ToolArgumentError
from carr_agent.tools.find import find_in_text
from carr_agent.tools.leakage import LeakageGuard
from carr_agent.tools.render import render_find, render_page, render_search
from carr_agent.types import Hit, LedgerRecord, ObservationKind, Page
from carr_agent.urls import normalize_url, source_id

logger = logging.getLogger(__name__)

#: The most hits one search may ask for.
MAX_K = 50
#: The longest ``find`` pattern (a 22,000-character pattern took ~10 s on a 1 MB page).
MAX_FIND_PATTERN = 1_000
#: Shown instead of a page that quotes the question.
UNAVAILABLE = "This page is unavailable. Open another result or search again."


@dataclass(frozen=True)
class Observation:
    """The outcome of one tool call.

    Attributes:
        text: what the model sees (reference format).
        records: what the citation ledger gains (empty for e.g. a hidden page).
        hits: set by ``search``: the new "latest results" that ``open(i)`` indexes into.
        page: set by ``open``: the new open page, with its FULL text (``find`` searches all of it).
    """

    text: str
    records: list[LedgerRecord]
    hits: list[Hit] | None = None
    page: Page | None = None


class Browser:
    """search / open / find for an agent, over any search backend and page fetcher.

    Args:
        search: the search backend (anything with ``search(query, k)``).
        fetcher: the page fetcher (anything with ``fetch(url)``).
        guard: hides hits and pages quoting the question; ``None`` hides nothing.
        page_budget: characters of an opened page shown to the model (``find`` sees all).
        find_context: characters shown on each side of a ``find`` match.
        max_find_matches: the most matches one ``find`` returns.
        default_k: hits per search when the model gives no ``num``.
    """

    def __init__(
        self,
        *,
        search: SearchBackend,
        fetcher: PageFetcher,
        guard: LeakageGuard | None = None,
        page_budget: int = 10_000,
        find_context: int = 200,
        max_find_matches: int = 10,
        default_k: int = 10,
    ) -> None:
        if page_budget < 1:
            raise ConfigError(f"page_budget must be >= 1, got {page_budget}")
        if find_context < 0:
            raise ConfigError(f"find_context must be >= 0, got {find_context}")
        if max_find_matches < 1:
            raise ConfigError(f"max_find_matches must be >= 1, got {max_find_matches}")
        if not 1 <= default_k <= MAX_K:
            raise ConfigError(f"default_k must be in 1..{MAX_K}, got {default_k}")
        self.search_backend = search
        self.fetcher = fetcher
        self.guard = guard
        self.page_budget = page_budget
        self.find_context = find_context
        self.max_find_matches = max_find_matches
        self.default_k = default_k

    # -- search -------------------------------------------------------------------------------

    def search(self, query: str, num: int | None = None, *, step: int) -> Observation:
        """Search and show the hits; hits quoting the question are dropped.

        Raises:
            ToolArgumentError: empty query or ``num`` outside 1..50.
            SearchError: the backend failed.
        """
        if not isinstance(query, str) or not query.strip():
            raise ToolArgumentError("search needs a non-empty `query` string")
        k = self._k(num)
        # with a guard, ask for a few more so hidden hits do not shrink the page of results
        asked = min(MAX_K, k + 5) if self.guard else k
        try:
            found = self.search_backend.search(query.strip(), asked)
        except ToolError:
            raise
        except (ValueError, OSError) as exc:  # a query it cannot take, a network error
            raise SearchError(f"search failed for {query!r}: {type(exc).__name__}: {exc}") from exc
        hits = [h for h in found if not self._leaks(h)][:k]
        text = render_search(hits)
        records = [self._hit_record(h, step) for h in hits]
        return Observation(text=text, records=records, hits=hits)

    def _k(self, num: int | str | None) -> int:
        if num is None:
            return self.default_k
        if isinstance(num, str) and num.strip().isdigit():
            num = int(num)
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_K:
            raise ToolArgumentError(f"`num` must be an integer from 1 to {MAX_K}, got {num!r}")
        return num

    def _leaks(self, hit: Hit) -> bool:
        return self.guard is not None and self.guard.any_leaked((hit.title, hit.snippet))

    # -- open ---------------------------------------------------------------------------------

    def open(self, id_or_url: int | str, *, latest_hits: Sequence[Hit], step: int) -> Observation:
        """Open a search result by its index in ``latest_hits`` (or a digit string) or a URL.

        Raises:
            ToolArgumentError: an index out of range, or an argument that is neither.
            FetchError: the page could not be fetched (BlockedURLError: refused by the guard).
        """
        url = self._resolve(id_or_url, latest_hits)
        try:
            page = self.fetcher.fetch(url)
        except ToolError:
            raise
        except (ValueError, OSError) as exc:  # a URL it cannot parse, a network error
            raise FetchError(f"cannot open {url!r}: {type(exc).__name__}: {exc}") from exc
        if self.guard is not None and self.guard.any_leaked((page.title, page.text)):
            logger.info("hid page %s: it quotes the question", page.url)
            return Observation(text=UNAVAILABLE, records=[])
        text, shown = render_page(page, budget=self.page_budget)
        records = [_record(page.url, page.title, "open", step, shown, 0, len(shown), page.date)]
        if normalize_url(url) != normalize_url(page.url):
            # the page moved (redirect, canonical URL): it is evidence for the URL asked for too
            records.append(_record(url, page.title, "open", step, shown, 0, len(shown), page.date))
        return Observation(text=text, records=records, page=page)

    def _resolve(self, id_or_url: int | str, hits: Sequence[Hit]) -> str:
        index: int | None = None
        if isinstance(id_or_url, bool):
            raise ToolArgumentError(f"`id` must be a result index or a URL, got {id_or_url!r}")
        if isinstance(id_or_url, int):
            index = id_or_url
        elif isinstance(id_or_url, str):
            stripped = id_or_url.strip()
            if stripped.lstrip("-").isdigit():
                index = int(stripped)
            elif not stripped:
                raise ToolArgumentError("`id` is empty: give a result index or a URL")
            else:
                return stripped
        else:
            raise ToolArgumentError(f"`id` must be a result index or a URL, got {id_or_url!r}")
        if not hits:
            raise ToolArgumentError(f"there are no search results to open by index {index}; "
                                    "search first or open a URL")
        if not 0 <= index < len(hits):
            raise ToolArgumentError(f"result index {index} is out of range: the latest search "
                                    f"has results 0 to {len(hits) - 1}")
        return hits[index].url

    # -- find ---------------------------------------------------------------------------------

    def find(self, pattern: str, *, page: Page | None, step: int) -> Observation:
        """Find ``pattern`` in the open page (its full text) and show the matches in context.

        Raises:
            NoPageOpenError: no page is open.
            ToolArgumentError: empty pattern, or one over :data:`MAX_FIND_PATTERN` characters.
        """
        if page is None:
            raise NoPageOpenError(
                "no page is open: call `open` first with a result number from the latest search "
                "(e.g. open with id_or_url 0) or a URL, then `find` searches inside that page"
            )
        if not isinstance(pattern, str) or not pattern.strip():
            raise ToolArgumentError("find needs a non-empty `pattern` string")
        if len(pattern) > MAX_FIND_PATTERN:
            raise ToolArgumentError(f"the `pattern` is {len(pattern)} characters long; give a "
                                    f"phrase of at most {MAX_FIND_PATTERN} characters")
        matches = find_in_text(page.text, pattern, context=self.find_context,
                               max_matches=self.max_find_matches)
        records = [_record(page.url, page.title, "find", step, m.text, m.start, m.end, page.date)
                   for m in matches]
        return Observation(text=render_find(matches), records=records)

    # -- records --------------------------------------------------------------------------------

    @staticmethod
    def _hit_record(hit: Hit, step: int) -> LedgerRecord:
        shown = " ".join(hit.snippet.split())  # exactly the rendered Description line
        exact = shown == hit.snippet and hit.start is not None and hit.end is not None
        return _record(hit.url, hit.title, "search", step, shown,
                       hit.start if exact else None, hit.end if exact else None, hit.date)


def _record(url: str, title: str, kind: ObservationKind, step: int, text: str,
            start: int | None, end: int | None, date: str | None) -> LedgerRecord:
    return LedgerRecord(source_id=source_id(url), url=url, title=title, kind=kind, step=step,
                        text=text, start=start, end=end, date=date)


__all__ = ["MAX_FIND_PATTERN", "MAX_K", "UNAVAILABLE", "Browser", "Observation"]
