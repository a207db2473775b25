"""Run the agent over a task set, score every run, and store each result as it finishes.

    for each task not yet in the store for this configuration (bounded concurrency):
        state  = await agent(task).ainvoke({"question": task.question})
        result = await scorer.ascore(task, answer, ledger)          # outcome + CaRR
        check  = await check_citations(judge, task, answer, ledger)  # optional
        store.save(record)                                           # one transaction

Resumability comes from the store: results are durable the moment ``save`` returns and a re-run
with the same :class:`~carr_agent.eval.config.EvalConfig` skips every task with an ``ok`` result.
Failures never abort the run; each is stored with its task:

* an *agent run* that raises something worth retrying (a model server that went away, a
  network error) is stored as ``failed`` and retried next time;
* an *agent run* that fails because of its input (:data:`PERMANENT_ERRORS`: bad data or
  configuration, a value the agent cannot handle, the recursion limit) would fail the same way
  again: it is stored as done with the error (status ``ok``, ``finish_reason`` ``"error"``,
  unknown scores), not retried forever;
* a *judge* that fails, or crashes, gives an ordinary result with unknown (None) scores.

Ctrl-C cancels the runs in flight; nothing half-finished is written.

The agent is built per task (``agent_factory(task)``) because the leakage guard hides pages that
quote *this* task's question; building a graph is cheap next to running it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from carr_agent.errors import ConfigError
from carr_agent.eval.citecheck import CitationCheck, check_citations, count_citations
from carr_agent.eval.config import EvalConfig
from carr_agent.eval.record import EvalRecord
from carr_agent.eval.store import ResultStore
from carr_agent.rewards.run import Trajectory, read_run
from carr_agent.rewards.scorer import CarrScorer, score_trajectory
from carr_agent.types import LedgerRecord, RewardResult, Task

logger = logging.getLogger(__name__)

#: Builds the (compiled LangGraph) agent that answers one task.
AgentFactory = Callable[[Task], Any]
#: Called with each stored record, in completion order.
ResultCallback = Callable[[EvalRecord], None]

_TOOL_FIELDS = {"search": "n_search", "open": "n_open", "find": "n_find"}
#: Agent-run failures the same task would raise again: stored as done-with-error, not retried.
#: (ConfigError and DataError are ValueErrors; GraphRecursionError is a RecursionError.)
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ValueError, ArithmeticError, RecursionError,
                                                      LookupError)


@dataclass(frozen=True, slots=True)
class EvalOutcome:
    """What one invocation of the runner did.

    Attributes:
        total: tasks given.
        skipped: tasks that already had a result for this configuration.
        written: results stored by this invocation (ok + failed).
        failed: of those, agent runs that raised.
    """

    total: int
    skipped: int
    written: int
    failed: int


class EvalRunner:
    """Evaluates tasks with one agent configuration into a :class:`ResultStore`.

    Args:
        agent_factory: ``task -> compiled graph`` (see :func:`carr_agent.graph.build_agent`).
        scorer: the CaRR scorer (its judge is also used for the citation check).
        store: where results go.
        config: the run configuration (recorded; its hash keys the results).
        concurrency: agent runs in flight at once.
    """

    def __init__(
        self,
        *,
        agent_factory: AgentFactory,
        scorer: CarrScorer,
        store: ResultStore,
        config: EvalConfig,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        self.agent_factory = agent_factory
        self.scorer = scorer
        self.store = store
        self.config = config
        self.concurrency = concurrency

    def pending(self, tasks: Iterable[Task]) -> list[Task]:
        """The tasks without an ``ok`` result for this configuration, in input order."""
        done = self.store.finished_ids(self.config.hash)
        return [t for t in tasks if t.id not in done]

    async def arun(
        self, tasks: Sequence[Task], *, on_result: ResultCallback | None = None
    ) -> EvalOutcome:
        """Run, score and store every pending task (see the module docstring).

        The store is written from worker threads, so SQLite never blocks the event loop.
        """
        await asyncio.to_thread(self.store.register_run, self.config.hash, self.config.to_dict())
        todo = await asyncio.to_thread(self.pending, tasks)
        skipped = len(tasks) - len(todo)
        if skipped:
            logger.info("%d of %d tasks already have results for run %s; skipping them",
                        skipped, len(tasks), self.config.hash[:12])
        limit = asyncio.Semaphore(self.concurrency)
        counts = {"written": 0, "failed": 0}

        async def one(task: Task) -> None:
            async with limit:
                try:
                    record = await self.evaluate(task)
                except Exception as exc:  # one task never aborts the whole run
                    logger.error("task %s: evaluation crashed: %s: %s", task.id,
                                 type(exc).__name__, exc, exc_info=True)
                    record = _failure_record(task, self.config.hash, exc, 0.0)
            try:
                written = await asyncio.to_thread(self.store.save, record)
            except Exception as exc:  # e.g. a value SQLite cannot store
                logger.error("task %s: result not stored: %s: %s", task.id, type(exc).__name__, exc)
                record = _failed_record(task, self.config.hash, exc, record.wall_s)
                written = await asyncio.to_thread(self.store.save, record)
            if written:
                counts["written"] += 1
                counts["failed"] += record.status == "failed"
            if on_result is not None:
                on_result(record)

        await asyncio.gather(*(one(t) for t in todo))
        return EvalOutcome(len(tasks), skipped, counts["written"], counts["failed"])

    def run(self, tasks: Sequence[Task], **kwargs: Any) -> EvalOutcome:
        """Synchronous :meth:`arun` (not from inside a running event loop)."""
        return asyncio.run(self.arun(tasks, **kwargs))

    async def evaluate(self, task: Task) -> EvalRecord:
        """Run the agent on one task and score it; never raises for a failed run."""
        start = time.perf_counter()
        try:
            agent = self.agent_factory(task)
            state = await agent.ainvoke({"question": task.question})
        except Exception as exc:  # an eval harness records any failed run and goes on
            logger.warning("task %s: agent run failed: %s: %s", task.id, type(exc).__name__, exc,
                           exc_info=logger.isEnabledFor(logging.DEBUG))
            return _failure_record(task, self.config.hash, exc, time.perf_counter() - start)
        trajectory = read_run(state)
        answer = trajectory.answer or ""
        ledger: list[LedgerRecord] = list(trajectory.ledger)
        result, check = await asyncio.gather(
            self._score(task, trajectory), self._check(task, answer, ledger)
        )
        return make_record(task, self.config.hash, state, answer, ledger, result, check,
                           wall_s=time.perf_counter() - start)

    async def _score(self, task: Task, trajectory: Trajectory) -> RewardResult:
        try:
            return await score_trajectory(self.scorer, task, trajectory)
        except Exception as exc:  # a failed or crashed judge: unknown, never 0
            logger.warning("task %s not scored: %s: %s", task.id, type(exc).__name__, exc)
            return RewardResult(None, None, None, errors=(f"{type(exc).__name__}: {exc}",))

    async def _check(self, task: Task, answer: str, ledger: Sequence[LedgerRecord]) -> CitationCheck | None:
        if not self.config.check_citations:
            return None
        try:
            return await check_citations(self.scorer.judge, task, answer, ledger,
                                         max_urls=self.scorer.options.max_cited_urls)
        except Exception as exc:  # the check is unknown, the run goes on
            logger.warning("task %s: citation check failed: %s: %s", task.id, type(exc).__name__, exc)
            return CitationCheck(checked=0, unsupported=None,
                                 error=f"citation check: {type(exc).__name__}: {exc}")


# -- turning a finished state into a record (pure) --------------------------------------------


class ToolCallCounts(TypedDict):
    """Tool calls of a run, as :class:`~carr_agent.eval.record.EvalRecord` fields."""

    n_search: int
    n_open: int
    n_find: int
    tool_calls: int


def tool_call_counts(state: Mapping[str, Any]) -> ToolCallCounts:
    """Calls of search/open/find (by name) and all tool calls made in the run."""
    counts = {"n_search": 0, "n_open": 0, "n_find": 0}
    total = 0
    for message in state.get("messages") or []:
        for call in getattr(message, "tool_calls", None) or []:
            total += 1
            field = _TOOL_FIELDS.get(str(call.get("name", "")).removeprefix("browser."))
            if field:
                counts[field] += 1
        total += len(getattr(message, "invalid_tool_calls", None) or [])
    made = state.get("tool_calls")
    return ToolCallCounts(n_search=counts["n_search"], n_open=counts["n_open"],
                          n_find=counts["n_find"],
                          tool_calls=int(made) if isinstance(made, int) else total)


def token_usage(state: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Summed (prompt, completion) tokens over the model's turns; None when not reported."""
    prompt = completion = 0
    reported = False
    for message in state.get("messages") or []:
        usage = getattr(message, "usage_metadata", None)
        if usage:
            reported = True
            prompt += int(usage.get("input_tokens", 0) or 0)
            completion += int(usage.get("output_tokens", 0) or 0)
    return (prompt, completion) if reported else (None, None)


