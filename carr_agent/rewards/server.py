"""The ``POST /evaluate`` reward server: a drop-in replacement for the reference CaRR server.

Same request and response JSON as the reference (see :mod:`carr_agent.rewards.protocol`), so a
slime/verl-style trainer can point at it unchanged. Deliberate differences, all documented in
``docs/rewards.md``:

* a judging failure is **HTTP 502** with ``{"error": reason, "reward": null, ...}`` (the reference
  answers 0, which trains against possibly correct answers); judging that exceeds ``timeout_s``
  is 504;
* a request not answered within its **deadline** (``deadline_s``, below a trainer's usual 120 s)
  is answered 504 with the reason, while its judging goes on: the trainer's retry of the same body
  joins it or is answered from the cache;
* bad input is a 4xx naming the problem, never a 500: 400 (not JSON, not an object, a missing
  key), 413 (body over ``max_body_bytes``), 415 (a Content-Type that is not JSON), 422 (bad
  values, malformed history, unusable rubrics or gold entities). The keep-alive connection stays
  usable after any of them;
* identical requests are answered from a **request-content cache** (bounded in entries and bytes),
  and a retry that arrives while the first copy is still being judged awaits the same judging;
  failures are not cached;
* ``remote_env_info.entities`` (optional gold entity values) lets the deterministic judge score a
  request without an LLM.

CPU work never runs on the HTTP event loop: decoding, validation and history parsing run in two
worker threads (so does all of a deterministic-judge scoring), and LLM-judged scoring runs on a
second event loop in its own thread; every parser involved is linear-time. The HTTP loop only moves
bytes, so ``/health`` and ``/metrics`` answer promptly even while huge or pathological bodies are
being processed.

The app is plain Starlette; :func:`serve` runs it with uvicorn (``carr-agent serve-reward``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import orjson

from carr_agent.errors import ConfigError, DataError, JudgeError
from carr_agent.rewards.jsonbody import BodyError, canonical_bytes, check_content_type, decode_json
from carr_agent.rewards.metrics import Counter, Gauge, Histogram, Registry
from carr_agent.rewards.protocol import (
    EvaluateRequest,
    RequestError,
    error_response,
    parse_request,
    request_trajectory,
    result_to_response,
    zero_response,
)
from carr_agent.rewards.response_cache import ResponseCache
from carr_agent.rewards.rubrics import ROOT_ENTITY, all_entity_labels
from carr_agent.rewards.run import Trajectory, final_answer
from carr_agent.rewards.scorer import score_trajectory
from carr_agent.rewards.textnorm import normalize_text

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from carr_agent.rewards.judges.base import Judge, OutcomeVerdict
    from carr_agent.rewards.scorer import CarrScorer
    from carr_agent.types import RewardResult, Task

logger = logging.getLogger(__name__)

T = TypeVar("T")
JudgeChoice = Literal["auto", "llm", "deterministic"]
ScorerFactory = Callable[[], "CarrScorer | Awaitable[CarrScorer | None] | None"]
_ZERO = orjson.dumps(zero_response())


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerOptions:
    """How the reward server behaves.

    Attributes:
        concurrency: requests judged at once (others queue). A guard on memory, not the limit on
            judging: that is the judge's own (calls in flight, requests/tokens per minute; see
            :mod:`carr_agent.rewards.judges.openai_http`).
        cache_size: finished responses kept in memory for identical retries (entries).
        cache_bytes: ... and their total encoded size at most.
        cache_path: SQLite file that also keeps finished responses across restarts (None: memory
            only).
        timeout_s: limit on one request's judging (the reference's 600 s); exceeded → 504.
        deadline_s: a request not answered within this many seconds gets 504 (its judging goes
            on, up to ``timeout_s``, so a retry collects the result). None: no deadline.
        max_body_bytes: larger request bodies are refused with 413.
        judge: ``"auto"``: requests carrying ``remote_env_info.entities`` go to the deterministic
            judge, the others to the LLM judge; ``"llm"``/``"deterministic"``: always that one.
        cache_namespace: mixed into cache keys (e.g. the judge model), so a persistent cache is not
            reused across different judges.
    """

    concurrency: int = 512
    cache_size: int = 10_000
    cache_bytes: int = 64 * 2**20
    cache_path: Path | None = None
    timeout_s: float = 600.0
    deadline_s: float | None = 110.0
    max_body_bytes: int = 8 * 2**20
    judge: JudgeChoice = "auto"
    cache_namespace: str = ""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.cache_size < 0 or self.cache_bytes < 0:
            raise ConfigError("cache_size and cache_bytes must be >= 0")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ConfigError(f"deadline_s must be > 0 (or None), got {self.deadline_s}")
        if self.max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        if self.judge not in ("auto", "llm", "deterministic"):
            raise ConfigError(f"judge must be auto, llm or deterministic, got {self.judge!r}")


@dataclass
class _Stats:
    requests: int = 0
    judged: int = 0
    cache_hits: int = 0
    joined_in_flight: int = 0
    failures: int = 0
    deadline_misses: int = 0
    in_progress: int = 0
    queued: int = 0
    started: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """An answer: HTTP status and the encoded JSON body."""

    status: int
    body: bytes
    route: str = "rejected"

    def json(self) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(self.body)
        return decoded


@dataclass(frozen=True, slots=True)
class _Job:
    """A validated request, ready to judge."""

    key: str
    route: str
    scorer: CarrScorer
    request: EvaluateRequest
    parsed: Trajectory


class _ServerMetrics:
    """The service's Prometheus metrics (see :mod:`carr_agent.rewards.metrics`)."""

    def __init__(self, service: RewardService) -> None:
        s = service.stats
        self.registry = Registry()
        add = self.registry.add
        self.requests: Counter = add(Counter(  # type: ignore[assignment]
            "carr_reward_requests_total", "Answered /evaluate requests by HTTP status.", ["status"]))
        self.latency: Histogram = add(Histogram(  # type: ignore[assignment]
            "carr_reward_request_seconds", "Latency of /evaluate requests.", ["route"]))
        self.judge_calls: Counter = add(Counter(  # type: ignore[assignment]
            "carr_reward_judge_calls_total", "Judge questions by kind and result.",
            ["kind", "result"]))
        self.judge_latency: Histogram = add(Histogram(  # type: ignore[assignment]
            "carr_reward_judge_call_seconds", "Latency of judge questions (retries included).",
            ["kind"]))
        add(Gauge("carr_reward_requests_in_progress", "Requests being judged.",
                  lambda: s.in_progress))
        add(Gauge("carr_reward_requests_queued", "Requests waiting for a judging slot.",
                  lambda: s.queued))
        add(Gauge("carr_reward_judge_http_in_flight", "Judge HTTP calls in flight.",
                  lambda: service.judge_load()[0]))
        add(Gauge("carr_reward_judge_http_queued", "Judge HTTP calls waiting for the judge's limits.",
                  lambda: service.judge_load()[1]))
        add(Gauge("carr_reward_response_cache_entries", "Responses cached in memory.",
                  lambda: len(service.cache)))
        add(Gauge("carr_reward_response_cache_bytes", "Bytes of responses cached in memory.",
                  lambda: service.cache.nbytes))


