"""Token-level records of model turns, the raw material of policy-gradient training.

Every turn an :class:`~carr_agent.models.hf_chat.HFChatModel` produces (sampled or scripted) can
be captured as a :class:`Turn`: the exact prompt token ids the policy saw, the completion token
ids it produced (including the end-of-turn token), and the log-probability of each completion
token. Training (C-GRPO) needs exactly these: the agent graph knows nothing about tokens, so the
model records them on the side.

Three ways to attach a recorder, all safe when several graph runs share one model:

1. ``HFChatModel(..., recorder=rec)`` or ``model.with_recorder(rec)`` (a cheap copy sharing the
   weights) — every turn of that object goes to ``rec``; each :class:`Turn` carries
   ``run_key`` (LangGraph's ``thread_id``) so turns of concurrent runs can be told apart.
2. ``with model.recording() as rec:`` — records the turns made *in the current context* (thread
   or asyncio task; LangGraph and langchain-core copy the context into their worker threads).
   Two rollouts running concurrently, each inside its own ``with``, never see each other's turns.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["RecordingPolicy", "Turn", "TurnRecorder"]


@dataclass(frozen=True, kw_only=True)
class Turn:
    """One model turn at token level.

    Attributes:
        prompt_ids: Token ids of the rendered chat prompt, ending with the assistant header (and
            any forced-tool-call prefill, see ``prefill``). The policy did not produce these.
        completion_ids: Token ids the policy produced, including the final end-of-turn token
            (``<|im_end|>``) when the turn ended normally (``finish_reason == "stop"``).
        logprobs: ``logprobs[i]`` is ``log p(completion_ids[i] | prompt, completion_ids[:i])``
            under the distribution the token was drawn from: ``softmax(logits / temperature)``
            restricted to the top-k/top-p set and renormalised (``top_p``/``top_k``; the full
            vocabulary when both are off). The trainer recomputes the same distribution
            (:mod:`carr_agent.models.sampling`). For greedy decoding (temperature 0) it is the
            raw policy (T=1).
        text: The completion decoded without its end-of-turn token (what tool calls are parsed
            from, after ``prefill``).
        prefill: Text placed after the assistant header to force a tool call (``tool_choice``);
            its tokens are the tail of ``prompt_ids``. Usually ``""``.
        temperature: The temperature ``logprobs`` were computed at.
        finish_reason: ``"stop"`` (end-of-turn token or stop string) or ``"length"``.
        scripted: True when the completion was supplied as text (teacher forcing), not sampled.
        run_key: LangGraph ``thread_id`` of the run that made the turn, if any.
        message_id: The ``id`` of the ``AIMessage`` returned for this turn, to join turns with the
            messages of a finished graph state.
        top_p: The nucleus mass of the sampling distribution (1.0 = off).
        top_k: Its top-k (0 = off).
        tito: True when ``prompt_ids`` were built token-in/token-out: the previous turn's prompt
            ids + its sampled ids + the encoded new messages (no re-tokenisation of what the
            policy produced). False for a first turn, or when the history was rewritten.
    """

    prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float]
    text: str
    prefill: str = ""
    temperature: float = 1.0
    finish_reason: Literal["stop", "length"] = "stop"
    scripted: bool = False
    run_key: str | None = None
    message_id: str | None = None
    tito: bool = False
    top_p: float = 1.0
    top_k: int = 0

    def __post_init__(self) -> None:
        if len(self.completion_ids) != len(self.logprobs):
            raise ValueError(
                f"completion_ids ({len(self.completion_ids)}) and logprobs ({len(self.logprobs)}) "
                "must have the same length"
            )


class TurnRecorder:
    """A thread-safe, append-only list of :class:`Turn` records."""

    def __init__(self) -> None:
        self._turns: list[Turn] = []
        self._lock = threading.Lock()

    def record(self, turn: Turn) -> None:
        """Append one turn (called by the model after each turn)."""
        with self._lock:
            self._turns.append(turn)

    @property
    def turns(self) -> list[Turn]:
        """A snapshot of the recorded turns, oldest first."""
        with self._lock:
            return list(self._turns)

    def for_run(self, run_key: str | None) -> list[Turn]:
        """The turns made by the run with this LangGraph ``thread_id``, oldest first."""
        return [t for t in self.turns if t.run_key == run_key]

    def clear(self) -> None:
        """Forget every recorded turn."""
        with self._lock:
            self._turns.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns)


class RecordingPolicy(Protocol):
    """What training needs of a policy chat model (the seam :class:`HFChatModel` fills): its
    tokenizer, a way to replay fixed completions, a recording scope for its turns, and the prompt
    text it would render."""

    tokenizer: Any

    def scripted(self, completions: Iterable[str]) -> Any: ...

    def recording(self, recorder: TurnRecorder | None = None) -> AbstractContextManager[TurnRecorder]: ...

    def render_prompt(self, messages: Sequence[Any], tools: Sequence[dict[str, Any]] = ()) -> str: ...
