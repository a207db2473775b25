"""Reading a finished run: its final answer and its evidence, whatever produced it.

This is the one place that says what "the final answer" of a run is; every entry point (the reward
server, ``carr-agent score``, ``score_history``, the TRL function, ``score_state``, evaluation and
training) reads runs through it, so the same run gets the same reward everywhere.

**The final answer** (:func:`final_answer`) is, in order:

1. ``state["answer"]["text"]`` when the state has it (this project's agent: its finalize node
   writes it, also for an answer demanded because a budget ran out);
2. else the text of the last message, when that message is an assistant message with non-blank
   text. Tool calls on it are ignored: a turn that was asked for the answer (budget exhausted) and
   still called a tool did answer. This is the reference server's rule (the last message is an
   assistant message with ``content``);
3. else there is none, and the run scores all zeros without judging (as in the reference).

**The evidence** (:func:`read_run`) is found in this order: ``state["ledger"]`` (this project's
agent); ``ToolMessage.artifact`` values that are ledger records (one record, a list of them, or a
mapping with a ``"records"``/``"ledger"`` list); otherwise the messages are converted to the
reference history format (:func:`messages_to_history`) and parsed by the one history parser
(:func:`carr_agent.rewards.history.parse_history`). Reference-format histories (lists of dicts,
the ``/evaluate`` wire format) are read by :func:`read_history`.

Messages may be langchain messages, OpenAI-style dicts, TRL conversational completions or the
reference's history dicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carr_agent.rewards.history import parse_history
from carr_agent.types import LedgerRecord

#: Tool names understood as the reference browser tools when converting messages.
TOOL_ALIASES = {
    "search": "browser.search", "web_search": "browser.search", "browser_search": "browser.search",
    "open": "browser.open", "open_page": "browser.open", "browser_open": "browser.open",
    "find": "browser.find", "find_in_page": "browser.find", "browser_find": "browser.find",
}

NO_FINAL_ANSWER = "no final answer"


@dataclass(frozen=True, slots=True)
class Trajectory:
    """What the scorer needs from a finished run.

    Attributes:
        answer: the final answer text; None when the run has none (it then scores all zeros).
        ledger: what the agent was shown (empty when not read: see :func:`read_history`).
        warnings: what the history parser skipped and why.
    """

    answer: str | None
    ledger: tuple[LedgerRecord, ...] = ()
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- the final answer


def final_answer(run: Any) -> str | None:
    """The final answer of a finished run (see the module docstring), or None.

    Args:
        run: a graph state (mapping or object with ``messages`` and maybe ``answer``), or a
            sequence of messages (langchain messages or dicts, the reference history included).
    """
    if isinstance(run, (str, bytes)):
        return None
    if not isinstance(run, Sequence):
        answer = get_key(run, "answer")
        if isinstance(answer, Mapping) and isinstance(answer.get("text"), str):
            return answer["text"] if answer["text"].strip() else None
        run = get_key(run, "messages") or ()
        if not isinstance(run, Sequence) or isinstance(run, (str, bytes)):
            return None
    if not run:
        return None
    last = run[-1]
    if role_of(last) != "assistant":
        return None
    text = text_of(_content(last))
    return text if text is not None and text.strip() else None


# --------------------------------------------------------------------------- reading runs


def read_run(state: Any) -> Trajectory:
    """The final answer and evidence of a finished graph state (or a list of messages).

    Raises:
        HistoryFormatError: the evidence had to be parsed from the messages, and they cannot be.
    """
    answer = final_answer(state)
    ledger = get_key(state, "ledger") if not isinstance(state, Sequence) else None
    if isinstance(ledger, (list, tuple)) and ledger:
        return Trajectory(answer, tuple(r for r in ledger if _is_record(r)))
    if answer is None:
        return Trajectory(None)
    messages = state if isinstance(state, Sequence) else list(get_key(state, "messages") or [])
    records, warnings = _evidence_of_messages(messages)
    return Trajectory(answer, tuple(records), warnings)


def read_history(history: Sequence[Mapping[str, Any]], *, evidence: bool = True) -> Trajectory:
    """The final answer and evidence of a reference-format history (the ``/evaluate`` format).

    Args:
        history: the messages.
        evidence: parse the tool outputs (False when the score cannot use them: α = 0 or no
            rubrics; the reference does not read them then either, so a malformed tool part
            cannot fail such a request).

    Raises:
        HistoryFormatError: ``evidence`` is True and the history is malformed.
    """
    answer = final_answer(history)
    if answer is None:
        return Trajectory(None)
    if not evidence:
        return Trajectory(answer)
    parsed = parse_history(history)
    return Trajectory(answer, parsed.records, parsed.warnings)


def ledger_from_state(state: Any) -> list[LedgerRecord]:
    """The evidence of a finished state, whether or not it has a final answer."""
    ledger = get_key(state, "ledger")
    if isinstance(ledger, (list, tuple)) and ledger:
        return [r for r in ledger if _is_record(r)]
    return ledger_from_messages(list(get_key(state, "messages") or []))


def ledger_from_messages(messages: Sequence[Any]) -> list[LedgerRecord]:
    """Evidence from tool-message artifacts, else by parsing the messages as a reference history.

    Raises:
        HistoryFormatError: the messages cannot be parsed as a history.
    """
    return _evidence_of_messages(messages)[0]


def ledger_records_in(value: Any) -> list[LedgerRecord]:
    """The ledger records in a tool artifact or a ``ledger`` column: a record, a list of them, or
    a mapping with a ``"records"``/``"ledger"`` list (anything else: none)."""
    if _is_record(value):
        return [value]
    if isinstance(value, Mapping):
        for key in ("records", "ledger"):
            if isinstance(value.get(key), list):
                return [r for r in value[key] if _is_record(r)]
        return []
    if isinstance(value, (list, tuple)):
        return [r for r in value if _is_record(r)]
    return []


def messages_to_history(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Convert langchain messages, OpenAI-style dicts or TRL completions to the reference history.

    Tool results without a ``tool_call_id`` (TRL's tool messages) are matched to the earliest
    pending call of the same name. Tool names are mapped with :data:`TOOL_ALIASES`.
    """
    history: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (call id, original name) awaiting a result
    counter = 0
    for message in messages:
        role = role_of(message)
        content = _content(message)
        if role in ("user", "system", "developer"):
            history.append({"role": role, "content": text_of(content) or ""})
        elif role == "assistant":
            entry: dict[str, Any] = {"role": "assistant"}
            text = text_of(content)
            if text:
                entry["content"] = text
            calls = []
            for call in tool_calls_of(message):
                counter += 1
                call_id = str(call["id"] or f"call-{counter}")
                name = call["name"]
                args = call["args"]
                pending.append((call_id, str(name)))
                calls.append({
                    "tool_call_id": call_id,
                    "name": TOOL_ALIASES.get(name, name) if isinstance(name, str) else name,
                    "arguments": args if isinstance(args, str) else json.dumps(args, default=str),
                })
            if calls:
                entry["tool_calls"] = calls
            history.append(entry)
        elif role == "tool" and _is_reference_outputs(content):
            history.append({"role": "tool", "content": list(content)})  # already the reference's
        elif role == "tool":
            answered: str | None = get_key(message, "tool_call_id")
            name = get_key(message, "name")
            if answered is None:
                match = next((p for p in pending if p[1] == name), pending[0] if pending else None)
                answered = match[0] if match else None
            pending = [p for p in pending if p[0] != answered]
            output = text_of(content)
            if output is None:
                output = json.dumps(content, default=str)
            item = {"output": output} if answered is None else {"tool_call_id": answered,
                                                                "output": output}
            history.append({"role": "tool", "content": [item]})
    return history


