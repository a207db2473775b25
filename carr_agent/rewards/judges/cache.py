"""A persistent cache of judge outputs (SQLite, WAL) so re-scoring costs no judge calls.

Keyed by ``sha256(model id + "\\n" + full prompt)``: the same question to the same model gets the
stored raw output, which is then validated again like a fresh one. Safe across threads (one
connection behind a lock), across coroutines (``aget``/``aput`` run in a worker thread) and across
processes (WAL journal, busy timeout). A broken cache never breaks scoring: read/write failures are
logged and treated as misses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from carr_agent.errors import ConfigError

logger = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS judge_cache (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, kind TEXT NOT NULL, output TEXT NOT NULL,
    created REAL NOT NULL)"""


class JudgeCache:
    """SQLite-backed ``key → raw judge output`` store.

    Args:
        path: database file (created with its parent folders), or ``":memory:"``.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        try:
            if self.path != ":memory:":
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                Path(self.path).expanduser() if self.path != ":memory:" else self.path,
                check_same_thread=False, timeout=30.0, isolation_level=None,
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot open judge cache at {self.path!r}: {exc}") from exc

    @staticmethod
    def key(model_id: str, prompt: str) -> str:
        """The cache key of one prompt to one model."""
        return hashlib.sha256(f"{model_id}\n{prompt}".encode()).hexdigest()

    def get(self, key: str) -> str | None:
        """The stored output, or None."""
        try:
            with self._lock:
                row = self._conn.execute(
                    "SELECT output FROM judge_cache WHERE key = ?", (key,)
                ).fetchone()
        except sqlite3.Error as exc:
            logger.warning("judge cache read failed (%s); treating as a miss", exc)
            row = None
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return str(row[0])

    def put(self, key: str, output: str, *, model_id: str = "", kind: str = "") -> None:
        """Store (or replace) an output."""
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT OR REPLACE INTO judge_cache (key, model, kind, output, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, model_id, kind, output, time.time()),
                )
        except sqlite3.Error as exc:
            logger.warning("judge cache write failed: %s", exc)

    async def aget(self, key: str) -> str | None:
        """:meth:`get` without blocking the event loop."""
        return await asyncio.to_thread(self.get, key)

    async def aput(self, key: str, output: str, *, model_id: str = "", kind: str = "") -> None:
        """:meth:`put` without blocking the event loop."""
        await asyncio.to_thread(self.put, key, output, model_id=model_id, kind=kind)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM judge_cache").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def default_cache_path(env: Mapping[str, str] | None = None) -> Path:
    """``judge-cache.sqlite`` in the carr_agent cache directory (``$CARR_AGENT_CACHE``, else the
    platform's user cache dir). ``$CARR_JUDGE_CACHE`` is read by
    :class:`~carr_agent.rewards.judges.config.JudgeConfig`, not here."""
    from carr_agent.paths import judge_cache_path

    return judge_cache_path(env)
