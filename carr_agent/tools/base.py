"""The two backend seams of the browsing tools, and the error for bad tool arguments.

Any object with ``search(query, k) -> list[Hit]`` is a search backend and any object with
``fetch(url) -> Page`` is a page fetcher: callers pass objects, never backend names. The offline
corpus (:class:`carr_agent.tools.corpus.CorpusIndex`) is both.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from carr_agent.errors import ToolArgumentError
from carr_agent.types import Hit, Page


@runtime_checkable
class SearchBackend(Protocol):
    """Something that answers a text query with ranked hits.

    Implementations return ``[]`` when nothing matches and raise
    :class:`carr_agent.errors.SearchError` when the engine itself fails.
    """

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Return at most ``k`` hits for ``query``, best first."""
        ...


@runtime_checkable
class PageFetcher(Protocol):
    """Something that turns a URL into a page's clean text.

    Implementations raise :class:`carr_agent.errors.FetchError` (or its subclass
    :class:`carr_agent.errors.BlockedURLError`) when the page cannot be had.
    """

    def fetch(self, url: str) -> Page:
        """Return the page at ``url`` with its full clean text."""
        ...


__all__ = ["PageFetcher", "SearchBackend", "ToolArgumentError"]
