"""Finished runs as JSON: this project's trajectory file, and the reference ``history`` format.

A trajectory keeps everything a later step needs: the question, the messages (LangChain dicts,
tool artifacts included), the citation ledger, the parsed answer and why the run stopped. The
reference history (the format of the reference implementation, github.com/THUDM/CaRR) is what
the reference reward server and RL stacks consume: ``browser.search`` / ``browser.open`` / ``browser.find`` calls with JSON-string
arguments and tool turns of ``[{"tool_call_id", "output"}]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
)

#: Built-in tool names and their names in the reference history.
REFERENCE_TOOL_NAMES = {"search": "browser.search", "open": "browser.open", "find": "browser.find"}
#: Built-in argument names that differ in the reference history.
_REFERENCE_ARGS = {"open": {"id_or_url": "id"}}


def trajectory_to_dict(state: Mapping[str, Any], *, question: str | None = None) -> dict[str, Any]:
    """A finished (or interrupted) agent state as a JSON-safe dict.

    Args:
        state: the graph state (``invoke``'s result or ``get_state(cfg).values``).
        question: overrides the state's question.

    Returns:
        ``{"question", "messages", "ledger", "answer", "tool_calls", "finish_reason"}``;
        ``messages`` as ``langchain_core.messages.messages_to_dict`` writes them.
    """
    messages: list[BaseMessage] = list(state.get("messages") or [])
    if question is None:
        question = state.get("question") or next(
            (m.text for m in messages if isinstance(m, HumanMessage)), None
        )
    out = {
        "question": question,
        "messages": messages_to_dict(messages),
        "ledger": [dict(r) for r in state.get("ledger") or []],
        "answer": state.get("answer"),
        "tool_calls": state.get("tool_calls", 0),
        "finish_reason": state.get("finish_reason"),
    }
    return json.loads(json.dumps(out, default=str))


def messages_from_trajectory(trajectory: Mapping[str, Any]) -> list[BaseMessage]:
    """The messages of a trajectory dict, as LangChain messages again."""
    return messages_from_dict(list(trajectory.get("messages") or []))


def to_reference_history(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Messages in the reference ``history`` format.

    System messages are left out (the reference history starts with the user turn). Consecutive
    tool messages become one ``{"role": "tool", "content": [...]}`` turn. Malformed tool calls
    (``invalid_tool_calls``) and the error observations answering them are left out: they carry
    no evidence and their arguments are not JSON. Tools other than the built-ins keep their names.
    """
    history: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for m in messages:
        if isinstance(m, SystemMessage):
            continue
        if isinstance(m, HumanMessage):
            history.append({"role": "user", "content": m.text})
        elif isinstance(m, AIMessage):
            history.append(_assistant(m))
            dropped.update(str(c["id"]) for c in m.invalid_tool_calls if c.get("id"))
        elif isinstance(m, ToolMessage):
            if m.tool_call_id in dropped:
                continue
            entry = {"tool_call_id": m.tool_call_id, "output": m.text}
            if history and history[-1]["role"] == "tool":
                history[-1]["content"].append(entry)
            else:
                history.append({"role": "tool", "content": [entry]})
    return history


def _assistant(m: AIMessage) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": "assistant", "content": m.text}
    reasoning = m.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        turn["reasoning_content"] = reasoning
    if m.tool_calls:
        turn["tool_calls"] = [
            {
                "tool_call_id": c["id"],
                "name": REFERENCE_TOOL_NAMES.get(c["name"], c["name"]),
                "arguments": json.dumps(_reference_args(c["name"], c["args"]), ensure_ascii=False),
            }
            for c in m.tool_calls
        ]
    return turn


def _reference_args(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    renames = _REFERENCE_ARGS.get(name, {})
    return {renames.get(k, k): v for k, v in args.items()}


__all__ = [
    "REFERENCE_TOOL_NAMES",
    "messages_from_trajectory",
    "to_reference_history",
    "trajectory_to_dict",
]
