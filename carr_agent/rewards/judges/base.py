"""The judge seam: three async questions the CaRR reward asks, behind one small Protocol.

Every method may receive the :class:`~carr_agent.types.Task` being scored as the keyword ``task``.
LLM judges ignore it; the deterministic judge reads gold entity values and aliases from it. This
keeps :class:`~carr_agent.rewards.scorer.CarrScorer` free of special cases.

All methods raise :class:`~carr_agent.errors.JudgeError` when they cannot answer; the scorer then
reports the affected component as unknown (None), never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from carr_agent.types import Task


@dataclass(frozen=True, slots=True)
class OutcomeVerdict:
    """The outcome judge's decision.

    Attributes:
        extracted_answer: the final answer the judge read from the response (None: none given).
        correct: whether it matches the gold label.
    """

    extracted_answer: str | None
    correct: bool


@runtime_checkable
class ChatModel(Protocol):
    """What :class:`~carr_agent.rewards.judges.llm.LLMJudge` needs of a chat model: an async
    ``ainvoke(messages)`` returning a message with ``content``. LangChain chat models and the
    lean :class:`~carr_agent.rewards.judges.openai_http.OpenAIChatClient` both qualify."""

    async def ainvoke(self, messages: Any, /) -> Any: ...


@runtime_checkable
class Judge(Protocol):
    """What CaRR needs from a judge."""

    async def identify_entities(
        self, question: str, rubrics: Sequence[str], answer: str, *, task: Task | None = None
    ) -> dict[str, str | None]:
        """Map every entity label occurring in ``rubrics`` to the identity the answer states
        explicitly, or None. Keys are exactly those labels."""
        ...

    async def judge_support(
        self, evidence: str, statements: Sequence[str], *, task: Task | None = None
    ) -> list[bool]:
        """For each statement: is it fully supported by ``evidence``? One flag per statement."""
        ...

    async def judge_outcome(
        self, question: str, answer: str, label: str, *, task: Task | None = None
    ) -> OutcomeVerdict:
        """Does the answer's final answer match the gold ``label``?"""
        ...
