"""Request bodies of the reward server: JSON decoded safely, and a canonical form to hash.

Everything a client can send is answered with a :class:`BodyError` naming the problem (the server
turns it into a 4xx), never an exception from deep inside a decoder:

* bytes that are not UTF-8, JSON syntax errors, ``NaN`` / ``Infinity`` (not JSON), nesting deeper
  than :data:`MAX_DEPTH`, numbers too large to represent (e.g. 5,000-digit integers) → 400;
* lone surrogates (``"\\ud800"``: text that cannot be encoded, so it can be neither hashed nor
  forwarded to a judge) → 400;
* a ``Content-Type`` that is not JSON → 415 (:func:`check_content_type`).

Decoding uses orjson (fast, strict: it rejects all of the above by itself). orjson reads integers
beyond 64 bits as floats; where the protocol turns a number into text (``label``, gold entity
values) that would change it, so a body with such a number there is decoded again by the standard
library, with the same checks.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from carr_agent.rewards.protocol import RequestError

#: orjson's nesting limit; the standard-library path enforces the same.
MAX_DEPTH = 1024
#: Floats at or above this may be integers that lost digits.
_EXACT_FLOAT_INTS = 2.0**53
_JSON_TYPES = ("application/json", "text/json")


class BodyError(RequestError):
    """A request body that cannot be read as JSON (400), is too large (413) or is not JSON (415)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message, status=status)


def check_content_type(content_type: str | None) -> None:
    """Accept JSON media types (``application/json``, ``text/json``, ``application/*+json``) and a
    missing header (some clients send none); anything else is 415."""
    if content_type is None or not content_type.strip():
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
        return
    raise BodyError(
        f"Content-Type {media!r} is not JSON: send the request as application/json", status=415
    )


def decode_json(raw: bytes) -> Any:
    """The JSON value of a request body.

    Raises:
        BodyError: (400) naming why the body is not acceptable JSON.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"request body is not valid JSON: {_orjson_reason(exc)}") from exc
    return _stdlib_decode(raw) if _inexact_text_number(value) else value


def canonical_bytes(value: Any) -> bytes:
    """A canonical encoding of a decoded body (keys sorted): equal requests give equal bytes.

    Raises:
        BodyError: (400) the value holds a lone surrogate.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits, or a lone surrogate
        pass
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BodyError(_surrogate_message(text, exc)) from exc


def _inexact_text_number(body: Any) -> bool:
    """Whether a number the protocol reads as text (label, entity values) may have lost digits."""
    if not isinstance(body, dict):
        return False
    values = [body.get("label")]
    info = body.get("remote_env_info")
    entities = info.get("entities") if isinstance(info, dict) else None
    if isinstance(entities, dict):
        values.extend(entities.values())
    return any(isinstance(v, float) and abs(v) >= _EXACT_FLOAT_INTS for v in values)


def _stdlib_decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"request body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise BodyError(f"request body is nested deeper than {MAX_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise BodyError(f"request body is not valid JSON: {exc}") from exc
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise BodyError(f"request body is not acceptable JSON: {exc}") from exc
    _check_depth(value)
    return value


def _no_constant(name: str) -> Any:
    raise BodyError(f"request body is not valid JSON: {name} is not a JSON number")


def _check_depth(value: Any) -> None:
    """Iteratively: the body's nesting must not exceed :data:`MAX_DEPTH`."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyError(f"request body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _orjson_reason(exc: orjson.JSONDecodeError) -> str:
    message = str(exc)
    if "surrogate" in message:
        return f"{message} (lone surrogates such as \\ud800 are not text)"
    if "infinity" in message:
        return f"{message} (a number too large to represent)"
    if "depth" in message:
        return f"{message} (nesting deeper than {MAX_DEPTH} levels)"
    return message


def _surrogate_message(text: str, exc: UnicodeEncodeError) -> str:
    code = ord(text[exc.start])
    return f"request body holds a lone surrogate (\\u{code:04x}), which is not text"


__all__ = ["MAX_DEPTH", "BodyError", "canonical_bytes", "check_content_type", "decode_json"]
