"""Parse tool calls out of raw model text (pure; no model, no I/O).

Local chat models (Qwen2.5, Hermes-style fine-tunes) write tool calls as text::

    <tool_call>
    {"name": "search", "arguments": {"query": "moon landing", "num": 5}}
    </tool_call>

Small models get this wrong in many small ways. :func:`parse_tool_calls` recovers what can be
recovered without guessing the intent:

- several ``<tool_call>`` blocks per turn, a missing closing tag, several JSON objects in one block;
- JSON inside a code fence, ``arguments`` given as a JSON *string*, ``parameters``/``args`` instead
  of ``arguments``, OpenAI's ``{"function": {...}}`` shape;
- single quotes, trailing commas, Python literals (``True``/``None``) — via a small safe literal
  evaluator, never ``eval``;
- no tags at all: a reply that *is* a tool-call JSON object (or a code-fenced one, or a list of
  them). Without tags the object must name a known tool when ``tool_names`` is given, so a JSON
  answer is not mistaken for a call.

What cannot be recovered is reported as an ``InvalidToolCall`` (langchain-core's type, with the raw
fragment and the reason) so the agent graph can tell the model that its call was malformed,
instead of silently treating the turn as a final answer.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Collection
from typing import Any, NamedTuple

from langchain_core.messages import InvalidToolCall, ToolCall
from langchain_core.messages.tool import invalid_tool_call, tool_call

__all__ = ["ParsedToolCalls", "new_tool_call_id", "parse_tool_calls"]

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"

_FENCE_RE = re.compile(
    r"```[ \t]*(?:json|JSON|javascript|python|tool_call)?[ \t]*\n?(.*?)```", re.DOTALL
)
_TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")
_ARG_KEYS = ("arguments", "parameters", "args", "input")
_NON_ARG_KEYS = frozenset({"name", "type", "id", "function"})


class ParsedToolCalls(NamedTuple):
    """The result of parsing one model reply.

    Attributes:
        content: The reply text with every recognised tool-call fragment removed and stripped.
        tool_calls: Well-formed calls, ``{"name", "args", "id", "type": "tool_call"}``.
        invalid_tool_calls: Fragments that looked like calls but could not be used, with ``error``.
    """

    content: str
    tool_calls: list[ToolCall]
    invalid_tool_calls: list[InvalidToolCall]


class _Malformed(ValueError):
    """A fragment is not a usable tool call; the message says why."""


def new_tool_call_id() -> str:
    """Return a fresh, unique tool-call id in OpenAI's style (``call_`` + 24 hex digits)."""
    return "call_" + uuid.uuid4().hex[:24]


def parse_tool_calls(text: str, tool_names: Collection[str] | None = None) -> ParsedToolCalls:
    """Split a model reply into its prose and its tool calls.

    Args:
        text: The raw completion text (special end-of-turn tokens already removed).
        tool_names: Names of the bound tools. Used only for *untagged* JSON replies: such an object
            counts as a call only if it names one of these tools (any name when ``None``).
            Tagged ``<tool_call>`` blocks are always calls, even with an unknown name, so the
            graph can report "no such tool" to the model.

    Returns:
        ``ParsedToolCalls(content, tool_calls, invalid_tool_calls)``; each call has a unique id.
    """
    if OPEN_TAG in text or CLOSE_TAG in text:
        return _parse_tagged(text)
    return _parse_untagged(text, tool_names)


def _parse_tagged(text: str) -> ParsedToolCalls:
    pieces = text.split(OPEN_TAG)
    kept: list[str] = [pieces[0]]
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for piece in pieces[1:]:
        body, sep, rest = piece.partition(CLOSE_TAG)
        if not sep:
            # A missing closing tag: the call runs to the end of this piece.
            body, rest = piece, ""
        if not sep:
            body, rest = _split_unclosed(body)
        _collect(body, calls, invalid, missing_close=not sep)
        kept.append(rest)
    content = "".join(kept)
    # A stray closing tag without an opening one is noise, not content.
    content = content.replace(CLOSE_TAG, "")
    return ParsedToolCalls(_tidy(content), calls, invalid)


def _split_unclosed(body: str) -> tuple[str, str]:
    """For a block without ``</tool_call>``: the leading JSON value, and any prose after it."""
    stripped = body.lstrip()
    if not stripped.startswith("{"):
        return body, ""
    try:
        _, end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError:
        return body, ""
    return stripped[:end], stripped[end:]


def _collect(
    body: str, calls: list[ToolCall], invalid: list[InvalidToolCall], *, missing_close: bool
) -> None:
    raw = body.strip()
    if not raw:
        invalid.append(_invalid(body, "empty <tool_call> block"))
        return
    try:
        objects = _loads_many(_unfence(raw))
    except _Malformed as exc:
        reason = str(exc) + (" (and no closing </tool_call> tag)" if missing_close else "")
        invalid.append(_invalid(raw, reason))
        return
    for obj in objects:
        try:
            calls.append(_to_call(obj))
        except _Malformed as exc:
            invalid.append(_invalid(raw, str(exc), name=_name_of(obj)))


