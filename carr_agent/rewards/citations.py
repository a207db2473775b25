"""Citation extraction for the rewards: re-exported from :mod:`carr_agent.citations`.

The citation syntax lives in one place, shared with the agent graph (neither imports the other).
"""

from __future__ import annotations

from carr_agent.citations import Citation, answer_body, cited_urls, extract_citations

__all__ = ["Citation", "answer_body", "cited_urls", "extract_citations"]