class MeteredJudge:
    """A judge that counts its questions by kind and result, and times them."""

    def __init__(self, judge: Judge, metrics: _ServerMetrics) -> None:
        self.inner = judge
        self._metrics = metrics

    async def identify_entities(self, question: str, rubrics: Sequence[str], answer: str, *,
                                task: Task | None = None) -> dict[str, str | None]:
        return await self._timed("entities", self.inner.identify_entities(
            question, rubrics, answer, task=task))

    async def judge_support(self, evidence: str, statements: Sequence[str], *,
                            task: Task | None = None) -> list[bool]:
        return await self._timed("support", self.inner.judge_support(evidence, statements, task=task))

    async def judge_outcome(self, question: str, answer: str, label: str, *,
                            task: Task | None = None) -> OutcomeVerdict:
        return await self._timed("outcome", self.inner.judge_outcome(question, answer, label,
                                                                     task=task))

    async def _timed(self, kind: str, call: Awaitable[Any]) -> Any:
        start = time.perf_counter()
        result = "failed"
        try:
            value = await call
            result = "ok"
            return value
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        finally:
            self._metrics.judge_calls.inc(kind, result)
            self._metrics.judge_latency.observe(time.perf_counter() - start, kind)


class _ScoringLoop:
    """An event loop in its own thread, where LLM-judged scoring runs (its pure steps —
    citations, evidence, prompts — are CPU work that must not delay the HTTP loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="carr-scoring", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the scoring loop; cancelling the await cancels it there."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)


class RewardService:
    """The server's logic without HTTP: validate, route to a scorer, cache, de-duplicate.

    Args:
        llm_scorer: the scorer with the LLM judge (None: only gold-entity requests are served).
        gold_scorer: the scorer with the deterministic judge (None: a ``DeterministicJudge()``
            scorer is made on demand). It runs in worker threads, so its judge must not need the
            server's event loop.
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
        self.stats = _Stats()
        self.metrics = _ServerMetrics(self)
        self.llm_scorer = self._metered(llm_scorer) if llm_scorer is not None else None
        self._gold_scorer = self._metered(gold_scorer) if gold_scorer is not None else None
        o = self.options
        self.cache = ResponseCache(o.cache_size, o.cache_path, max_bytes=o.cache_bytes)
        self._limit = asyncio.Semaphore(o.concurrency)
        self._in_flight: dict[str, asyncio.Task[_Outcome]] = {}
        # CPU work (decoding, parsing, deterministic scoring): two threads at most, so the HTTP
        # loop competes for the interpreter with few threads and /health stays prompt
        self._cpu = ThreadPoolExecutor(max_workers=2, thread_name_prefix="carr-cpu")
        self._scoring: _ScoringLoop | None = None

    @property
    def gold_scorer(self) -> CarrScorer:
        if self._gold_scorer is None:
            from carr_agent.rewards.judges.deterministic import DeterministicJudge
            from carr_agent.rewards.scorer import CarrScorer

            self._gold_scorer = self._metered(CarrScorer(DeterministicJudge()))
        return self._gold_scorer

    # -- entry points -------------------------------------------------------------------------

    async def evaluate(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Answer one decoded ``/evaluate`` body: ``(HTTP status, JSON body)``."""
        outcome = await self._answer(lambda: self._prepare(body))
        return outcome.status, outcome.json()

    async def evaluate_bytes(
        self, raw: bytes, *, content_type: str | None = None
    ) -> tuple[int, bytes]:
        """Answer one raw ``/evaluate`` body: ``(HTTP status, encoded JSON body)``."""

        def prepare() -> _Job | _Outcome:
            check_content_type(content_type)
            return self._prepare(decode_json(raw))

        outcome = await self._answer(prepare)
        return outcome.status, outcome.body

    def reject(self, status: int, message: str) -> bytes:
        """Count and encode a refusal decided before the body was read (e.g. 413)."""
        self.stats.requests += 1
        self.metrics.requests.inc(str(status))
        self.metrics.latency.observe(0.0, "rejected")
        return orjson.dumps(_problem(message))

    # -- steps ----------------------------------------------------------------------------------

    async def _answer(self, prepare: Callable[[], _Job | _Outcome]) -> _Outcome:
        start = time.perf_counter()
        self.stats.requests += 1
        try:
            prepared = await self._in_cpu(_guarded, prepare)
            outcome = prepared if isinstance(prepared, _Outcome) else await self._judged(prepared)
        except Exception as exc:  # a bug: answer 500, keep the connection and the server alive
            logger.exception("evaluate: unexpected error")
            outcome = _Outcome(500, orjson.dumps(_problem(f"internal error: {type(exc).__name__}")))
        self.metrics.requests.inc(str(outcome.status))
        self.metrics.latency.observe(time.perf_counter() - start, outcome.route)
        return outcome

    def _prepare(self, body: Any) -> _Job | _Outcome:
        """Validate, route, look up the cache, parse the history (in a worker thread)."""
        request = parse_request(body)
        if request.task_unfinished or final_answer(request.history) is None:
            return _Outcome(200, _ZERO, "zero")
        scorer = self._scorer_for(request)
        route = "llm" if scorer is self.llm_scorer else "gold"
        key = _request_key(self.options.cache_namespace, route, canonical_bytes(body))
        cached = self.cache.get(key)
        if cached is not None:
            self.stats.cache_hits += 1
            return _Outcome(200, cached, "cached")
        try:
            parsed = request_trajectory(request)
        except DataError as exc:
            raise RequestError(str(exc)) from exc
        return _Job(key=key, route=route, scorer=scorer, request=request, parsed=parsed)

    def _forget(self, key: str, _task: object) -> None:
        self._in_flight.pop(key, None)

    async def _judged(self, job: _Job) -> _Outcome:
        task = self._in_flight.get(job.key)
        if task is not None:
            self.stats.joined_in_flight += 1
        else:
            task = asyncio.create_task(self._judge(job))
            self._in_flight[job.key] = task
            task.add_done_callback(functools.partial(self._forget, job.key))
        deadline = self.options.deadline_s
        try:
            async with asyncio.timeout(deadline):
                return await asyncio.shield(task)
        except TimeoutError:
            self.stats.deadline_misses += 1
            reason = (f"no answer within the request deadline of {deadline:g} s; judging goes on: "
                      "send the same request again to collect its result")
            logger.warning("evaluate: %s", reason)
            return _Outcome(504, orjson.dumps(error_response(reason)), job.route)

    async def _judge(self, job: _Job) -> _Outcome:
        self.stats.queued += 1
        try:
            await self._limit.acquire()
        finally:
            self.stats.queued -= 1
        self.stats.in_progress += 1
        self.stats.judged += 1
        request = job.request
        try:
            async with asyncio.timeout(self.options.timeout_s):
                result = await self._score(job)
        except DataError as exc:
            return _Outcome(422, orjson.dumps(_problem(str(exc))), job.route)
        except TimeoutError:
            self.stats.failures += 1
            reason = f"judging did not finish within {self.options.timeout_s:g} s"
            logger.warning("evaluate: %s", reason)
            return _Outcome(504, orjson.dumps(error_response(reason)), job.route)
        except JudgeError as exc:
            self.stats.failures += 1
            logger.warning("evaluate: judge failed: %s", exc)
            return _Outcome(502, orjson.dumps(error_response(f"judge failed: {exc}")), job.route)
        finally:
            self.stats.in_progress -= 1
            self._limit.release()
        if result.reward is None:
            self.stats.failures += 1
            reason = "; ".join(result.errors) or "judging failed"
            logger.warning("evaluate: reward unknown: %s", reason)
            body = orjson.dumps(error_response(reason, result, alpha=request.alpha))
            return _Outcome(502, body, job.route)
        encoded = orjson.dumps(result_to_response(result, alpha=request.alpha))
        if self.options.cache_path is None:
            self.cache.put(job.key, encoded)
        else:  # a SQLite write: not on the event loop
            await asyncio.to_thread(self.cache.put, job.key, encoded)
        return _Outcome(200, encoded, job.route)

    async def _score(self, job: _Job) -> RewardResult:
        request, parsed = job.request, job.parsed
        if job.route == "gold":  # pure CPU: the whole scoring in a worker thread
            return await self._in_cpu(
                _score_in_thread, job.scorer, request.task(), parsed, request.alpha)
        if self._scoring is None:
            self._scoring = _ScoringLoop()
        return await self._scoring.run(
            score_trajectory(job.scorer, request.task(), parsed, alpha=request.alpha))

    async def _in_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._cpu, fn, *args)

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
            _check_gold_values(request)
        return self.gold_scorer

    def _metered(self, scorer: CarrScorer) -> CarrScorer:
        from carr_agent.rewards.scorer import CarrScorer

        return CarrScorer(MeteredJudge(scorer.judge, self.metrics), scorer.options)

    # -- observability --------------------------------------------------------------------------

    def judge_load(self) -> tuple[int, int]:
        """``(judge HTTP calls in flight, calls waiting)`` of the LLM judge's client, if it
        reports them (see :class:`carr_agent.rewards.judges.openai_http.JudgeLimits`)."""
        judge = getattr(self.llm_scorer, "judge", None)
        model = getattr(getattr(judge, "inner", None), "chat_model", None)
        limiter = getattr(model, "limiter", None)
        if limiter is None:
            return 0, 0
        return limiter.in_flight, limiter.waiting

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
            "deadline_misses": s.deadline_misses,
            "in_flight": len(self._in_flight),
            "in_progress": s.in_progress,
            "queued": s.queued,
            "cached": len(self.cache),
            "cached_bytes": self.cache.nbytes,
            "uptime_s": round(time.time() - s.started, 1),
        }

    async def aclose(self) -> None:
        for task in list(self._in_flight.values()):
            task.cancel()
        if self._scoring is not None:
            self._scoring.close()
            self._scoring = None
        self._cpu.shutdown(wait=False, cancel_futures=True)
        self.cache.close()


async def _resolve_scorer(scorer: CarrScorer | ScorerFactory | None) -> CarrScorer | None:
    """The scorer itself: a factory is called (and awaited when it returns an awaitable)."""
    if scorer is None or hasattr(scorer, "ascore"):
        return cast("CarrScorer | None", scorer)
    made = scorer()
    return await made if inspect.isawaitable(made) else made


def create_app(
    llm_scorer: CarrScorer | ScorerFactory | None,
    *,
    gold_scorer: CarrScorer | None = None,
    options: ServerOptions | None = None,
) -> Starlette:
    """The Starlette app: ``POST /evaluate``, ``GET /health`` and ``GET /metrics``.

    Args:
        llm_scorer: a scorer, or a zero-argument factory (sync or async) called at startup inside
            the server's event loop (HTTP clients of LLM judges must be created there), or None.
        gold_scorer: the deterministic-judge scorer (default: made on demand).
        options: see :class:`ServerOptions`.
    """
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response
    from starlette.routing import Route

    holder: dict[str, RewardService] = {}
    opts = options or ServerOptions()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        holder["service"] = RewardService(await _resolve_scorer(llm_scorer),
                                          gold_scorer=gold_scorer, options=opts)
        try:
            yield
        finally:
            await holder["service"].aclose()

    def json_response(status: int, body: bytes) -> Response:
        return Response(body, status_code=status, media_type="application/json")

    async def evaluate(request: Request) -> Response:
        service = holder["service"]
        try:
            raw = await _read_body(request, opts.max_body_bytes)
        except BodyError as exc:
            return json_response(exc.status, service.reject(exc.status, str(exc)))
        except ClientDisconnect:
            return json_response(400, service.reject(400, "client disconnected"))
        status, payload = await service.evaluate_bytes(
            raw, content_type=request.headers.get("content-type"))
        return json_response(status, payload)

    async def health(request: Request) -> Response:
        return json_response(200, orjson.dumps(holder["service"].health()))

    async def metrics(request: Request) -> Response:
        text = holder["service"].metrics.registry.render()
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    return Starlette(
        routes=[
            Route("/evaluate", evaluate, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def serve(app: Starlette, *, host: str = "127.0.0.1", port: int = 8888) -> None:
    """Run the app with uvicorn until interrupted (uvloop and httptools when installed)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                timeout_keep_alive=75)