def make_record(
    task: Task,
    config_hash: str,
    state: Mapping[str, Any],
    answer: str,
    ledger: Sequence[LedgerRecord],
    result: RewardResult,
    check: CitationCheck | None,
    *,
    wall_s: float,
) -> EvalRecord:
    """The stored record of one finished and scored run."""
    from carr_agent.graph.trajectory import trajectory_to_dict

    counts = count_citations(answer, ledger)
    prompt_tokens, completion_tokens = token_usage(state)
    errors = list(result.errors)
    if check is not None and check.error:
        errors.append(check.error)
    return EvalRecord(
        task_id=task.id,
        config_hash=config_hash,
        status="ok",
        question=task.question,
        label=task.label,
        hops=_hops(task),
        answer=answer,
        extracted_answer=result.extracted_answer,
        outcome_reward=result.outcome_reward,
        rubric_reward=result.rubric_reward,
        reward=result.reward,
        rubric_scores=[s.to_json() for s in result.rubric_scores],
        errors=errors,
        n_citations=counts.cited,
        n_unseen_citations=counts.unseen,
        n_checked_citations=check.checked if check is not None else 0,
        n_unsupported_citations=check.unsupported if check is not None else None,
        **tool_call_counts(state),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=state.get("finish_reason"),
        wall_s=wall_s,
        trajectory=trajectory_to_dict(state, question=task.question),
        ledger=[dict(r) for r in ledger],
    )


