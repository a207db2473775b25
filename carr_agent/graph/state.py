"""The agent's typed LangGraph state: messages, the citation ledger, browsing state and budgets.

Everything here is JSON-safe (plain dicts, lists, strings, numbers, langchain messages) so any
LangGraph checkpointer can store it and a finished state can be written out as a trajectory.
Browsing state (the latest search results and the open page) lives in the state, not in tool
objects, so one compiled graph serves many concurrent runs and a resumed run sees exactly what
the interrupted one saw. The open page keeps its *full* text here (``find`` searches all of it)
while the message history only carries the truncated text the model was shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.channels import DeltaChannel
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


def add_message_batches(
    messages: list[AnyMessage], batches: Sequence[Sequence[AnyMessage] | AnyMessage]
) -> list[AnyMessage]:
    """``add_messages`` applied to each written batch in turn (a ``DeltaChannel`` reducer)."""
    for batch in batches:
        messages = add_messages(messages, batch)  # type: ignore[arg-type,assignment]
    return messages


def concat_batches(items: list[LedgerRecord], batches: Sequence[Sequence[LedgerRecord]]) -> list[LedgerRecord]:
    """The written batches appended in order (a ``DeltaChannel`` reducer)."""
    return [*items, *(item for batch in batches for item in batch)]


def last_write(value: Any, batches: Sequence[Any]) -> Any:
    """The last value written (a ``DeltaChannel`` reducer with plain overwrite semantics)."""
    return batches[-1] if batches else value


#: Updates between full snapshots of a delta channel: a checkpoint otherwise stores only what
#: was written since the previous one (reading an old checkpoint replays the writes since the
#: last snapshot, which is cheap next to storing the whole history at every step).
SNAPSHOT_EVERY = 10_000

#: The history: appends, and replaces by id (``add_messages``). A ``DeltaChannel``: a checkpoint
#: stores the messages written since the previous one, not the whole history again.
Messages = Annotated[list[AnyMessage], DeltaChannel(add_message_batches, snapshot_frequency=SNAPSHOT_EVERY)]
#: The citation ledger: appends; a ``DeltaChannel`` like :data:`Messages`.
Ledger = Annotated[list[LedgerRecord], DeltaChannel(concat_batches, snapshot_frequency=SNAPSHOT_EVERY)]
#: The open page (full text) and the latest search results: overwritten when a tool changes
#: them, stored only then (a plain channel would store them again in every checkpoint).
OpenPage = Annotated[dict[str, Any], DeltaChannel(last_write, snapshot_frequency=SNAPSHOT_EVERY)]
LatestHits = Annotated[list[dict[str, Any]], DeltaChannel(last_write, snapshot_frequency=SNAPSHOT_EVERY)]


class AgentState(TypedDict, total=False):
    """State of the deep-search agent graph (every key optional: a node returns the keys it sets).

    Reducers are in the types: ``messages`` appends (and replaces by id, see ``add_messages``),
    ``ledger`` appends; every other key is overwritten by the node that returns it. Both lists
    are ``DeltaChannel``s, so a checkpointer stores each message and record once, not once per
    step: a run's checkpoints grow linearly with its length.

    Attributes:
        messages: the conversation (question, model turns, tool observations).
        question: the bare question; filled from the first human message when not given.
        ledger: one :class:`~carr_agent.types.LedgerRecord` per source per observation.
        open_page: the open page as a dict (``url``, ``title``, ``text``, ``date``); empty when
            no page is open.
        latest_hits: the latest search results as dicts; ``open(i)`` indexes into them.
        tool_calls: tool calls made (valid, malformed and refused ones all count).
        model_calls: model turns taken.
        context_tokens: approximate size of the history in tokens after the last tools step.
        finish_reason: why the agent stopped: it answered, or a budget ran out.
        answer: the parsed final answer (set by the finalize node).
    """

    messages: Messages
    question: str
    ledger: Ledger
    open_page: OpenPage
    latest_hits: LatestHits
    tool_calls: int
    model_calls: int
    context_tokens: int
    finish_reason: FinishReason | None
    answer: FinalAnswer | None


class AgentInput(TypedDict, total=False):
    """What a run may be started with: messages, or just the question."""

    messages: Messages
    question: str


def page_to_dict(page: Page | None) -> dict[str, Any]:
    """A :class:`~carr_agent.types.Page` as a JSON-safe dict (``{}`` for no page)."""
    return {} if page is None else asdict(page)


def page_from_dict(data: dict[str, Any] | None) -> Page | None:
    """The inverse of :func:`page_to_dict` (``{}`` and ``None`` mean no page)."""
    return Page(**data) if data else None


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
