"""Reference-format histories → ledger records + final answer.

Trajectories from the reference stack (or any framework speaking its message format) carry no
citation ledger, so the evidence is rebuilt by parsing the tool outputs, the way the reference
reward server does:

* ``browser.search`` → one record per hit (the description line is what the model saw);
  the hits become the "latest results" that ``browser.open`` by integer id refers to;
* ``browser.open`` → one record with the page text as shown; the page becomes the open page;
* ``browser.find`` → one record per match, attributed to the most recently opened page.

Ill-formed tool calls, as the reference rollout records them when the policy writes a call it
cannot parse (``{"name": null, "arguments": "null"}``, arguments that are not a JSON object, or a
call carrying ``ill_formed_reasons``), are recorded and never parsed; an output referring to one is
ignored. Their outputs normally carry no ``tool_call_id`` and are skipped, as the reference does.

Structural problems the reference would crash on (unknown ``tool_call_id``, a tool message without
``content``, outputs that are not strings, no final assistant answer) raise
:class:`~carr_agent.errors.HistoryFormatError` naming the message. Things the reference tolerates
(tool outputs without ``tool_call_id``, empty outputs, unknown tool names, error texts instead of
pages, ``find`` before any ``open``, a search hit without its URL) are skipped with a logged
warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carr_agent.errors import HistoryFormatError
from carr_agent.tools.render import parse_find, parse_page, parse_search_blocks
from carr_agent.types import Hit, LedgerRecord, Page
from carr_agent.urls import source_id

logger = logging.getLogger(__name__)

SEARCH, OPEN, FIND = "browser.search", "browser.open", "browser.find"


@dataclass(frozen=True, slots=True)
class ParsedHistory:
    """What a reference-format history yields for scoring.

    Attributes:
        records: ledger-like records, one per observation (search hit, opened page, find match).
        answer: the final answer (:func:`carr_agent.rewards.run.final_answer`), None if none.
        question: the first user message's content, if any (usually question + format
            instructions; judges should get the bare question from ``search_forbidden_strs``).
        warnings: what was skipped and why.
    """

    records: tuple[LedgerRecord, ...]
    answer: str | None
    question: str | None = None
    warnings: tuple[str, ...] = ()


def parse_history(history: Sequence[Mapping[str, Any]]) -> ParsedHistory:
    """Parse a reference-format message list.

    Raises:
        HistoryFormatError: the history is structurally malformed (message named by index).
    """
    from carr_agent.rewards.run import final_answer, text_of

    if not isinstance(history, Sequence) or isinstance(history, (str, bytes)):
        raise HistoryFormatError(f"history must be a list of messages, got {type(history).__name__}")
    if not history:
        raise HistoryFormatError("history is empty")
    parser = _HistoryParser()
    question = None
    for index, message in enumerate(history):
        if not isinstance(message, Mapping):
            raise HistoryFormatError(f"message {index} is not an object")
        role = message.get("role")
        if role == "user" and question is None:
            question = text_of(message.get("content"))
        elif role == "assistant":
            parser.add_tool_calls(index, message.get("tool_calls"))
        elif role == "tool":
            parser.add_tool_message(index, message)
        elif role not in ("user", "system", "developer"):
            raise HistoryFormatError(f"message {index} has unknown role {role!r}")
    return ParsedHistory(
        records=tuple(parser.records),
        answer=final_answer(history),
        question=question,
        warnings=tuple(parser.warnings),
    )


class _HistoryParser:
    """Walks the messages, keeping the browsing state (latest hits, open page) as it goes."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[str, dict[str, Any]]] = {}
        self.ill_formed: dict[str, str] = {}  # call id → why the call is ill-formed
        self.records: list[LedgerRecord] = []
        self.warnings: list[str] = []
        self.latest_hits: dict[int, Hit] = {}
        self.open_page: Page | None = None
        self.step = 0

    def warn(self, message: str) -> None:
        logger.warning("history: %s", message)
        self.warnings.append(message)

    def add_tool_calls(self, index: int, tool_calls: Any) -> None:
        if tool_calls is None:
            return
        if not isinstance(tool_calls, list):
            raise HistoryFormatError(f"message {index}: 'tool_calls' must be a list")
        for call in tool_calls:
            if not isinstance(call, Mapping):
                raise HistoryFormatError(f"message {index}: a tool call is not an object")
            raw_function = call.get("function")
            function: Mapping[str, Any] = raw_function if isinstance(raw_function, Mapping) else {}
            call_id = call.get("tool_call_id", call.get("id"))
            name = call.get("name", function.get("name"))
            raw_args = call.get("arguments", function.get("arguments", "{}"))
            problem = _ill_formed(name, raw_args, call.get("ill_formed_reasons"))
            if not isinstance(call_id, str) or not call_id:
                self.warn(f"message {index}: a tool call without 'tool_call_id' recorded, never "
                          "used (no output can refer to it)")
                continue
            if problem is not None:
                self.warn(f"message {index}: ill-formed tool call {call_id!r} recorded ({problem}); "
                          "its output is ignored")
                self.ill_formed[call_id] = problem
                continue
            self.calls[call_id] = (name, _arguments(raw_args))

    def add_tool_message(self, index: int, message: Mapping[str, Any]) -> None:
        if "content" not in message or message["content"] is None:
            raise HistoryFormatError(f"message {index}: tool message has no 'content'")
        content = message["content"]
        if isinstance(content, str):
            # OpenAI style: one output per message, id on the message itself
            content = [{"tool_call_id": message.get("tool_call_id"), "output": content}]
        if not isinstance(content, list):
            raise HistoryFormatError(
                f"message {index}: tool message 'content' must be a list of outputs"
            )
        for item in content:
            if not isinstance(item, Mapping):
                raise HistoryFormatError(f"message {index}: a tool output is not an object")
            call_id = item.get("tool_call_id")
            if call_id is None:
                self.warn(f"message {index}: tool output without 'tool_call_id' skipped")
                continue
            if not isinstance(call_id, str):
                raise HistoryFormatError(
                    f"message {index}: a tool output's 'tool_call_id' must be a string, got "
                    f"{type(call_id).__name__}"
                )
            if call_id in self.ill_formed:
                self.warn(f"message {index}: output of ill-formed tool call {call_id!r} ignored")
                continue
            if call_id not in self.calls:
                raise HistoryFormatError(
                    f"message {index}: tool output refers to unknown tool_call_id {call_id!r}"
                )
            output = item.get("output")
            if not isinstance(output, str):
                raise HistoryFormatError(
                    f"message {index}: output of tool call {call_id!r} is "
                    f"{type(output).__name__}, not a string"
                )
            if not output.strip():
                continue
            self.step += 1
            name, args = self.calls[call_id]
            self.observe(index, call_id, name, args, output)

    def observe(self, index: int, call_id: str, name: str, args: dict[str, Any], output: str) -> None:
        where = f"message {index} ({name} {call_id!r})"
        try:
            if name == SEARCH:
                self.on_search(where, call_id, output)
            elif name == OPEN:
                self.on_open(where, call_id, args, output)
            elif name == FIND:
                self.on_find(where, call_id, output)
            else:
                self.warn(f"{where}: unknown tool skipped")
        except HistoryFormatError as exc:
            self.warn(f"{where}: unparsable output skipped ({exc})")

    def on_search(self, where: str, call_id: str, output: str) -> None:
        blocks = parse_search_blocks(output)
        self.latest_hits = {idx: hit for idx, hit in blocks if hit is not None}
        for idx, hit in blocks:
            if hit is None:
                self.warn(f"{where}: search result [{idx}] has no 'URL Source:' line; skipped")
                continue
            self.records.append(
                _record(hit.url, hit.title, "search", self.step, hit.snippet, call_id, hit.date)
            )

    def on_open(self, where: str, call_id: str, args: dict[str, Any], output: str) -> None:
        if "Markdown Content:" not in output and "URL Source:" not in output:
            self.warn(f"{where}: not a page (an error message?); skipped")
            return
        try:
            page = parse_page(output)
        except HistoryFormatError:
            url = self.resolve_open_target(where, args.get("id"))
            if url is None:
                return
            _, _, body = output.partition("Markdown Content:")
            page = Page(url=url, title="", text=body.removeprefix("\n"))
        self.open_page = page
        self.records.append(
            _record(page.url, page.title, "open", self.step, page.text, call_id, page.date)
        )

    def resolve_open_target(self, where: str, target: Any) -> str | None:
        if isinstance(target, str) and not target.strip().lstrip("-").isdigit():
            return target.strip()
        try:
            idx = int(target)
        except (TypeError, ValueError):
            self.warn(f"{where}: page without 'URL Source:' and no usable 'id'; skipped")
            return None
        if idx in self.latest_hits:
            return self.latest_hits[idx].url
        self.warn(f"{where}: id {idx} is not in the latest search results; skipped")
        return None

    def on_find(self, where: str, call_id: str, output: str) -> None:
        if self.open_page is None:
            self.warn(f"{where}: find before any page was opened; skipped")
            return
        for match in parse_find(output):
            if match.strip():
                self.records.append(
                    _record(self.open_page.url, self.open_page.title, "find", self.step, match,
                            call_id, self.open_page.date)
                )


def _ill_formed(name: Any, raw_args: Any, reasons: Any) -> str | None:
    """Why a tool call is ill-formed (the reference rollout's notion), or None."""
    if reasons:
        return "marked ill-formed by the rollout"
    if not isinstance(name, str) or not name:
        return "no tool name"
    if isinstance(raw_args, Mapping):
        return None
    if not isinstance(raw_args, str):
        return f"arguments are {type(raw_args).__name__}, not a JSON string"
    if not raw_args.strip():
        return None
    try:
        args = json.loads(raw_args)
    except (json.JSONDecodeError, RecursionError):
        return "arguments are not valid JSON"
    if not isinstance(args, dict):
        return "arguments are not a JSON object"
    return None


def _arguments(raw: Any) -> dict[str, Any]:
    """The arguments of a well-formed call (checked by :func:`_ill_formed`)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    return json.loads(raw) if raw.strip() else {}


def _record(
    url: str, title: str, kind: str, step: int, text: str, call_id: str, date: str | None
) -> LedgerRecord:
    return LedgerRecord(
        source_id=source_id(url), url=url, title=title, kind=kind,  # type: ignore[typeddict-item]
        step=step, text=text, start=None, end=None, tool_call_id=call_id, date=date,
    )
