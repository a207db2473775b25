"""Mutated and pathological ``/evaluate`` requests, for the reward server's fuzz test and benchmark.

Two generators over valid seed requests (reference-format bodies):

* :func:`mutated_requests`: random, reproducible (seeded) mutations of the seeds: a JSON value
  swapped for an odd one (wrong type, huge number, lone surrogate, bad URL…), a key deleted,
  hostile text spliced into the answer or a tool output, messages duplicated or dropped, the
  encoded bytes truncated or flipped, a wrong Content-Type;
* :func:`pathological_cases`: one of each input class known to have broken servers: deep JSON,
  5,000-digit integers, ``Infinity``/``NaN``, lone surrogates, bad-port and broken-IPv6 URLs in
  every place a URL is read, 29+-digit numbers in answers, quadratic-parser bait (``[a](`` ×
  thousands), bodies just under and far over the size limit, blank gold entities, unusable
  rubrics.

Every case is bytes plus a Content-Type, ready to POST.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Values swapped into requests: wrong types, extremes, hostile strings.
ODD_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 2.5, 10**30, "", " ", "x", "\ud800", "\udfff lone", [], {}, [1], [None],
    [{"a": 1}], {"tool_call_id": "tc-1"}, {"role": "assistant"}, "http://host:99999/",
    "http://host:abc/", "http://[::1/", "https://[zz]/x", "<E0>", "<E99999999999>",
    "1" * 40, "[a](" * 200, "(" * 500, "view-source:" * 100, "\x00\x01", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓",
)
#: Text spliced into answers and tool outputs.
HOSTILE_TEXT: tuple[str, ...] = (
    "[1](http://host:99999/a)", "[2](http://host:abc/)", "[3](http://[::1/x)",
    "[4](https://[fe80::1%25eth0]/p)", "[5](<http://a.org/x>)", "[6](http://a.org/(((((",
    "[a](" * 300, "]( " * 300, "((((((((((" * 50, "https://" * 100,
    "The answer is 123456789012345678901234567890.", "1,234,567,890,123,456,789,012,345,678",
    "## References\n" * 20, "\ud800", "[Match 1]\n" * 50,
    "[0] URL Source: http://host:99999/\n[0] Title: x",
    "URL Source: http://[::1\nMarkdown Content:\nx",
)
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class FuzzCase:
    """One request to send: a name (its input class), the body bytes and the Content-Type."""

    name: str
    body: bytes
    content_type: str = JSON


def encode(value: Any) -> bytes:
    """JSON bytes of a value; lone surrogates are written as ``\\udXXX`` escapes (as a client in
    another language would send them)."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode("ascii")


def mutated_requests(seeds: Sequence[Mapping[str, Any]], n: int, *, seed: int = 0
                     ) -> Iterator[FuzzCase]:
    """``n`` reproducible random mutations of the seed requests."""
    rng = random.Random(seed)
    mutators = (_swap_value, _delete_key, _splice_text, _reshape_history, _swap_value,
                _splice_text, _corrupt_bytes, _wrong_content_type)
    for i in range(n):
        body = copy.deepcopy(dict(seeds[i % len(seeds)]))
        mutate = rng.choice(mutators)
        yield mutate(body, rng)


