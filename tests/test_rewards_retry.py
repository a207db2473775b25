"""The shared async retry/backoff helper."""

from __future__ import annotations

import random

import pytest

from carr_agent.errors import ConfigError
from carr_agent.retry import Backoff, retry_async


async def test_retries_named_errors_with_growing_capped_delays() -> None:
    waits: list[float] = []
    attempts = {"n": 0}

    async def flaky() -> str:
        attempts["n"] += 1
        if attempts["n"] < 4:
            raise ConnectionError("down")
        return "ok"

    async def sleep(s: float) -> None:
        waits.append(s)

    policy = Backoff(attempts=4, base_delay=1.0, factor=3.0, max_delay=5.0, jitter=False)
    assert await retry_async(flaky, backoff=policy, retry_on=(ConnectionError,), sleep=sleep) == "ok"
    assert waits == [1.0, 3.0, 5.0]


async def test_other_errors_propagate_at_once_and_last_error_is_raised() -> None:
    calls = {"n": 0}

    async def bug() -> None:
        calls["n"] += 1
        raise TypeError("bug")

    async def nop(_: float) -> None:
        return None

    with pytest.raises(TypeError):
        await retry_async(bug, retry_on=(ConnectionError,), sleep=nop)
    assert calls["n"] == 1

    async def always_down() -> None:
        calls["n"] += 1
        raise ConnectionError(f"down {calls['n']}")

    with pytest.raises(ConnectionError, match="down 4"):
        await retry_async(always_down, backoff=Backoff(attempts=3), retry_on=(ConnectionError,),
                          sleep=nop)


def test_full_jitter_stays_within_the_delay_and_policy_is_validated() -> None:
    rng = random.Random(0)
    policy = Backoff(base_delay=2.0, factor=2.0, max_delay=3.0)
    assert all(0.0 <= policy.delay(i, rng) <= min(3.0, 2.0 * 2**i) for i in range(6))
    for bad in ({"attempts": 0}, {"base_delay": -1}, {"factor": 0.5}):
        with pytest.raises(ConfigError):
            Backoff(**bad)
