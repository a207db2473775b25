"""A lean OpenAI-compatible chat client for judges, and the judge's limits.

Judging is I/O-bound, so the client's own CPU cost per call is what caps a reward server's
throughput on a small machine. A LangChain ``ChatOpenAI`` call (callbacks, pydantic models, the
OpenAI SDK, httpx) costs ~5 ms of CPU; this client sends one ``POST /chat/completions`` over a
kept-alive connection (:mod:`carr_agent.rewards.judges.keepalive`) and reads the reply with
orjson, ~0.2 ms (measured in ``benchmarks/bench_reward_server.py``). It has the one method :class:`LLMJudge` uses, ``ainvoke``.

:class:`JudgeLimits` are what the judge allows, enforced before each call: calls in flight, and
optionally requests and tokens per minute (token buckets; the prompt's tokens are estimated as
characters / 4 before the call, and the completion's tokens from the reply's ``usage`` are charged
after it). Waiting calls are counted (``waiting``) for the server's metrics.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from carr_agent.errors import ConfigError, JudgeError
from carr_agent.rewards.judges.keepalive import HTTPError, KeepAliveClient

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant",
          "system": "system", "developer": "developer"}


@dataclass(frozen=True, kw_only=True, slots=True)
class JudgeLimits:
    """What the judge allows.

    Attributes:
        max_in_flight: judge calls in flight at once.
        requests_per_minute: calls started per minute at most (None: no limit).
        tokens_per_minute: prompt + completion tokens per minute at most (None: no limit).
    """

    max_in_flight: int = 128
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be >= 1, got {self.max_in_flight}")
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be > 0 (or None), got {value}")


class _Bucket:
    """A token bucket refilled continuously at ``per_minute / 60`` per second, holding one
    second's worth (so the budget is spread over the minute, not spent in a burst); it may go
    into debt (charges after the fact), which delays later takers."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0: take it now)."""
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        need = min(amount, self.capacity) - self.level
        return 0.0 if need <= 0 else need / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount


class JudgeLimiter:
    """Enforces :class:`JudgeLimits` for the calls of one event loop."""

    def __init__(self, limits: JudgeLimits) -> None:
        self.limits = limits
        self.in_flight = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(limits.max_in_flight)
        self._rpm = _Bucket(limits.requests_per_minute) if limits.requests_per_minute else None
        self._tpm = _Bucket(limits.tokens_per_minute) if limits.tokens_per_minute else None
        self._order = asyncio.Lock()

    async def acquire(self, tokens: float) -> None:
        """Wait for a call slot and for the per-minute budgets, then take them."""
        self.waiting += 1
        try:
            await self._slots.acquire()
            try:
                if self._rpm is not None or self._tpm is not None:
                    async with self._order:  # first come, first served on the budgets
                        await self._take_budgets(tokens)
            except BaseException:
                self._slots.release()
                raise
        finally:
            self.waiting -= 1
        self.in_flight += 1

    def release(self, completion_tokens: float = 0.0) -> None:
        """A call finished; ``completion_tokens`` are charged to the token budget."""
        self.in_flight -= 1
        if self._tpm is not None and completion_tokens:
            self._tpm.take(completion_tokens)
        self._slots.release()

    async def _take_budgets(self, tokens: float) -> None:
        while True:
            delay = max(self._rpm.wait_for(1) if self._rpm else 0.0,
                        self._tpm.wait_for(tokens) if self._tpm else 0.0)
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        if self._rpm is not None:
            self._rpm.take(1)
        if self._tpm is not None:
            self._tpm.take(tokens)


@dataclass(frozen=True, slots=True)
class ChatReply:
    """What :meth:`OpenAIChatClient.ainvoke` returns: the reply text and token usage."""

    content: str
    usage: Mapping[str, Any]


