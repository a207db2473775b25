"""Running a coroutine from synchronous code, whether or not an event loop runs in this thread."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result.

    With no event loop running in this thread the coroutine runs on a fresh loop here; inside a
    running loop (a notebook cell, an async framework calling sync code) it runs on a fresh loop
    in a worker thread, so the caller's loop is never re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="carr-sync") as pool:
        return pool.submit(asyncio.run, coro).result()


__all__ = ["run_coroutine_sync"]
