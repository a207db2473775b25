"""Shared vocabulary: search hits, pages, citation-ledger records, tasks and reward results.

Depends on nothing else in carr_agent. Ledger records are plain ``TypedDict``s (JSON-safe) because
they live in LangGraph state, are checkpointed and are written to trajectory files; everything else
is a small frozen dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NotRequired

from typing_extensions import TypedDict

ObservationKind = Literal["search", "open", "find"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result as a backend returns it."""

    url: str
    title: str
    snippet: str
    date: str | None = None
    #: Character offsets of ``snippet`` inside the page text, when the backend knows them
    #: (the offline corpus does; web search does not).
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched or looked-up page: the full clean text the tools work on."""

    url: str
    title: str
    text: str
    date: str | None = None


class LedgerRecord(TypedDict):
    """One observation the agent was shown: what `carr_agent.rewards` checks citations against.

    ``text`` is exactly the text shown to the model for this source in this observation; ``start``
    and ``end`` are its character offsets in the page text (``page_text[start:end] == text``) when
    known, else ``None`` (e.g. web search snippets).
    """

    source_id: str          # stable id of the source, e.g. "S3"; one per normalised URL
    url: str
    title: str
    kind: ObservationKind
    step: int               # tool-call step counter at which the observation was made
    text: str
    start: int | None
    end: int | None
    tool_call_id: NotRequired[str]
    date: NotRequired[str | None]


@dataclass(frozen=True, slots=True)
class Task:
    """A research task: question, gold answer, rubrics and (optionally) gold entity values.

    Attributes:
        id: unique id within its task file.
        question: the bare question (what judges see; also the leakage-guard string).
        label: the gold final answer.
        rubrics: single-hop statements with ``<E0>``, ``<E1>``... placeholders.
        entities: gold entity values ``{"E0": ..., "E1": ...}``; needed by the deterministic judge.
        forbidden_strs: strings whose pages are hidden from the agent (defaults to the question).
        prompt: the full user prompt, if the task file carries one (reference layout).
        metadata: anything else the task file carried (hop count, traps, ...).
    """

    id: str
    question: str
    label: str
    rubrics: tuple[str, ...] = ()
    entities: dict[str, str] | None = None
    forbidden_strs: tuple[str, ...] = ()
    prompt: str | None = None
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RubricScore:
    """The per-rubric breakdown, field-for-field the reference server's ``rubric_scores`` value."""

    raw_rubric: str
    filled_rubric: str | None
    entity_values: dict[str, str | None]
    all_entity_identified: bool
    is_supported: bool | None      # None: grounding judge failed (unknown)
    connected_to_answer: bool
    score: int

    def to_json(self) -> dict[str, object]:
        """The reference's JSON form of this rubric's score (a ``rubric_scores`` value)."""
        return {
            "raw_rubric": self.raw_rubric,
            "filled_rubric": self.filled_rubric,
            "entity_values": dict(self.entity_values),
            "all_entity_identified": self.all_entity_identified,
            "is_supported": self.is_supported,
            "connected_to_answer": self.connected_to_answer,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class RewardResult:
    """The CaRR score of one trajectory. ``None`` means *unknown* (a judge failed), never 0."""

    outcome_reward: float | None
    rubric_reward: float | None
    reward: float | None
    rubric_scores: tuple[RubricScore, ...] = ()
    extracted_answer: str | None = None
    errors: tuple[str, ...] = ()

    @property
    def unknown(self) -> bool:
        """True when any part of the score could not be judged."""
        return self.reward is None