def pathological_cases(seed: Mapping[str, Any], *, max_body_bytes: int = 8 * 2**20
                       ) -> list[FuzzCase]:
    """One case per known-dangerous input class (see the module docstring)."""
    cases: list[FuzzCase] = []

    def add(name: str, value: Any = None, *, raw: bytes | None = None, ctype: str = JSON) -> None:
        cases.append(FuzzCase(name, raw if raw is not None else encode(value), ctype))

    base = copy.deepcopy(dict(seed))
    add("deep-json-1000", raw=b"[" * 1000 + b"]" * 1000)
    add("deep-json-100000", raw=b"[" * 100_000 + b"]" * 100_000)
    add("deep-object", raw=b'{"a":' * 5000 + b"1" + b"}" * 5000)
    add("int-5000-digits", raw=b'{"history": [], "label": ' + b"7" * 5000 + b"}")
    add("label-int-30-digits", {**base, "label": 10**29 + 7})
    add("infinity", raw=b'{"id": Infinity}')
    add("nan", raw=b'{"history": NaN, "label": "x"}')
    add("lone-surrogate", {**base, "label": "\ud800"})
    add("lone-surrogate-in-answer", _with_answer(base, _answer(base) + " \udfff"))
    add("invalid-utf8", raw=b'{"label": "\xff\xfe"}')
    add("empty-body", raw=b"")
    add("json-array", [1, 2, 3])
    add("json-string", "hello")
    add("text-plain", base, ctype="text/plain")
    add("form-encoded", raw=b"a=1&b=2", ctype="application/x-www-form-urlencoded")
    for url in ("http://host:99999/", "http://host:abc/", "http://[::1/", "http://[::1]:99999/x"):
        add(f"bad-url-citation {url}", _with_answer(base, _answer(base) + f" [9]({url})"))
        add(f"bad-url-search {url}", _with_tool_output(
            base, f"[0] Title: T\n[0] URL Source: {url}\n[0] Description: d"))
        add(f"bad-url-open {url}", _with_tool_output(
            base, f"Title: T\nURL Source: {url}\nMarkdown Content:\nBody text."))
    add("answer-29-digit-int", _with_answer(base, _answer(base).replace(
        "## Exact Answer", "12345678901234567890123456789 and\n## Exact Answer")))
    add("answer-huge-int-exact", _with_answer(base, "## Exact Answer\n" + "9" * 4000))
    for size in (27_000, 64_000, 512_000):
        add(f"quadratic-citations-{size // 1000}k", _with_answer(base, "[a](" * (size // 4)))
        add(f"quadratic-parens-{size // 1000}k", _with_answer(base, "[1](http://a.org/" + "(" * size))
        add(f"quadratic-wrappers-{size // 1000}k",
            _with_answer(base, "[1](" + "view-source:" * (size // 12) + "http://a.org)"))
        add(f"wrapped-description-{size // 1000}k", _with_tool_output(
            base, "[0] Title: T\n[0] URL Source: http://a.org\n[0] Description: d\n"
            + "more\n" * (size // 5)))
    add("near-limit-answer", _with_answer(base, "word [1](http://a.org/x) " * (
        (max_body_bytes - 20_000) // 26)))
    add("over-limit-10MB", _with_answer(base, "x" * (10 * 2**20)))
    add("blank-gold-entity", _with_entities(base, {"E1": "  "}))
    add("gold-entity-punctuation", _with_entities(base, {"E1": "!!!"}))
    for name, rubrics in (("rubrics-without-E0", ["<E1> is a town."]),
                          ("rubrics-with-gap", ["<E0> is a river.", "<E2> is a town."]),
                          ("rubrics-empty-string", ["<E0> is a river.", ""]),
                          ("rubric-label-huge", ["<E0> flows through <E5000000>."])):
        add(name, _with_info(base, rubrics=rubrics))
    add("many-rubrics", _with_info(base, rubrics=[f"<E0> has property {i}." for i in range(3000)]))
    return cases


# ------------------------------------------------------------------------------ mutators


def _swap_value(body: dict[str, Any], rng: random.Random) -> FuzzCase:
    paths = list(_paths(body))
    path = rng.choice(paths)
    _set(body, path, rng.choice(ODD_VALUES))
    return FuzzCase("swap-value", encode(body))


def _delete_key(body: dict[str, Any], rng: random.Random) -> FuzzCase:
    paths = [p for p in _paths(body) if isinstance(p[-1], str)]
    path = rng.choice(paths)
    parent = _get(body, path[:-1])
    parent.pop(path[-1], None)
    return FuzzCase("delete-key", encode(body))


def _splice_text(body: dict[str, Any], rng: random.Random) -> FuzzCase:
    strings = [p for p in _paths(body) if isinstance(_get(body, p), str)]
    path = rng.choice(strings)
    text: str = _get(body, path)
    cut = rng.randrange(len(text) + 1)
    hostile = rng.choice(HOSTILE_TEXT) * rng.choice((1, 1, 3, 20))
    _set(body, path, text[:cut] + hostile + text[cut:])
    return FuzzCase("splice-text", encode(body))


def _reshape_history(body: dict[str, Any], rng: random.Random) -> FuzzCase:
    history = body.get("history")
    if isinstance(history, list) and history:
        op = rng.randrange(3)
        i = rng.randrange(len(history))
        if op == 0:
            history.insert(i, copy.deepcopy(history[rng.randrange(len(history))]))
        elif op == 1:
            del history[i]
        else:
            history.extend(copy.deepcopy(history) * rng.randrange(1, 4))
    return FuzzCase("reshape-history", encode(body))


def _corrupt_bytes(body: dict[str, Any], rng: random.Random) -> FuzzCase:
    raw = bytearray(encode(body))
    if rng.random() < 0.5:
        raw = raw[: rng.randrange(len(raw))]
    else:
        for _ in range(rng.randrange(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    return FuzzCase("corrupt-bytes", bytes(raw))


def _wrong_content_type(body: dict[str, Any], rng: random.Random) -> FuzzCase:
    ctype = rng.choice(("text/plain", "application/xml", "multipart/form-data; boundary=x",
                        "application/json; charset=utf-8", "application/vnd.api+json", ""))
    return FuzzCase("content-type", encode(body), ctype)


# ------------------------------------------------------------------------------ helpers


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    _get(value, path[:-1])[path[-1]] = new


def _answer(body: Mapping[str, Any]) -> str:
    return str(body["history"][-1].get("content") or "")


def _with_answer(body: Mapping[str, Any], answer: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(body))
    out["history"][-1] = {"role": "assistant", "content": answer}
    return out


def _with_tool_output(body: Mapping[str, Any], output: str) -> dict[str, Any]:
    """The body with one more search (or open) whose output is ``output``, before the answer."""
    out = copy.deepcopy(dict(body))
    name = "browser.open" if "Markdown Content:" in output else "browser.search"
    call = {"role": "assistant", "tool_calls": [
        {"tool_call_id": "tc-fuzz", "name": name, "arguments": "{}"}]}
    result = {"role": "tool", "content": [{"tool_call_id": "tc-fuzz", "output": output}]}
    out["history"][-1:-1] = [call, result]
    return out


def _with_info(body: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(dict(body))
    out["remote_env_info"] = {**out["remote_env_info"], **changes}
    return out


def _with_entities(body: Mapping[str, Any], entities: Mapping[str, str]) -> dict[str, Any]:
    info = body["remote_env_info"]
    return _with_info(body, entities={**info.get("entities", {}), **entities})


__all__ = ["HOSTILE_TEXT", "ODD_VALUES", "FuzzCase", "encode", "mutated_requests",
           "pathological_cases"]
