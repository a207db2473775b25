"""Search backend and page fetcher from a one-word description (``--web``/``--corpus``, or a
run's ``AgentContext.search``).

* ``"web"`` — DuckDuckGo search and live pages (needs internet);
* ``None``, ``"corpus"`` or ``"example"`` — the shipped example corpus;
* any other string — a corpus index directory (``carr-agent corpus build``) or a corpus JSONL
  (indexed into the cache on first use).
"""

from __future__ import annotations

from pathlib import Path

from carr_agent.tools.base import PageFetcher, SearchBackend

WEB = "web"
EXAMPLE_CORPUS = "corpus"


def backends_from_spec(spec: str | Path | None) -> tuple[SearchBackend, PageFetcher, str]:
    """The search backend, the page fetcher and a description of them for run records."""
    if spec == WEB:
        from carr_agent.tools.fetch import HttpFetcher
        from carr_agent.tools.web import DuckDuckGoSearch

        return DuckDuckGoSearch(), HttpFetcher(), "web:duckduckgo"
    from carr_agent.tools.corpus import open_corpus

    index = open_corpus(None if spec == EXAMPLE_CORPUS else spec)
    digest = str(index.meta.get("source_sha256", ""))[:16] or index.index_dir.name
    return index, index, f"corpus:{digest}"


__all__ = ["EXAMPLE_CORPUS", "WEB", "backends_from_spec"]