def _failed_record(task: Task, config_hash: str, exc: BaseException, wall_s: float) -> EvalRecord:
    return EvalRecord(
        task_id=task.id, config_hash=config_hash, status="failed", question=task.question,
        label=task.label, hops=_hops(task), errors=[f"{type(exc).__name__}: {exc}"],
        wall_s=wall_s,
    )


def _failure_record(task: Task, config_hash: str, exc: BaseException, wall_s: float) -> EvalRecord:
    """Done-with-error for :data:`PERMANENT_ERRORS` (not retried), else ``failed`` (retried)."""
    if isinstance(exc, PERMANENT_ERRORS):
        return _errored_record(task, config_hash, exc, wall_s)
    return _failed_record(task, config_hash, exc, wall_s)


def _errored_record(task: Task, config_hash: str, exc: BaseException, wall_s: float) -> EvalRecord:
    """A run that failed because of its input: done (not retried), scores unknown."""
    return EvalRecord(
        task_id=task.id, config_hash=config_hash, status="ok", question=task.question,
        label=task.label, hops=_hops(task), errors=[f"{type(exc).__name__}: {exc}"],
        finish_reason="error", wall_s=wall_s,
    )


def _hops(task: Task) -> int | None:
    hops = (task.metadata or {}).get("hops")
    return hops if isinstance(hops, int) and not isinstance(hops, bool) else None



__all__ = [
    "PERMANENT_ERRORS",
    "AgentFactory",
    "EvalOutcome",
    "EvalRunner",
    "make_record",
    "token_usage",
    "tool_call_counts",
]
