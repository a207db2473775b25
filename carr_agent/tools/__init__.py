"""The agent's browsing tools, usable without carr_agent's graph.

* :class:`Browser` — ``search`` / ``open`` / ``find`` producing the model's observation text and
  citation-ledger records, over any :class:`SearchBackend` and :class:`PageFetcher`.
* Backends: :class:`CorpusIndex` (offline tantivy corpus; both search and fetch),
  :func:`default_corpus` (the shipped example corpus), :class:`DuckDuckGoSearch` (web search via
  ddgs) and :class:`HttpFetcher` (web pages behind an SSRF guard, text via trafilatura).
* Pure helpers: :func:`find_in_text`, :class:`LeakageGuard`.

Heavy libraries (tantivy, httpx, ddgs, trafilatura) are imported when first used.
"""

from carr_agent.tools.base import PageFetcher, SearchBackend, ToolArgumentError
from carr_agent.tools.browser import Browser, Observation
from carr_agent.tools.corpus import CorpusIndex, default_corpus
from carr_agent.tools.fetch import HttpFetcher
from carr_agent.tools.find import find_in_text
from carr_agent.tools.leakage import LeakageGuard
from carr_agent.tools.web import DuckDuckGoSearch

__all__ = [
    "Browser",
    "CorpusIndex",
    "DuckDuckGoSearch",
    "HttpFetcher",
    "LeakageGuard",
    "Observation",
    "PageFetcher",
    "SearchBackend",
    "ToolArgumentError",
    "default_corpus",
    "find_in_text",
]