def text_of(content: Any) -> str | None:
    """A message content as text: a string, or a list of strings / ``{"type": "text"}`` parts;
    None for anything else (images, numbers, None)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif (isinstance(part, Mapping) and part.get("type", "text") == "text"
                  and isinstance(part.get("text"), str)):
                parts.append(part["text"])
            else:
                return None
        return "".join(parts)
    return None


# --------------------------------------------------------------------------- helpers


def _evidence_of_messages(messages: Sequence[Any]) -> tuple[list[LedgerRecord], tuple[str, ...]]:
    records: list[LedgerRecord] = []
    for message in messages:
        if role_of(message) == "tool":
            records.extend(ledger_records_in(get_key(message, "artifact")))
    if records:
        return records, ()
    history = messages_to_history(messages)
    if not history:
        return [], ()
    parsed = parse_history(history)
    return list(parsed.records), parsed.warnings


def get_key(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for a mapping (a state dict, a message dict), else ``obj.key``."""
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _content(message: Any) -> Any:
    return get_key(message, "content")


def _is_reference_outputs(content: Any) -> bool:
    """A tool message content in the reference's own shape: ``[{"tool_call_id"?, "output"}]``."""
    return isinstance(content, list) and bool(content) and all(
        isinstance(item, Mapping) and "output" in item for item in content)


def _is_record(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("url"), str) and isinstance(
        value.get("text"), str
    )


def role_of(message: Any) -> str | None:
    """A message's role: ``assistant``, ``user``, ``tool``… (langchain types mapped), or None."""
    role = (message.get("role") or message.get("type")) if isinstance(message, Mapping) else (
        getattr(message, "type", None))
    if not isinstance(role, str):
        return None
    return {"ai": "assistant", "human": "user", "AIMessageChunk": "assistant"}.get(role, role)


def tool_calls_of(message: Any) -> list[dict[str, Any]]:
    """A message's tool calls as ``{"id", "name", "args"}`` (langchain, OpenAI or TRL shape).

    A LangChain message's ``invalid_tool_calls`` (a policy's malformed call, answered by an error
    observation) are included after the valid ones, with their raw argument text, so the error
    observation's ``tool_call_id`` refers to a call of the history.
    """
    raw = get_key(message, "tool_calls")
    invalid = get_key(message, "invalid_tool_calls")
    calls: list[dict[str, Any]] = []
    raw = [*(raw if isinstance(raw, (list, tuple)) else ()),
           *(invalid if isinstance(invalid, (list, tuple)) else ())]
    for call in raw:
        if not isinstance(call, Mapping):
            continue
        function = call.get("function") if isinstance(call.get("function"), Mapping) else None
        name = call.get("name") or (function or {}).get("name")
        args = call.get("args", call.get("arguments", (function or {}).get("arguments", {})))
        calls.append({"id": call.get("id") or call.get("tool_call_id"), "name": name, "args": args})
    return calls


__all__ = [
    "NO_FINAL_ANSWER",
    "TOOL_ALIASES",
    "Trajectory",
    "final_answer",
    "get_key",
    "ledger_from_messages",
    "ledger_from_state",
    "ledger_records_in",
    "messages_to_history",
    "read_history",
    "read_run",
    "role_of",
    "text_of",
    "tool_calls_of",
]
