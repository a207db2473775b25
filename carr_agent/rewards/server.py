"""The ``POST /evaluate`` reward server: a drop-in replacement for the reference CaRR server.

Same request and response JSON as the reference (see :mod:`carr_agent.rewards.protocol`), so a
slime/verl-style trainer can point at it unchanged. Deliberate differences, all documented in
``docs/rewards.md``:

* a judging failure is **HTTP 502** with ``{"error": reason, "reward": null, ...}`` (the reference
  answers 0, which trains against possibly correct answers); a timeout is 504;
* malformed requests are 400 (missing key, body not a JSON object) or 422 (bad values, malformed
  history), never 500;
* identical requests are answered from a **request-content cache**, and a retry that arrives while
  the first copy is still being judged awaits the same judging task (trainers time out at 120 s and
  retry, while one judging may take minutes). Failures are not cached: a retry re-judges.
* ``remote_env_info.entities`` (optional gold entity values) lets the deterministic judge score a
  request without an LLM.

The app is plain Starlette; :func:`serve` runs it with uvicorn (``carr-agent serve-reward``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from carr_agent.errors import ConfigError, DataError, JudgeError
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.protocol import (
    EvaluateRequest,
    RequestError,
    error_response,
    has_final_answer,
    parse_request,
    request_key,
    result_to_response,
    zero_response,
)
from carr_agent.rewards.rubrics import all_entity_labels

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from carr_agent.rewards.scorer import CarrScorer

logger = logging.getLogger(__name__)

JudgeChoice = Literal["auto", "llm", "deterministic"]
ScorerFactory = Callable[[], "CarrScorer | Awaitable[CarrScorer]"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerOptions:
    """How the reward server behaves.

    Attributes:
        concurrency: requests judged at once (others wait their turn; judges have rate limits).
        cache_size: finished responses kept in memory for identical retries.
        cache_path: SQLite file that also keeps finished responses across restarts (None: memory
            only).
        timeout_s: limit on one request's judging (the reference's 600 s); exceeded → 504.
        judge: ``"auto"``: requests carrying ``remote_env_info.entities`` go to the deterministic
            judge, the others to the LLM judge; ``"llm"``/``"deterministic"``: always that one.
        cache_namespace: mixed into cache keys (e.g. the judge model), so a persistent cache is not
            reused across different judges.
    """

    concurrency: int = 8
    cache_size: int = 10_000
    cache_path: Path | None = None
    timeout_s: float = 600.0
    judge: JudgeChoice = "auto"
    cache_namespace: str = ""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0, got {self.cache_size}")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.judge not in ("auto", "llm", "deterministic"):
            raise ConfigError(f"judge must be auto, llm or deterministic, got {self.judge!r}")


class ResponseCache:
    """Finished ``/evaluate`` responses by request-content key: an LRU in memory, optionally
    backed by a SQLite file so answers survive a server restart."""

    def __init__(self, size: int = 10_000, path: Path | None = None) -> None:
        self._size = size
        self._memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(str(path), check_same_thread=False)
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS responses "
                    "(key TEXT PRIMARY KEY, body TEXT NOT NULL, created REAL NOT NULL)"
                )
                self._db.commit()
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot open response cache {path}: {exc}") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        if self._db is not None:
            row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
            if row is not None:
                body = json.loads(row[0])
                self._remember(key, body)
                return body
        return None

    def put(self, key: str, body: dict[str, Any]) -> None:
        self._remember(key, body)
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, body, created) VALUES (?, ?, ?)",
                (key, json.dumps(body, ensure_ascii=False), time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        return len(self._memory)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _remember(self, key: str, body: dict[str, Any]) -> None:
        if self._size == 0:
            return
        self._memory[key] = body
        self._memory.move_to_end(key)
        while len(self._memory) > self._size:
            self._memory.popitem(last=False)


@dataclass
class _Stats:
    requests: int = 0
    judged: int = 0
    cache_hits: int = 0
    joined_in_flight: int = 0
    failures: int = 0
    started: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int
    body: dict[str, Any]


class RewardService:
    """The server's logic without HTTP: validate, route to a scorer, cache, de-duplicate.

    Args:
        llm_scorer: the scorer with the LLM judge (None: only gold-entity requests are served).
        gold_scorer: the scorer with the deterministic judge (None: a ``DeterministicJudge()``
            scorer is made on demand).
        options: see :class:`ServerOptions`.
    """

    def __init__(
        self,
        llm_scorer: CarrScorer | None,
        *,
        gold_scorer: CarrScorer | None = None,
        options: ServerOptions | None = None,
    ) -> None:
        self.options = options or ServerOptions()
        self.llm_scorer = llm_scorer
        self._gold_scorer = gold_scorer
        self.cache = ResponseCache(self.options.cache_size, self.options.cache_path)
        self.stats = _Stats()
        self._limit = asyncio.Semaphore(self.options.concurrency)
        self._in_flight: dict[str, asyncio.Task[_Outcome]] = {}

    @property
    def gold_scorer(self) -> CarrScorer:
        if self._gold_scorer is None:
            from carr_agent.rewards.judges.deterministic import DeterministicJudge
            from carr_agent.rewards.scorer import CarrScorer

            self._gold_scorer = CarrScorer(DeterministicJudge())
        return self._gold_scorer

    async def evaluate(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Answer one ``/evaluate`` body: ``(HTTP status, JSON body)``."""
        self.stats.requests += 1
        try:
            request = parse_request(body)
        except RequestError as exc:
            return exc.status, _problem(str(exc), key=exc.key)
        if request.task_unfinished or not has_final_answer(request.history):
            return 200, zero_response()
        try:
            scorer = self._scorer_for(request)
        except RequestError as exc:
            return exc.status, _problem(str(exc), key=exc.key)
        route = "llm" if scorer is self.llm_scorer else "gold"
        key = request_key({"ns": self.options.cache_namespace, "route": route, "body": body})
        cached = self.cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return 200, cached
        task = self._in_flight.get(key)
        if task is not None:
            self.stats.joined_in_flight += 1
        else:
            task = asyncio.create_task(self._judge(key, scorer, request))
            self._in_flight[key] = task
            task.add_done_callback(lambda _t, k=key: self._in_flight.pop(k, None))
        outcome = await asyncio.shield(task)
        return outcome.status, outcome.body

    async def _judge(self, key: str, scorer: CarrScorer, request: EvaluateRequest) -> _Outcome:
        async with self._limit:
            self.stats.judged += 1
            try:
                parsed = parse_history(request.history)
                async with asyncio.timeout(self.options.timeout_s):
                    result = await scorer.ascore(
                        request.task(), parsed.answer, parsed.records, alpha=request.alpha
                    )
            except DataError as exc:
                return _Outcome(422, _problem(str(exc)))
            except TimeoutError:
                self.stats.failures += 1
                reason = f"judging did not finish within {self.options.timeout_s:g} s"
                logger.warning("evaluate: %s", reason)
                return _Outcome(504, error_response(reason))
            except JudgeError as exc:
                self.stats.failures += 1
                logger.warning("evaluate: judge failed: %s", exc)
                return _Outcome(502, error_response(f"judge failed: {exc}"))
        if result.reward is None:
            self.stats.failures += 1
            reason = "; ".join(result.errors) or "judging failed"
            logger.warning("evaluate: reward unknown: %s", reason)
            return _Outcome(502, error_response(reason, result, alpha=request.alpha))
        response = result_to_response(result, alpha=request.alpha)
        self.cache.put(key, response)
        return _Outcome(200, response)

    def _scorer_for(self, request: EvaluateRequest) -> CarrScorer:
        choice = self.options.judge
        use_gold = choice == "deterministic" or (
            choice == "auto" and (request.entities is not None or self.llm_scorer is None)
        )
        if not use_gold:
            if self.llm_scorer is None:
                raise RequestError("this server has no LLM judge configured", status=503)
            return self.llm_scorer
        if request.alpha > 0 and request.rubrics:
            gold = request.entities or {}
            missing = [e for e in all_entity_labels(request.rubrics) if e != "E0" and e not in gold]
            if missing:
                raise RequestError(
                    "no LLM judge is configured and the deterministic judge needs gold values for "
                    f"{', '.join(missing)} in remote_env_info.entities",
                    key="remote_env_info.entities",
                )
        return self.gold_scorer

    def health(self) -> dict[str, Any]:
        s = self.stats
        return {
            "status": "ok",
            "judge": self.options.judge,
            "llm_judge": self.llm_scorer is not None,
            "requests": s.requests,
            "judged": s.judged,
            "cache_hits": s.cache_hits,
            "joined_in_flight": s.joined_in_flight,
            "failures": s.failures,
            "in_flight": len(self._in_flight),
            "cached": len(self.cache),
            "uptime_s": round(time.time() - s.started, 1),
        }

    async def aclose(self) -> None:
        for task in list(self._in_flight.values()):
            task.cancel()
        self.cache.close()