class OpenAIChatClient:
    """``POST {base_url}/chat/completions`` with kept-alive connections, per event loop.

    Args:
        base_url: the endpoint, e.g. ``http://judge:8000/v1``.
        model: the model name sent with each call.
        api_key: sent as a bearer token (None: no Authorization header).
        temperature: sent when not None (None: the provider's default).
        max_tokens: sent when not None.
        timeout_s: seconds per call (connect, write, read and pool waits).
        limits: see :class:`JudgeLimits`.
        extra_body: more fields for every request body.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout_s: float = 180.0,
        limits: JudgeLimits | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        KeepAliveClient(base_url)  # validates the URL now, not at the first call
        self.base_url = base_url
        self.model_name = model
        self.limits = limits or JudgeLimits()
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.temperature = temperature
        self._fields: dict[str, Any] = dict(extra_body or {})
        if temperature is not None:
            self._fields["temperature"] = temperature
        if max_tokens is not None:
            self._fields["max_tokens"] = max_tokens
        self._timeout = timeout_s
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                  tuple[KeepAliveClient, JudgeLimiter]]
        self._per_loop = weakref.WeakKeyDictionary()

    @property
    def request_fields(self) -> dict[str, Any]:
        """What every request body carries besides the model and the messages."""
        return dict(self._fields)

    @property
    def limiter(self) -> JudgeLimiter | None:
        """The limiter of the running event loop (None before its first call)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        entry = self._per_loop.get(loop)
        return entry[1] if entry else None

    async def ainvoke(self, messages: Sequence[Any]) -> ChatReply:
        """One chat completion.

        Raises:
            JudgeError: the endpoint failed, answered an HTTP error, timed out, or its reply has
                no text.
        """
        client, limiter = self._for_loop()
        chat = [_message(m) for m in messages]
        body = orjson.dumps({"model": self.model_name, "messages": chat, **self._fields})
        prompt_tokens = sum(len(m["content"]) for m in chat) / 4
        await limiter.acquire(prompt_tokens)
        completion_tokens = 0.0
        try:
            try:
                async with asyncio.timeout(self._timeout):
                    resp = await client.post("/chat/completions", body, self._headers)
            except TimeoutError as exc:
                raise JudgeError(f"judge call timed out after {self._timeout:g} s") from exc
            except HTTPError as exc:
                raise JudgeError(f"judge call failed: {exc}") from exc
            if resp.status >= 400:
                text = resp.body[:300].decode("utf-8", "replace")
                raise JudgeError(f"judge answered HTTP {resp.status}: {text}")
            reply = _reply(resp.body)
            completion_tokens = float(reply.usage.get("completion_tokens") or 0)
            return reply
        finally:
            limiter.release(completion_tokens)

    async def aclose(self) -> None:
        """Close the connections of the running event loop."""
        entry = self._per_loop.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()

    def _for_loop(self) -> tuple[KeepAliveClient, JudgeLimiter]:
        loop = asyncio.get_running_loop()
        entry = self._per_loop.get(loop)
        if entry is None:
            client = KeepAliveClient(self.base_url, max_idle=self.limits.max_in_flight)
            entry = self._per_loop[loop] = (client, JudgeLimiter(self.limits))
        return entry


def _message(message: Any) -> dict[str, str]:
    if isinstance(message, Mapping):
        role, content = str(message.get("role", "user")), message.get("content", "")
    else:  # a LangChain message
        role, content = _ROLES.get(getattr(message, "type", "human"), "user"), message.content
    if not isinstance(content, str):
        raise JudgeError("judge messages must have text content")
    return {"role": _ROLES.get(role, role), "content": content}


def _reply(raw: bytes) -> ChatReply:
    try:
        data = orjson.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise JudgeError(f"judge reply is not a chat completion: {raw[:200]!r}") from exc
    if not isinstance(content, str):
        raise JudgeError("judge reply has no text content")
    usage = data.get("usage") if isinstance(data.get("usage"), Mapping) else {}
    return ChatReply(content=content, usage=usage)


__all__ = ["ChatReply", "JudgeLimiter", "JudgeLimits", "OpenAIChatClient"]
