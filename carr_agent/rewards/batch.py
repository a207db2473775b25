"""Score a JSONL file of ``/evaluate`` requests, resumably (``carr-agent score``).

Each input line is one reference-format request; each output line is the server's response for it
plus ``line`` (1-based input line number), ``id`` (the request's ``id`` if it has one) and
``status`` (the HTTP status the server would answer). The output is appended and flushed line by
line, so an interrupted run loses at most the requests being judged at that moment; run the same
command again and lines already in the output are skipped. A last output line cut off by the
interruption is removed before appending.

Lines that are not UTF-8, not valid JSON (nested too deeply, an integer too large to read), not
valid requests (HTTP 4xx) or that make scoring raise are reported with their line number and
skipped (not written); the other lines are scored all the same. Judge failures (502/504) are written with ``reward: null``;
``retry_failed=True`` drops them from the output and judges those lines again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from carr_agent.errors import DataError
from carr_agent.rewards.server import RewardService
from carr_agent.safetext import json_dumps

logger = logging.getLogger(__name__)

#: Statuses written to the output (final answers); others are bad input, reported and skipped.
_WRITTEN = (200, 502, 504)
_FAILED = (502, 504)


@dataclass
class BatchSummary:
    """What one run did.

    Attributes:
        total: input lines (blank lines excluded).
        already_done: lines skipped because the output already had them.
        scored: lines judged and written now (failures included).
        failed: of those, judge failures (written with ``reward: null``).
        bad: ``(line number, reason)`` of lines skipped as invalid.
    """

    total: int = 0
    already_done: int = 0
    scored: int = 0
    failed: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)


def done_lines(out_path: Path, *, drop_failed: bool = False) -> set[int]:
    """Line numbers already in ``out_path``, repairing a cut-off last line.

    Args:
        out_path: the output file (may not exist yet).
        drop_failed: rewrite the file without judge-failure lines, so they are scored again.
    """
    if not out_path.exists():
        return set()
    raw = out_path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        logger.warning("%s: removing a cut-off last line (%d bytes)", out_path, len(raw) - cut)
        raw = raw[:cut]
        with out_path.open("r+b") as fh:
            fh.truncate(cut)
    done: set[int] = set()
    kept: list[bytes] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            index = int(record["line"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{out_path}:{number}: not a score record ({exc}); refusing to append to it"
            ) from exc
        if drop_failed and record.get("status") in _FAILED:
            continue
        done.add(index)
        kept.append(line)
    if drop_failed and len(kept) != len([ln for ln in raw.splitlines() if ln.strip()]):
        tmp = out_path.with_suffix(out_path.suffix + ".tmp")
        tmp.write_bytes(b"".join(ln + b"\n" for ln in kept))
        os.replace(tmp, out_path)
    return done


def iter_requests(in_path: Path) -> Iterator[tuple[int, Any | DataError]]:
    """``(line number, parsed JSON or the error)`` for every non-blank input line."""
    with in_path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            yield number, _parse_line(raw)


def _parse_line(raw: bytes) -> Any | DataError:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DataError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return DataError(f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return DataError("not valid JSON (nested too deeply)")
    except ValueError as exc:  # an integer over Python's digit limit
        return DataError(f"not valid JSON ({exc})")


async def score_jsonl(
    in_path: Path,
    out_path: Path,
    service: RewardService,
    *,
    retry_failed: bool = False,
    window: int | None = None,
    on_result: Callable[[int, int, dict[str, Any]], None] | None = None,
    on_resume: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Score every request of ``in_path`` not yet in ``out_path``; append results to it.

    Args:
        in_path: JSONL of ``/evaluate`` request bodies.
        out_path: JSONL of results (created or appended).
        service: the scoring service (judge routing, validation, concurrency, cache).
        retry_failed: judge again the lines whose earlier result was a judge failure.
        window: requests read ahead (default: twice the service's concurrency).
        on_result: called ``(line, status, body)`` after each line (progress bars).
        on_resume: called once with the number of lines already in ``out_path``.

    Raises:
        DataError: ``out_path`` exists but is not a score output.
    """
    if not in_path.is_file():
        raise DataError(f"input file not found: {in_path}")
    done = done_lines(out_path, drop_failed=retry_failed)
    if on_resume is not None:
        on_resume(len(done))
    summary = BatchSummary()
    limit = window or 2 * service.options.concurrency
    pending: set[asyncio.Task[None]] = set()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a", encoding="utf-8") as out:
        for number, body in iter_requests(in_path):
            summary.total += 1
            if number in done:
                summary.already_done += 1
                continue
            if isinstance(body, DataError):
                _bad(summary, number, str(body), on_result)
                continue
            while len(pending) >= limit:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(_one(service, out, number, body, summary, on_result))
            pending.add(task)
        if pending:
            await asyncio.gather(*pending)
    return summary


async def _one(
    service: RewardService,
    out: IO[str],
    number: int,
    body: Any,
    summary: BatchSummary,
    on_result: Callable[[int, int, dict[str, Any]], None] | None,
) -> None:
    try:
        status, response = await service.evaluate(body)
    except Exception as exc:  # one line never stops the others: it is named and skipped
        logger.debug("line %d raised while scored", number, exc_info=True)
        _bad(summary, number, f"scoring failed: {type(exc).__name__}: {exc}", on_result)
        return
    if status not in _WRITTEN:
        _bad(summary, number, str(response.get("error", response)), on_result)
        return
    record: dict[str, Any] = {"line": number}
    if isinstance(body, dict) and "id" in body:
        record["id"] = body["id"]
    record["status"] = status
    record.update(response)
    try:
        line = json_dumps(record)  # a lone surrogate echoed from the request stays escaped
    except (ValueError, RecursionError) as exc:
        _bad(summary, number, f"result not writable as JSON: {exc}", on_result)
        return
    out.write(line + "\n")
    out.flush()
    summary.scored += 1
    if status in _FAILED:
        summary.failed += 1
    if on_result is not None:
        on_result(number, status, response)


def _bad(
    summary: BatchSummary,
    number: int,
    reason: str,
    on_result: Callable[[int, int, dict[str, Any]], None] | None,
) -> None:
    logger.warning("line %d skipped: %s", number, reason)
    summary.bad.append((number, reason))
    if on_result is not None:
        on_result(number, 400, {"error": reason})


__all__ = ["BatchSummary", "done_lines", "iter_requests", "score_jsonl"]
