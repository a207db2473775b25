"""Finished ``/evaluate`` responses by request-content key, for identical retries.

An LRU in memory bounded both in entries and in **bytes** (the encoded responses are what is
stored, so the bound is exact: a response carrying 5 MB of rubrics counts 5 MB, and one larger
than the whole budget is not kept in memory), optionally backed by a SQLite file so answers
survive a restart. Thread-safe: the server reads it from worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from carr_agent.errors import ConfigError


class ResponseCache:
    """``key → encoded JSON response``.

    Args:
        size: entries kept in memory at most (0: no memory cache).
        path: SQLite file also keeping every response (None: memory only).
        max_bytes: total size of the responses kept in memory at most.
    """

    def __init__(
        self, size: int = 10_000, path: Path | None = None, *, max_bytes: int = 64 * 2**20
    ) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS responses "
                    "(key TEXT PRIMARY KEY, body TEXT NOT NULL, created REAL NOT NULL)"
                )
                self._db.commit()
            except (sqlite3.Error, OSError) as exc:
                raise ConfigError(f"cannot open response cache {path}: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        """The stored response, or None."""
        with self._lock:
            body = self._memory.get(key)
            if body is not None:
                self._memory.move_to_end(key)
                return body
            if self._db is None:
                return None
            row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            body = row[0].encode("utf-8")
            self._remember(key, body)
            return body

    def put(self, key: str, body: bytes) -> None:
        """Store a response (in memory within the bounds, and in the file if there is one)."""
        with self._lock:
            self._remember(key, body)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO responses (key, body, created) VALUES (?, ?, ?)",
                    (key, body.decode("utf-8"), time.time()),
                )
                self._db.commit()

    @property
    def nbytes(self) -> int:
        """Bytes of responses held in memory."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._memory)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _remember(self, key: str, body: bytes) -> None:
        if self._size == 0 or len(body) > self._max_bytes:
            return
        old = self._memory.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._memory[key] = body
        self._bytes += len(body)
        while len(self._memory) > self._size or self._bytes > self._max_bytes:
            _, dropped = self._memory.popitem(last=False)
            self._bytes -= len(dropped)


__all__ = ["ResponseCache"]
