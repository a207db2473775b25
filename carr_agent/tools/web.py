"""Web search through ddgs (the DuckDuckGo metasearch library), with retries and clean errors.

ddgs 9 raises ``DDGSException("No results found.")`` for zero results (it never returns ``[]``),
and rate limits look the same because non-200 engine answers are dropped; timeouts raise
``TimeoutException``. So every failure is retried with exponential backoff (the project's one
retry helper, :func:`carr_agent.retry.retry_async`); "no results" that persists becomes ``[]``
(the agent sees "No results found."), any other persistent failure a
:class:`carr_agent.errors.SearchError`, which the graph shows as an error observation.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from carr_agent.aio import in_daemon_thread, run_sync
from carr_agent.errors import ConfigError, SearchError
from carr_agent.retry import Backoff, retry_async
from carr_agent.types import Hit
from carr_agent.urls import normalize_url

logger = logging.getLogger(__name__)

_NO_RESULTS = "no results found"


@dataclass(frozen=True, kw_only=True)
class DuckDuckGoSearch:
    """A :class:`~carr_agent.tools.base.SearchBackend` over ddgs ``DDGS().text``.

    Args:
        timeout: seconds per engine request.
        max_retries: retries after the first attempt (so ``max_retries + 1`` attempts in all).
        backoff: seconds before the first retry; doubled for each further one (0: no waiting).
        region: ddgs region, e.g. ``"us-en"``, ``"wt-wt"`` (no region).
        backend: ddgs engines, ``"auto"`` or a comma list such as ``"duckduckgo,brave"``.
        safesearch: ``"on"``, ``"moderate"`` or ``"off"``.
        proxy: a proxy URL for ddgs (env ``DDGS_PROXY`` is honoured by ddgs otherwise).
    """

    timeout: float = 10.0
    max_retries: int = 2
    backoff: float = 1.0
    region: str = "us-en"
    backend: str = "auto"
    safesearch: str = "moderate"
    proxy: str | None = None

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be > 0, got {self.timeout}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff < 0:
            raise ConfigError(f"backoff must be >= 0, got {self.backoff}")
        if self.safesearch not in {"on", "moderate", "off"}:
            raise ConfigError(f"safesearch must be 'on', 'moderate' or 'off', got {self.safesearch!r}")

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Return up to ``k`` web hits for ``query`` (no dates, no offsets: web snippets).

        Raises:
            SearchError: every attempt failed with something other than "no results".
        """
        return run_sync(self.asearch(query, k))

    async def asearch(self, query: str, k: int = 10) -> list[Hit]:
        """Async :meth:`search` (ddgs itself is blocking: it runs in a worker thread)."""
        from ddgs.exceptions import DDGSException

        if k < 1 or not query.strip():
            return []
        backoff = Backoff(attempts=self.max_retries + 1, base_delay=self.backoff, factor=2.0,
                          max_delay=max(8.0, self.backoff), jitter=False)
        try:
            rows = await retry_async(lambda: in_daemon_thread(self._text, query, k), backoff=backoff,
                                     retry_on=(DDGSException,), describe="ddgs web search",
                                     sleep=_pause)
        except DDGSException as exc:
            if _NO_RESULTS in str(exc).lower():
                return []
            raise SearchError(f"web search failed after {self.max_retries + 1} attempts: "
                              f"{type(exc).__name__}: {exc}") from exc
        return _to_hits(rows, k)

    def _text(self, query: str, k: int) -> list[dict[str, Any]]:
        import ddgs

        with ddgs.DDGS(proxy=self.proxy, timeout=max(1, round(self.timeout))) as client:
            return client.text(query, region=self.region, safesearch=self.safesearch,
                               max_results=k, backend=self.backend)


async def _pause(seconds: float) -> None:
    """The wait between attempts (a module function so tests can record the delays)."""
    if seconds:
        await asyncio.sleep(seconds)


def _to_hits(rows: Any, k: int) -> list[Hit]:
    """Hits from ddgs rows; rows that are not objects or lack a URL string are skipped."""
    hits: list[Hit] = []
    seen: set[str] = set()
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        url = _text(row.get("href")) or _text(row.get("url"))
        if not url or " " in url or normalize_url(url) in seen:
            continue
        seen.add(normalize_url(url))
        hits.append(Hit(url=url, title=_text(row.get("title")), snippet=_text(row.get("body")),
                        date=_text(row.get("date")) or None))
        if len(hits) >= k:
            break
    return hits


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


__all__ = ["DuckDuckGoSearch"]
