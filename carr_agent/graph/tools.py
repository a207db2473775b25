"""The browsing tools as LangChain tools: ``search``, ``open`` and ``find`` over a Browser.

The model sees these tools' schemas (``bind_tools``); the agent's tools node invokes them, so
LangChain callbacks (``on_tool_start`` / ``on_tool_end``) fire as for any tool and each call
returns a ``ToolMessage`` whose ``artifact`` is the list of ledger records the observation adds.

The tools are built once per graph. Browsing state (latest search results, open page, step
counter) is not kept in them: a :class:`BrowsingSession` is made from the graph state for one
tools step and handed to each call as an injected argument (``InjectedToolArg``: not part of the
schema the model sees); the tools act on it, and the node writes it back into the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from langchain_core.tools import BaseTool, InjectedToolArg, StructuredTool
from pydantic import BaseModel, Field, SkipValidation

from carr_agent.tools.browser import Browser, Observation
from carr_agent.types import Hit, LedgerRecord, Page

#: Names of the built-in tools, in the order they are offered to the model.
BROWSER_TOOL_NAMES = ("search", "open", "find")


#: The injected argument carrying the :class:`BrowsingSession` of the current tools step.
SESSION_ARG = "session"


class _SessionArg(BaseModel):
    """The injected session argument every browsing tool takes (hidden from the model)."""

    session: Annotated[SkipValidation[Any], InjectedToolArg] = None


class SearchInput(_SessionArg):
    """Arguments of ``search``."""

    query: str = Field(description="What to search for: keywords or a short question.")
    num: int = Field(default=10, description="How many results to return (1 to 50).")


class OpenInput(_SessionArg):
    """Arguments of ``open``."""

    id_or_url: int | str = Field(
        description="The index [i] of a result of the latest search, or a URL to open."
    )


class FindInput(_SessionArg):
    """Arguments of ``find``."""

    pattern: str = Field(description="Text to look for in the open page (case-insensitive).")


@dataclass
class BrowsingSession:
    """The browsing state of one tools step: read from graph state, changed by the tools.

    Attributes:
        browser: does the searching, fetching and finding.
        latest_hits: results of the latest search (``open(i)`` indexes into them).
        page: the open page (full text) or ``None``.
        step: the step number the next observation is recorded under.
        changed: which of ``latest_hits`` / ``page`` the tools changed.
    """

    browser: Browser = field(repr=False)
    latest_hits: list[Hit] = field(default_factory=list, repr=False)
    page: Page | None = field(default=None, repr=False)
    step: int = 0
    changed: set[str] = field(default_factory=set)

    def search(self, query: str, num: int = 10) -> tuple[str, list[LedgerRecord]]:
        """Run ``search``; its hits become the latest results."""
        obs = self.browser.search(query, num, step=self.step)
        self.latest_hits = list(obs.hits or [])
        self.changed.add("latest_hits")
        return _out(obs)

    def open(self, id_or_url: int | str) -> tuple[str, list[LedgerRecord]]:
        """Run ``open``; the page becomes the open page (none when the page was hidden)."""
        obs = self.browser.open(id_or_url, latest_hits=self.latest_hits, step=self.step)
        self.page = obs.page
        self.changed.add("page")
        return _out(obs)

    def find(self, pattern: str) -> tuple[str, list[LedgerRecord]]:
        """Run ``find`` in the open page."""
        return _out(self.browser.find(pattern, page=self.page, step=self.step))


def _out(obs: Observation) -> tuple[str, list[LedgerRecord]]:
    return obs.text, list(obs.records)


def _search(query: str, num: int = 10, session: BrowsingSession | None = None) -> tuple[str, list[LedgerRecord]]:
    return _session(session).search(query, num)


def _open(id_or_url: int | str, session: BrowsingSession | None = None) -> tuple[str, list[LedgerRecord]]:
    return _session(session).open(id_or_url)


def _find(pattern: str, session: BrowsingSession | None = None) -> tuple[str, list[LedgerRecord]]:
    return _session(session).find(pattern)


def _session(session: BrowsingSession | None) -> BrowsingSession:
    if not isinstance(session, BrowsingSession):
        raise TypeError(f"browsing tools need the injected {SESSION_ARG!r} argument (a BrowsingSession)")
    return session


def browser_tools() -> list[BaseTool]:
    """The ``search`` / ``open`` / ``find`` tools; each call names its session (``SESSION_ARG``).

    Built once per graph; invoke with ``{"type": "tool_call", "id": ..., "name": ..., "args":
    {**model_args, "session": session}}``.
    """
    return [
        StructuredTool.from_function(
            func=_search,
            name="search",
            description=(
                "Search for pages. Returns numbered results [i] with title, URL, snippet and "
                "date; open a result with open(i)."
            ),
            args_schema=SearchInput,
            response_format="content_and_artifact",
        ),
        StructuredTool.from_function(
            func=_open,
            name="open",
            description=(
                "Open result i of the latest search, or a URL. Shows the page's title, URL, "
                "date and text (long pages are truncated; use find to reach the rest)."
            ),
            args_schema=OpenInput,
            response_format="content_and_artifact",
        ),
        StructuredTool.from_function(
            func=_find,
            name="find",
            description=(
                "Find a pattern in the currently open page; shows each match with the text "
                "around it."
            ),
            args_schema=FindInput,
            response_format="content_and_artifact",
        ),
    ]


__all__ = [
    "BROWSER_TOOL_NAMES",
    "SESSION_ARG",
    "BrowsingSession",
    "FindInput",
    "OpenInput",
    "SearchInput",
    "browser_tools",
]