async def _read_body(request: Any, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes.

    A body announced (Content-Length) or found to be too large is still read to its end, up to
    8 × the limit, and discarded, so the client reads the 413 on a connection that stays usable.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size > 8 * limit:
            raise BodyError(f"request body of {size} bytes exceeds the limit of {limit} bytes",
                            status=413)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received <= limit:
            chunks.append(chunk)
        elif received > 8 * limit:
            break
    if received > limit:
        raise BodyError(f"request body of {received}+ bytes exceeds the limit of {limit} bytes",
                        status=413)
    return b"".join(chunks)


def _guarded(prepare: Callable[[], _Job | _Outcome]) -> _Job | _Outcome:
    """Run ``prepare``; a refused request becomes its 4xx outcome."""
    try:
        return prepare()
    except RequestError as exc:
        return _Outcome(exc.status, orjson.dumps(_problem(str(exc), key=exc.key)))


def _score_in_thread(scorer: CarrScorer, task: Task, trajectory: Trajectory,
                     alpha: float) -> RewardResult:
    return asyncio.run(score_trajectory(scorer, task, trajectory, alpha=alpha))


def _check_gold_values(request: EvaluateRequest) -> None:
    """Every entity the rubrics use needs a usable gold value (E0, when absent, falls back to
    the label), as the deterministic judge reads them."""
    gold = dict(request.entities or {})
    gold.setdefault(ROOT_ENTITY, request.label)
    unusable = [e for e in all_entity_labels(request.rubrics) if not normalize_text(gold.get(e, ""))]
    if not unusable:
        return
    missing = [e for e in unusable if e not in gold]
    blank = [e for e in unusable if e in gold]
    parts = []
    if missing:
        parts.append(f"needs gold values for {', '.join(missing)}")
    if blank:
        parts.append(f"has blank gold values for {', '.join(blank)}")
    raise RequestError(
        "the deterministic judge " + " and ".join(parts) + " in remote_env_info.entities"
        + (" (E0 falls back to the label)" if ROOT_ENTITY in unusable else ""),
        key="remote_env_info.entities",
    )


def _request_key(namespace: str, route: str, canonical: bytes) -> str:
    digest = hashlib.sha256(f"{namespace}\0{route}\0".encode("utf-8", "surrogatepass"))
    digest.update(canonical)
    return digest.hexdigest()


def _problem(message: str, *, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": message, "error": message}
    if key is not None:
        body["key"] = key
    return body


__all__ = ["MeteredJudge", "ResponseCache", "RewardService", "ServerOptions", "create_app", "serve"]
