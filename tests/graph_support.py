"""Test doubles and data for the graph tests: a scripted tool-calling fake model, a small corpus.

The fake model is langchain-core's ``GenericFakeChatModel`` with ``bind_tools``; it records what
it was asked (messages and bound tools) so tests can check what the model saw. Turns are made
fresh on every call: returning one ``AIMessage`` object twice would make ``add_messages`` replace
the earlier one (same id) instead of appending.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from carr_agent.types import Hit, Page

UFC_URL = "https://en.wikipedia.org/wiki/UFC_219"
HOLM_URL = "https://example.org/holly-holm"
DEAN_URL = "https://example.org/herb-dean"

#: A small corpus: the UFC page is long so `open` truncates it and `find` reaches past the cut.
CORPUS = [
    {
        "url": UFC_URL,
        "title": "UFC 219",
        "text": (
            "UFC 219: Cyborg vs. Holm was a mixed martial arts event produced by the Ultimate "
            "Fighting Championship held on December 30, 2017 at T-Mobile Arena in Paradise, "
            "Nevada. " + "The card featured many bouts on the preliminary portion. " * 40
            + "In the main event Cris Cyborg defended the featherweight title against Holly "
            "Holm. The referee of the main event was Herb Dean."
        ),
        "date": "2017-12-30",
    },
    {
        "url": HOLM_URL,
        "title": "Holly Holm",
        "text": "Holly Holm is an American mixed martial artist and former boxer. She fought "
                "Cris Cyborg at UFC 219 for the featherweight title.",
    },
    {
        "url": DEAN_URL,
        "title": "Herb Dean",
        "text": "Herb Dean is an American mixed martial arts referee who worked his first UFC "
                "event in 2001.",
    },
]

ANSWER = (
    "## Explanation with Citations\n"
    "The bout between Cyborg and Holm took place at UFC 219 [1](https://en.wikipedia.org/wiki/UFC_219), "
    "refereed by Herb Dean [2](http://www.example.org/herb-dean/) who is also a boxer "
    "[3](https://never-opened.example.com/page).\n\n"
    "## Exact Answer\nUFC 219\n\n"
    "## References\n[1] https://en.wikipedia.org/wiki/UFC_219\n[4](https://after-references.example/x)"
)


def write_corpus(path: Path, docs: Sequence[dict[str, Any]] = CORPUS) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def call(name: str, **args: Any) -> dict[str, Any]:
    """A tool call without an id (ids are given when the turn is played)."""
    return {"name": name, "args": args}


def turn(*calls: dict[str, Any], content: str = "", invalid: Sequence[dict[str, Any]] = ()) -> dict:
    return {"content": content, "tool_calls": list(calls), "invalid_tool_calls": list(invalid)}


def script(*turns: dict[str, Any] | str) -> Iterator[AIMessage]:
    """Fresh AIMessages with unique tool-call ids, one per turn."""
    for i, t in enumerate(turns):
        if isinstance(t, str):
            yield AIMessage(content=t)
            continue
        yield AIMessage(
            content=t["content"],
            tool_calls=[{**c, "id": f"c{i}_{j}", "type": "tool_call"}
                        for j, c in enumerate(t["tool_calls"])],
            invalid_tool_calls=[{"id": f"bad{i}_{j}", "type": "invalid_tool_call", **c}
                                for j, c in enumerate(t["invalid_tool_calls"])],
        )


def endless(make: Callable[[int], dict[str, Any]]) -> Iterator[AIMessage]:
    """A model that never stops calling tools."""
    for i in itertools.count():
        t = make(i)
        yield AIMessage(content=t["content"], tool_calls=[
            {**c, "id": f"e{i}_{j}", "type": "tool_call"} for j, c in enumerate(t["tool_calls"])])


class ToolFake(GenericFakeChatModel):
    """GenericFakeChatModel that supports ``bind_tools`` and records each request."""

    requests: list[tuple[list[BaseMessage], list[str] | None]] = Field(default_factory=list)
    tool_choices: list[Any] = Field(default_factory=list)
    fail_on: dict[int, Exception] = Field(default_factory=dict)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> Any:
        n = len(self.requests)
        tools = kwargs.pop("tools", None)
        self.tool_choices.append(kwargs.pop("tool_choice", None))
        self.requests.append((list(messages), [t["function"]["name"] for t in tools] if tools else None))
        if n in self.fail_on:
            raise self.fail_on.pop(n)
        return super()._generate(messages, stop, run_manager, **kwargs)


class ListSearch:
    """A SearchBackend double returning fixed hits (and counting the calls)."""

    def __init__(self, hits: Sequence[Hit], error: Exception | None = None) -> None:
        self.hits, self.error, self.queries = list(hits), error, []

    def search(self, query: str, k: int = 10) -> list[Hit]:
        self.queries.append(query)
        if self.error is not None:
            raise self.error
        return self.hits[:k]


class DictFetcher:
    """A PageFetcher double over a dict of pages (and counting the calls)."""

    def __init__(self, pages: Sequence[Page]) -> None:
        self.pages = {p.url: p for p in pages}
        self.urls: list[str] = []

    def fetch(self, url: str) -> Page:
        from carr_agent.errors import FetchError

        self.urls.append(url)
        if url not in self.pages:
            raise FetchError(f"could not fetch {url}: not found (404)")
        return self.pages[url]
