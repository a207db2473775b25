"""The one retry/backoff helper of carr_agent (async, exponential backoff with full jitter).

Judges, search backends and fetchers all retry the same way, so the policy lives here once.
Only exceptions the caller names are retried; anything else propagates at once (programming errors
must not be hidden behind retries). Waiting uses ``asyncio.sleep``, never ``time.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from carr_agent.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    """How often and how long to wait between attempts.

    Attributes:
        attempts: total number of tries, the first one included (>= 1).
        base_delay: seconds before the first retry (before jitter).
        factor: growth of the delay per retry.
        max_delay: cap on one delay, in seconds.
        jitter: "full jitter" (uniform in ``[0, delay]``) so that many clients retrying at once do
            not hit a judge server in lock-step.
    """

    attempts: int = 3
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"Backoff.attempts must be >= 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError("Backoff delays must be >= 0")
        if self.factor < 1:
            raise ConfigError(f"Backoff.factor must be >= 1, got {self.factor}")

    def delay(self, retry_index: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry_index`` (0 = the first retry)."""
        delay = min(self.max_delay, self.base_delay * self.factor**retry_index)
        if self.jitter:
            delay = (rng or random).uniform(0.0, delay)
        return delay


async def retry_async(
    fn: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff | None = None,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    describe: str = "operation",
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Await ``fn()`` until it succeeds, retrying on ``retry_on`` with backoff.

    Args:
        fn: a zero-argument coroutine factory (called anew for every attempt).
        backoff: the policy; ``Backoff()`` when omitted.
        retry_on: exception types worth another try; others propagate immediately.
        describe: what is being tried, for the log lines.
        sleep: the awaitable sleep (tests pass a no-op).

    Returns:
        The first successful result.

    Raises:
        The last exception of type ``retry_on`` once all attempts are spent.
    """
    policy = backoff or Backoff()
    for attempt in range(policy.attempts):
        try:
            return await fn()
        except retry_on as exc:
            if attempt + 1 >= policy.attempts:
                logger.warning("%s failed after %d attempts: %s", describe, policy.attempts, exc)
                raise
            wait = policy.delay(attempt)
            logger.info(
                "%s failed (attempt %d/%d): %s; retrying in %.2fs",
                describe, attempt + 1, policy.attempts, exc, wait,
            )
            await sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
