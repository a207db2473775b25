"""The evaluation results store: one SQLite file holding run configurations and per-task results.

Why SQLite: an evaluation can run for hours and be interrupted (Ctrl-C, ``kill -9``, a crash).
Each task's result is written in its own transaction the moment it is scored, in WAL mode, so a
committed result survives the process dying at any point and a half-written one never appears.
The primary key ``(task_id, config_hash)`` makes a re-run with the same configuration skip what
is done and makes duplicates impossible, even with two processes writing to one store.

Tables:

* ``runs``: one row per run configuration: its hash, the configuration as JSON, when it was
  first and last used.
* ``results``: one row per (task, configuration): scalar metrics as columns (queryable with any
  SQLite client), the rubric breakdown, trajectory and ledger as JSON.

A ``failed`` result (the agent run raised) is replaced when the task is run again; an ``ok``
result is never overwritten.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carr_agent.errors import DataError
from carr_agent.eval.record import EvalRecord
from carr_agent.safetext import encodable, json_dumps

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_JSON_FIELDS = ("rubric_scores", "errors", "trajectory", "ledger")
_COLUMNS = tuple(f.name for f in fields(EvalRecord))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    config_hash TEXT PRIMARY KEY,
    config_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    task_id TEXT NOT NULL,
    config_hash TEXT NOT NULL REFERENCES runs(config_hash),
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    question TEXT NOT NULL,
    label TEXT NOT NULL,
    hops INTEGER,
    answer TEXT NOT NULL,
    extracted_answer TEXT,
    outcome_reward REAL,
    rubric_reward REAL,
    reward REAL,
    rubric_scores TEXT NOT NULL,
    errors TEXT NOT NULL,
    n_citations INTEGER NOT NULL,
    n_unseen_citations INTEGER NOT NULL,
    n_checked_citations INTEGER NOT NULL,
    n_unsupported_citations INTEGER,
    n_search INTEGER NOT NULL,
    n_open INTEGER NOT NULL,
    n_find INTEGER NOT NULL,
    tool_calls INTEGER NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    finish_reason TEXT,
    wall_s REAL NOT NULL,
    trajectory TEXT NOT NULL,
    ledger TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (task_id, config_hash)
);
"""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run configuration recorded in the store, with its result counts."""

    config_hash: str
    config: dict[str, Any]
    created_at: str
    last_used_at: str
    n_ok: int
    n_failed: int


class ResultStore:
    """Results of evaluation runs in one SQLite file (see the module docstring).

    Use as a context manager or call :meth:`close`. One instance may be used from several
    threads: its statements and transactions take turns (the runner saves from worker threads,
    off its event loop).

    Raises:
        DataError: the file is not a SQLite database or was written by a newer schema.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and self.path.stat().st_size > 0:
            _check_is_store(self.path)
        try:
            self._db = _SerialConnection(
                sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                check_same_thread=False))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{self.path} is not a usable results store: {exc}") from exc

    @classmethod
    def open_existing(cls, path: str | Path) -> ResultStore:
        """Open a store that must already exist (for reports): never creates an empty one.

        Raises:
            DataError: the file does not exist or is not a results store.
        """
        p = Path(path)
        if not p.is_file():
            raise DataError(f"results store not found: {p}")
        store = cls(p)
        if not store.runs():
            logger.warning("%s holds no runs yet", p)
        return store

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    # -- runs -----------------------------------------------------------------------------------

    def register_run(self, config_hash: str, config: Mapping[str, Any]) -> None:
        """Record a run configuration (idempotent; refreshes its last-used time)."""
        now = _now()
        with self._transaction():
            self._db.execute(
                "INSERT INTO runs (config_hash, config_json, created_at, last_used_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(config_hash) DO UPDATE SET last_used_at = ?",
                (config_hash, json.dumps(dict(config), sort_keys=True), now, now, now),
            )

    def runs(self) -> list[RunInfo]:
        """Every run configuration in the store, most recently used first."""
        rows = self._db.execute(
            "SELECT r.config_hash, r.config_json, r.created_at, r.last_used_at, "
            "  (SELECT COUNT(*) FROM results x WHERE x.config_hash = r.config_hash "
            "     AND x.status = 'ok'), "
            "  (SELECT COUNT(*) FROM results x WHERE x.config_hash = r.config_hash "
            "     AND x.status = 'failed') "
            "FROM runs r ORDER BY r.last_used_at DESC, r.created_at DESC"
        ).fetchall()
        return [RunInfo(h, json.loads(c), a, b, int(ok), int(bad)) for h, c, a, b, ok, bad in rows]

    def resolve_run(self, prefix: str | None = None) -> RunInfo:
        """The run whose hash starts with ``prefix``, or the most recently used one.

        Raises:
            DataError: no run matches, or the prefix is ambiguous.
        """
        runs = self.runs()
        if not runs:
            raise DataError(f"{self.path} holds no evaluation runs")
        if prefix is None:
            return runs[0]
        matches = [r for r in runs if r.config_hash.startswith(prefix)]
        if len(matches) != 1:
            known = ", ".join(r.config_hash[:12] for r in runs)
            what = "no run" if not matches else "more than one run"
            raise DataError(f"{what} in {self.path} matches {prefix!r}; runs: {known}")
        return matches[0]

    # -- results --------------------------------------------------------------------------------

    def finished_ids(self, config_hash: str) -> set[str]:
        """Task ids with an ``ok`` result for this configuration (skipped by a re-run)."""
        rows = self._db.execute(
            "SELECT task_id FROM results WHERE config_hash = ? AND status = 'ok'", (config_hash,)
        )
        return {r[0] for r in rows}

    def save(self, record: EvalRecord) -> bool:
        """Write one result in its own transaction; durable when this returns.

        An existing ``ok`` result for the same task and configuration is kept (a concurrent
        writer finished first); a ``failed`` one is replaced.

        Returns:
            True if the record was written, False if an ``ok`` result was already there.
        """
        values = _to_row(record)
        columns = ", ".join(_COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in
                            ("task_id", "config_hash"))
        with self._transaction():
            cur = self._db.execute(
                f"INSERT INTO results ({columns}) VALUES ({marks}) "
                f"ON CONFLICT(task_id, config_hash) DO UPDATE SET {updates} "
                f"WHERE results.status != 'ok'",
                values,
            )
            written = cur.rowcount > 0
        if not written:
            logger.info("task %s already has a result for run %s; kept it", record.task_id,
                        record.config_hash[:12])
        return written

    def records(self, config_hash: str, *, status: str | None = "ok") -> list[EvalRecord]:
        """Results of one configuration in task-id order (``status=None``: failed ones too)."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM results WHERE config_hash = ?"
        args: list[Any] = [config_hash]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        rows = self._db.execute(sql + " ORDER BY task_id", args).fetchall()
        return [_from_row(r) for r in rows]

    def count(self, config_hash: str | None = None) -> int:
        """Number of result rows (of one configuration, or all)."""
        if config_hash is None:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        return int(self._db.execute(
            "SELECT COUNT(*) FROM results WHERE config_hash = ?", (config_hash,)
        ).fetchone()[0])

    # -- internals ------------------------------------------------------------------------------

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            with self._transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        elif int(row[0]) > SCHEMA_VERSION:
            raise DataError(
                f"{self.path} was written by a newer carr_agent (schema {row[0]} > "
                f"{SCHEMA_VERSION}); upgrade carr_agent to read it"
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Rows:
    """A statement's result, read while the connection was held."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def fetchall(self) -> list[Any]:
        return self.rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class _SerialConnection:
    """A SQLite connection shared by threads: each statement, and each transaction as a whole,
    holds it alone."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.lock = threading.RLock()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Rows:
        with self.lock:
            cur = self._db.execute(sql, args)
            return _Rows(cur.fetchall(), cur.rowcount)

    def executescript(self, script: str) -> None:
        with self.lock:
            self._db.executescript(script)

    def close(self) -> None:
        with self.lock:
            self._db.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on error): one writer at a time, no upgrade
    deadlocks between concurrent processes; the connection is held for the whole transaction."""

    def __init__(self, db: _SerialConnection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._db.lock.release()
            raise

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._db.lock.release()


def _check_is_store(path: Path) -> None:
    """Refuse (without writing to it) a file that is not a results store."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path} is not a usable results store: {exc}") from exc
    if tables and not {"runs", "results"} <= tables:
        raise DataError(f"{path} is not a carr-agent results store (no runs/results tables)")


def _to_row(record: EvalRecord) -> tuple[Any, ...]:
    out = []
    for name in _COLUMNS:
        value = getattr(record, name)
        if name in _JSON_FIELDS:
            value = json_dumps(value, default=str)
        elif name == "finished_at" and not value:
            value = _now()
        elif isinstance(value, str):
            value = encodable(value)
        out.append(value)
    return tuple(out)


def _from_row(row: tuple[Any, ...]) -> EvalRecord:
    data = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name])
    return EvalRecord(**data)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def iter_records(path: str | Path, config_hash: str | None = None) -> Iterator[EvalRecord]:
    """Results of one run (default: the most recently used) of the store at ``path``."""
    with ResultStore.open_existing(path) as store:
        run = store.resolve_run(config_hash)
        yield from store.records(run.config_hash)


__all__ = ["SCHEMA_VERSION", "ResultStore", "RunInfo", "iter_records"]
