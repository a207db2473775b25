"""Running a coroutine from synchronous code, whether or not an event loop is running.

Libraries here have one async implementation and thin sync wrappers. A sync wrapper may be
called from plain code (no loop: ``asyncio.run``) or from inside a running loop (a sync LangChain
tool invoked by async code, a notebook); there the coroutine runs on a fresh loop in a worker
thread, so the caller's loop is never re-entered.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result (or raise its exception)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=work, name="carr-run-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def in_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """Await ``fn(*args)`` run in a daemon thread.

    Unlike ``asyncio.to_thread``, a call that never returns (a stuck DNS lookup) does not hold up
    the loop's shutdown: cancelling the await abandons the thread.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def work() -> None:
        ok: bool
        value: Any
        try:
            ok, value = True, fn(*args)
        except Exception as exc:
            ok, value = False, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, ok, value)

    threading.Thread(target=work, name="carr-blocking-call", daemon=True).start()
    return await future


__all__ = ["in_daemon_thread", "run_sync"]