def create_app(
    llm_scorer: CarrScorer | ScorerFactory | None,
    *,
    gold_scorer: CarrScorer | None = None,
    options: ServerOptions | None = None,
) -> Starlette:
    """The Starlette app: ``POST /evaluate`` and ``GET /health``.

    Args:
        llm_scorer: a scorer, or a zero-argument factory (sync or async) called at startup inside
            the server's event loop (HTTP clients of LLM judges must be created there), or None.
        gold_scorer: the deterministic-judge scorer (default: made on demand).
        options: see :class:`ServerOptions`.
    """
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    holder: dict[str, RewardService] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        scorer = llm_scorer
        if scorer is not None and callable(scorer) and not hasattr(scorer, "ascore"):
            scorer = scorer()
            if asyncio.iscoroutine(scorer):
                scorer = await scorer
        holder["service"] = RewardService(scorer, gold_scorer=gold_scorer, options=options)  # type: ignore[arg-type]
        try:
            yield
        finally:
            await holder["service"].aclose()

    async def evaluate(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return JSONResponse(_problem(f"request body is not valid JSON: {exc}"), status_code=400)
        status, payload = await holder["service"].evaluate(body)
        return JSONResponse(payload, status_code=status)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(holder["service"].health())

    return Starlette(
        routes=[
            Route("/evaluate", evaluate, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def serve(app: Starlette, *, host: str = "127.0.0.1", port: int = 8888) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")


def _problem(message: str, *, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": message, "error": message}
    if key is not None:
        body["key"] = key
    return body


__all__ = ["ResponseCache", "RewardService", "ServerOptions", "create_app", "serve"]
