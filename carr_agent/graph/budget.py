"""Budgets of one agent run: tool calls, context size, and the recursion limit they imply.

When a budget runs out the agent is asked for its final answer instead of crashing; the
recursion limit is derived from the tool-call budget so a runaway loop stops with LangGraph's
``GraphRecursionError`` long after the budget should have stopped it, never before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage

from carr_agent.errors import ConfigError

#: Characters per token of the fallback estimate (a common rule of thumb for English text).
CHARS_PER_TOKEN = 4


@dataclass(frozen=True, kw_only=True)
class Budgets:
    """Limits of one run.

    Attributes:
        max_tool_calls: tool calls allowed; each call counts, malformed and failed ones too (so a
            model stuck emitting broken calls still stops).
        max_context_tokens: approximate history size at which the agent must answer; ``None``
            means no limit.
        min_tool_calls: tool calls the model must make before it may answer: until then a tool
            call is forced (a ``search`` first; small local models otherwise tend to answer from
            memory without looking anything up).
    """

    max_tool_calls: int = 30
    max_context_tokens: int | None = None
    min_tool_calls: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.max_tool_calls, bool) or not isinstance(self.max_tool_calls, int) \
                or self.max_tool_calls < 0:
            raise ConfigError(f"max_tool_calls must be an integer >= 0, got {self.max_tool_calls!r}")
        if self.max_context_tokens is not None and (
            not isinstance(self.max_context_tokens, int) or self.max_context_tokens < 1
        ):
            raise ConfigError(
                f"max_context_tokens must be a positive integer or None, got {self.max_context_tokens!r}"
            )

        if isinstance(self.min_tool_calls, bool) or not isinstance(self.min_tool_calls, int) \
                or not 0 <= self.min_tool_calls <= self.max_tool_calls:
            raise ConfigError(
                f"min_tool_calls must be an integer from 0 to max_tool_calls ({self.max_tool_calls}), "
                f"got {self.min_tool_calls!r}"
            )

    @property
    def recursion_limit(self) -> int:
        """Supersteps a run may take: two per tool round (model, tools; every round spends at
        least one tool call), plus the forced answer, finalize and some slack."""
        return 2 * self.max_tool_calls + 8


def message_chars(message: BaseMessage) -> int:
    """Characters of a message as a model would read it: text plus tool-call arguments."""
    content = message.content
    n = len(content) if isinstance(content, str) else len(json.dumps(content, default=str))
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            n += len(call["name"]) + len(json.dumps(call["args"], default=str))
        for bad in message.invalid_tool_calls:
            n += len(bad.get("name") or "") + len(bad.get("args") or "")
    return n


def estimate_context_tokens(messages: Sequence[BaseMessage], *, system_prompt: str = "") -> int:
    """Approximate the size of the history in tokens.

    The latest model turn that reports ``usage_metadata`` fixes the count up to and including
    itself (its input plus output tokens); later messages, or all of them when no turn reports
    usage, are estimated at :data:`CHARS_PER_TOKEN` characters per token.
    """
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        usage = getattr(m, "usage_metadata", None) if isinstance(m, AIMessage) else None
        if usage and usage.get("input_tokens"):
            known = int(usage["input_tokens"]) + int(usage.get("output_tokens") or 0)
            rest = sum(message_chars(x) for x in messages[i + 1 :])
            return known + _tokens(rest)
    return _tokens(len(system_prompt) + sum(message_chars(m) for m in messages))


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


__all__ = ["CHARS_PER_TOKEN", "Budgets", "estimate_context_tokens", "message_chars"]
