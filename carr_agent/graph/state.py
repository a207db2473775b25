"""The agent's typed LangGraph state: messages, the citation ledger, browsing state and budgets.

Everything here is JSON-safe (plain dicts, lists, strings, numbers, langchain messages) so any
LangGraph checkpointer can store it and a finished state can be written out as a trajectory.
Browsing state (the latest search results and the open page) lives in the state, not in tool
objects, so one compiled graph serves many concurrent runs and a resumed run sees exactly what
the interrupted one saw. The open page keeps its *full* text here (``find`` searches all of it)
while the message history only carries the truncated text the model was shown.
"""

from __future__ import annotations

import operator
from dataclasses import asdict
from typing import Annotated, Any, Literal, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from carr_agent.types import Hit, LedgerRecord, Page


class ResolvedCitation(TypedDict):
    """One inline citation of the final answer, resolved against the ledger.

    Attributes:
        label: the link text as written, e.g. ``"3"``.
        url: the URL as written.
        source_id: the ledger's id for that source, or ``None`` when no tool ever showed it.
        seen: whether any observation of the run came from this URL (normalised).
        kinds: which observation kinds showed it (``"search"``, ``"open"``, ``"find"``).
    """

    label: str
    url: str
    source_id: str | None
    seen: bool
    kinds: list[str]


class FinalAnswer(TypedDict):
    """The agent's final answer, split into the required sections, with resolved citations.

    Attributes:
        text: the full final message.
        explanation: the ``## Explanation with Citations`` section (``""`` when missing).
        exact_answer: the ``## Exact Answer`` section (``""`` when missing).
        references: the ``## References`` section (``""`` when missing).
        well_formed: all three sections are present.
        citations: the ``[label](url)`` links of the body (before ``## References``), in order.
        unseen: distinct cited URLs that no observation of the run came from.
        forced: the answer was demanded because a budget ran out.
    """

    text: str
    explanation: str
    exact_answer: str
    references: str
    well_formed: bool
    citations: list[ResolvedCitation]
    unseen: list[str]
    forced: bool


FinishReason = Literal["answered", "tool_budget", "context_budget"]


class AgentState(TypedDict):
    """State of the deep-search agent graph.

    Reducers are in the types: ``messages`` appends (and replaces by id, see ``add_messages``),
    ``ledger`` appends; every other key is overwritten by the node that returns it.

    Attributes:
        messages: the conversation (question, model turns, tool observations).
        question: the bare question; filled from the first human message when not given.
        ledger: one :class:`~carr_agent.types.LedgerRecord` per source per observation.
        open_page: the open page as a dict (``url``, ``title``, ``text``, ``date``), or ``None``.
        latest_hits: the latest search results as dicts; ``open(i)`` indexes into them.
        tool_calls: tool calls made (valid, malformed and refused ones all count).
        model_calls: model turns taken.
        context_tokens: approximate size of the history in tokens after the last tools step.
        finish_reason: why the agent stopped: it answered, or a budget ran out.
        answer: the parsed final answer (set by the finalize node).
    """

    messages: Annotated[list[AnyMessage], add_messages]
    question: NotRequired[str]
    ledger: NotRequired[Annotated[list[LedgerRecord], operator.add]]
    open_page: NotRequired[dict[str, Any] | None]
    latest_hits: NotRequired[list[dict[str, Any]]]
    tool_calls: NotRequired[int]
    model_calls: NotRequired[int]
    context_tokens: NotRequired[int]
    finish_reason: NotRequired[FinishReason | None]
    answer: NotRequired[FinalAnswer | None]


class AgentInput(TypedDict, total=False):
    """What a run may be started with: messages, or just the question."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str


def page_to_dict(page: Page | None) -> dict[str, Any] | None:
    """A :class:`~carr_agent.types.Page` as a JSON-safe dict (``None`` stays ``None``)."""
    return None if page is None else asdict(page)


def page_from_dict(data: dict[str, Any] | None) -> Page | None:
    """The inverse of :func:`page_to_dict`."""
    return None if data is None else Page(**data)


def hits_to_dicts(hits: list[Hit]) -> list[dict[str, Any]]:
    """Search hits as JSON-safe dicts."""
    return [asdict(h) for h in hits]


def hits_from_dicts(data: list[dict[str, Any]] | None) -> list[Hit]:
    """The inverse of :func:`hits_to_dicts`."""
    return [Hit(**d) for d in data or []]


__all__ = [
    "AgentInput",
    "AgentState",
    "FinalAnswer",
    "FinishReason",
    "ResolvedCitation",
    "hits_from_dicts",
    "hits_to_dicts",
    "page_from_dict",
    "page_to_dict",
]
