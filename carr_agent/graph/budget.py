"""The context budget's measure: the approximate size of a history in tokens.

The budgets themselves (tool calls, context size, the recursion limit they imply) are
:class:`~carr_agent.graph.config.AgentConfig`. When a budget runs out the agent is asked for its
final answer instead of crashing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage

from carr_agent.graph.config import AgentConfig

#: Characters per token of the fallback estimate (a common rule of thumb for English text).
CHARS_PER_TOKEN = 4


#: The former name of :class:`~carr_agent.graph.config.AgentConfig` (the budgets live there).
Budgets = AgentConfig


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
    found = _latest_usage(messages)
    if found is not None:
        i, known = found
        return known + _tokens(sum(message_chars(x) for x in messages[i + 1 :]))
    return _tokens(len(system_prompt) + sum(message_chars(m) for m in messages))


def add_context_tokens(previous: int, new_messages: Sequence[BaseMessage]) -> int:
    """The estimate after ``new_messages`` joined a history estimated at ``previous`` tokens.

    As :func:`estimate_context_tokens` over the whole history, without reading it again: a new
    model turn that reports usage fixes the count; otherwise the new messages' characters are
    added (rounded up per call, so the result can exceed a whole-history estimate by a token per
    call).
    """
    if _latest_usage(new_messages) is not None:
        return estimate_context_tokens(new_messages)
    return previous + _tokens(sum(message_chars(m) for m in new_messages))


def _latest_usage(messages: Sequence[BaseMessage]) -> tuple[int, int] | None:
    """Index and input+output tokens of the latest model turn reporting usage, if any."""
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        usage = getattr(m, "usage_metadata", None) if isinstance(m, AIMessage) else None
        if usage and usage.get("input_tokens"):
            return i, int(usage["input_tokens"]) + int(usage.get("output_tokens") or 0)
    return None


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


__all__ = [
    "CHARS_PER_TOKEN",
    "Budgets",
    "add_context_tokens",
    "estimate_context_tokens",
    "message_chars",
]