def _parse_untagged(text: str, tool_names: Collection[str] | None) -> ParsedToolCalls:
    stripped = text.strip()
    # The whole reply is a call (or a list of calls), possibly fenced.
    if stripped.startswith(("{", "[", "```")):
        whole = _try_calls(_unfence(stripped), tool_names)
        if whole is not None and (not stripped.startswith("```") or stripped.endswith("```")):
            return ParsedToolCalls("", whole, [])
    # A reply that opens with a call naming a bound tool, then rambles on (small models do this).
    if stripped.startswith("{") and tool_names:
        try:
            obj, end = json.JSONDecoder().raw_decode(stripped)
        except ValueError:
            obj, end = None, 0
        if _looks_like_call(obj, tool_names):
            try:
                return ParsedToolCalls(_tidy(stripped[end:]), [_to_call(obj)], [])
            except _Malformed:
                pass
    # Fenced calls inside prose.
    calls: list[ToolCall] = []

    def replace(match: re.Match[str]) -> str:
        found = _try_calls(match.group(1).strip(), tool_names)
        if found is None:
            return match.group(0)
        calls.extend(found)
        return ""

    content = _FENCE_RE.sub(replace, text)
    if calls:
        return ParsedToolCalls(_tidy(content), calls, [])
    return ParsedToolCalls(text.strip(), [], [])


def _try_calls(raw: str, tool_names: Collection[str] | None) -> list[ToolCall] | None:
    """Calls if *raw* is entirely tool-call-shaped JSON naming known tools, else None."""
    try:
        objects = _loads_many(raw)
    except _Malformed:
        return None
    if not objects or not all(_looks_like_call(o, tool_names) for o in objects):
        return None
    try:
        return [_to_call(o) for o in objects]
    except _Malformed:
        return None


def _looks_like_call(obj: Any, tool_names: Collection[str] | None) -> bool:
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str):
        return False
    if not any(k in obj for k in _ARG_KEYS):
        # Flat arguments ({"name": "find", "pattern": "x"}) only for a tool known to be bound.
        return tool_names is not None and name in tool_names and len(obj) > 1
    return tool_names is None or name in tool_names


def _to_call(obj: Any) -> ToolCall:
    if not isinstance(obj, dict):
        raise _Malformed(f"a tool call must be a JSON object, got {type(obj).__name__}")
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Malformed('the tool call has no "name" string')
    args: Any = {k: v for k, v in obj.items() if k not in _NON_ARG_KEYS}  # flat arguments
    for key in _ARG_KEYS:
        if key in obj:
            args = obj[key]
            break
    if args is None:
        args = {}
    if isinstance(args, str):
        if not args.strip():
            args = {}
        else:
            try:
                args = _loads_one(args)
            except _Malformed as exc:
                raise _Malformed(
                    f'"arguments" is a string that is not a JSON object: {exc}'
                ) from None
    if not isinstance(args, dict):
        raise _Malformed(f'"arguments" must be a JSON object, got {type(args).__name__}')
    return tool_call(name=name.strip(), args=args, id=new_tool_call_id())


def _loads_many(raw: str) -> list[Any]:
    """Parse one JSON value, a list of call objects, or several objects back to back."""
    try:
        value = _loads_one(raw)
    except _Malformed:
        value = None
        objects = _raw_decode_all(raw)
        if objects is None:
            raise
        return objects
    if isinstance(value, list):
        return value
    return [value]


def _raw_decode_all(raw: str) -> list[Any] | None:
    decoder = json.JSONDecoder()
    objects: list[Any] = []
    i = 0
    text = _TRAILING_COMMA_RE.sub(r"\1", raw)
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n,;":
            i += 1
        if i >= len(text):
            break
        try:
            obj, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return None
        objects.append(obj)
    return objects if len(objects) > 1 else None


def _loads_one(raw: str) -> Any:
    """Lenient single-value JSON: strict JSON, then trailing commas removed, then literals."""
    raw = raw.strip()
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        first_error = exc
    candidate = _TRAILING_COMMA_RE.sub(r"\1", raw)
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        pass
    try:
        return _literal(candidate)
    except (SyntaxError, ValueError, RecursionError):
        pass
    raise _Malformed(f"invalid JSON: {first_error.msg} at position {first_error.pos}")


_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _literal(raw: str) -> Any:
    """Evaluate a JSON-ish / Python literal safely (single quotes, True/None, trailing commas)."""
    return _eval_node(ast.parse(raw, mode="eval").body)


def _eval_node(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(
        node.value, str | int | float | bool | type(None)
    ):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("dict unpacking is not a literal")
        return {_eval_node(k): _eval_node(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval_node(e) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval_node(node.operand)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    raise ValueError(f"not a literal: {type(node).__name__}")


def _unfence(raw: str) -> str:
    match = _FENCE_RE.fullmatch(raw.strip())
    if match:
        return match.group(1).strip()
    stripped = raw.strip()
    if stripped.startswith("```"):
        # An unterminated fence: drop the opening line.
        return stripped.split("\n", 1)[1].strip() if "\n" in stripped else ""
    return stripped


def _name_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        function = obj.get("function")
        name = (function if isinstance(function, dict) else obj).get("name")
        return name if isinstance(name, str) else None
    return None


def _invalid(raw: str, error: str, name: str | None = None) -> InvalidToolCall:
    if name is None:
        match = re.search(r"""["']name["']\s*:\s*["']([^"']+)["']""", raw)
        name = match.group(1) if match else None
    return invalid_tool_call(name=name, args=raw.strip(), id=new_tool_call_id(), error=error)


def _tidy(content: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", content).strip()
