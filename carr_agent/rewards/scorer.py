"""CarrScorer: the CaRR reward of one trajectory, step by step as in the paper.

    identify entities ‖ judge outcome   (concurrently: two judge round-trips per trajectory)
    → fill rubrics → collect evidence of cited URLs → judge support of the filled rubrics
    → connect (BFS from E0) → combine: reward = (1 − α)·R_o + α·R_r

α = 0 skips rubric judging and α = 1 skips outcome judging; a skipped component is reported as
None *without* an error (the reference reports 0 for it;
:func:`carr_agent.rewards.protocol.result_to_response` maps it). No rubrics → rubric reward 0. A judge failure makes its component None, ``reward`` None and
names the reason in ``errors``; the other component is still reported.

Pure steps live in :mod:`citations`, :mod:`rubrics`, :mod:`evidence`, :mod:`connectivity`; this
module only sequences them around the judge calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from carr_agent.errors import CarrError, ConfigError, JudgeError
from carr_agent.rewards.citations import answer_body, cited_urls
from carr_agent.rewards.connectivity import connected_rubrics
from carr_agent.rewards.evidence import build_evidence_context, collect_evidence
from carr_agent.rewards.judges.base import Judge, OutcomeVerdict
from carr_agent.rewards.options import ScoreOptions
from carr_agent.rewards.rubrics import (
    entity_values_for,
    fill_rubric,
    parse_entity_labels,
    partial_fill,
)
from carr_agent.rewards.run import NO_FINAL_ANSWER, Trajectory
from carr_agent.types import LedgerRecord, RewardResult, RubricScore, Task

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _RubricPart:
    reward: float | None
    scores: tuple[RubricScore, ...]
    error: str | None = None


class CarrScorer:
    """Scores trajectories with CaRR using any :class:`~carr_agent.rewards.judges.base.Judge`."""

    def __init__(self, judge: Judge, options: ScoreOptions | None = None) -> None:
        self.judge = judge
        self.options = options or ScoreOptions()

    # -- public API ---------------------------------------------------------------------------

    async def ascore(
        self,
        task: Task,
        answer: str,
        ledger: Sequence[LedgerRecord],
        *,
        alpha: float | None = None,
    ) -> RewardResult:
        """Score one trajectory: its final answer text and its citation ledger.

        Args:
            task: question, gold label, rubrics (and gold entities for the deterministic judge).
            answer: the final answer (sections Explanation / Exact Answer / References).
            ledger: what the agent was shown.
            alpha: overrides ``options.alpha`` for this call (e.g. a request's ratio).
        """
        a = self.options.alpha if alpha is None else alpha
        if not 0.0 <= a <= 1.0:
            raise ConfigError(f"alpha must be in [0, 1], got {a}")
        body = answer_body(answer)
        need_rubric, need_outcome = a > 0, a < 1
        rubric_task = self._rubric_part(task, body, ledger) if need_rubric else _none()
        outcome_task = self._outcome_part(task, body) if need_outcome else _none()
        rubric, outcome = await asyncio.gather(rubric_task, outcome_task)
        return _combine(a, need_rubric, need_outcome, rubric, outcome)

    def score(
        self, task: Task, answer: str, ledger: Sequence[LedgerRecord], *, alpha: float | None = None
    ) -> RewardResult:
        """Synchronous :meth:`ascore` (not from inside a running event loop)."""
        return _run_sync(self.ascore(task, answer, ledger, alpha=alpha))

    async def ascore_history(
        self,
        history: Sequence[Mapping[str, Any]],
        label: str,
        remote_env_info: Mapping[str, Any],
    ) -> RewardResult:
        """Score the fields of a reference ``/evaluate`` request, exactly as the reward server does
        (the same request parser and reader): the judges see
        ``remote_env_info["search_forbidden_strs"][0]``, α is ``rubric_reward_ratio`` (0 when
        absent, as the reference), gold ``entities`` are kept.

        Raises:
            TaskFormatError: the fields are not a valid request (a
                :class:`~carr_agent.rewards.protocol.RequestError` naming the key).
            HistoryFormatError: the history is malformed (see :mod:`history`).
        """
        from carr_agent.rewards.protocol import parse_request, score_request

        request = parse_request({"history": history, "label": label, "task_unfinished": False,
                                 "remote_env_info": remote_env_info})
        return await score_request(self, request)

    def score_history(
        self, history: Sequence[Mapping[str, Any]], label: str, remote_env_info: Mapping[str, Any]
    ) -> RewardResult:
        """Synchronous :meth:`ascore_history`."""
        return _run_sync(self.ascore_history(history, label, remote_env_info))

    async def ascore_many(
        self,
        items: Iterable[tuple[Task, str, Sequence[LedgerRecord]]],
        *,
        concurrency: int | None = None,
        progress: bool = False,
    ) -> list[RewardResult]:
        """Score many ``(task, answer, ledger)`` trajectories concurrently, results in input order.

        A trajectory whose input is unusable (a :class:`~carr_agent.errors.CarrError`) gets an
        unknown result naming the problem instead of aborting the others.
        """
        limit = asyncio.Semaphore(concurrency or self.options.concurrency)
        items = list(items)
        bar = _progress(len(items)) if progress else None

        async def one(task: Task, answer: str, ledger: Sequence[LedgerRecord]) -> RewardResult:
            async with limit:
                try:
                    return await self.ascore(task, answer, ledger)
                except CarrError as exc:
                    logger.warning("task %s not scored: %s", task.id, exc)
                    return RewardResult(None, None, None, errors=(f"{type(exc).__name__}: {exc}",))
                finally:
                    if bar is not None:
                        bar.update(1)

        try:
            return list(await asyncio.gather(*(one(*item) for item in items)))
        finally:
            if bar is not None:
                bar.close()

    def score_many(
        self, items: Iterable[tuple[Task, str, Sequence[LedgerRecord]]], **kwargs: Any
    ) -> list[RewardResult]:
        """Synchronous :meth:`ascore_many`."""
        return _run_sync(self.ascore_many(items, **kwargs))

    def evidence_context(
        self, answer: str, ledger: Sequence[LedgerRecord], statements: Sequence[str] = ()
    ) -> str:
        """The evidence text the support judge would read for this answer (for inspection and
        benchmarks of judge input size)."""
        sources = collect_evidence(
            ledger, cited_urls(answer_body(answer)), max_urls=self.options.max_cited_urls
        )
        return self._context(sources, statements)

    # -- steps ----------------------------------------------------------------------------------

    async def _outcome_part(self, task: Task, body: str) -> OutcomeVerdict | str:
        try:
            return await self.judge.judge_outcome(task.question, body, task.label, task=task)
        except JudgeError as exc:
            return f"outcome judge failed: {exc}"

    async def _rubric_part(
        self, task: Task, body: str, ledger: Sequence[LedgerRecord]
    ) -> _RubricPart:
        rubrics = list(task.rubrics)
        if not rubrics:
            return _RubricPart(0.0, ())
        try:
            values = await self.judge.identify_entities(task.question, rubrics, body, task=task)
        except JudgeError as exc:
            return _RubricPart(None, (), f"entity identification failed: {exc}")
        filled = [fill_rubric(r, values) for r in rubrics]
        statements = [f for f in filled if f is not None]
        sources = collect_evidence(ledger, cited_urls(body), max_urls=self.options.max_cited_urls)
        supported: list[bool | None] = [False] * len(rubrics)
        error = None
        if statements and sources:
            try:
                verdicts = await self.judge.judge_support(
                    self._context(sources, statements), statements, task=task
                )
            except JudgeError as exc:
                verdicts, error = None, f"support judge failed: {exc}"
            if verdicts is not None and len(verdicts) != len(statements):
                verdicts, error = None, "support judge returned a wrong number of verdicts"
            it = iter(verdicts) if verdicts is not None else None
            supported = [
                (next(it) if it is not None else None) if f is not None else False for f in filled
            ]
        scores = self._rubric_scores(rubrics, values, filled, supported)
        if error is not None:
            return _RubricPart(None, scores, error)
        return _RubricPart(sum(s.score for s in scores) / len(rubrics), scores)

    def _rubric_scores(
        self,
        rubrics: Sequence[str],
        values: Mapping[str, str | None],
        filled: Sequence[str | None],
        supported: Sequence[bool | None],
    ) -> tuple[RubricScore, ...]:
        entities = [parse_entity_labels(r) for r in rubrics]
        connected = connected_rubrics(entities, supported)
        out = []
        for rubric, fill, ok, conn in zip(rubrics, filled, supported, connected, strict=True):
            counts = bool(ok) and (conn or not self.options.connectivity)
            out.append(
                RubricScore(
                    raw_rubric=rubric,
                    filled_rubric=fill if fill is not None else partial_fill(rubric, values),
                    entity_values=entity_values_for(rubric, values),
                    all_entity_identified=fill is not None,
                    is_supported=ok,
                    connected_to_answer=conn,
                    score=int(counts),
                )
            )
        return tuple(out)

    def _context(self, sources: Sequence[Any], statements: Sequence[str]) -> str:
        o = self.options
        return build_evidence_context(
            sources, statements, mode=o.evidence_mode,
            relevant_threshold=o.relevant_threshold, relevant_budget=o.relevant_budget,
        )


async def score_trajectory(
    scorer: CarrScorer, task: Task, trajectory: Trajectory, *, alpha: float | None = None
) -> RewardResult:
    """Score a finished run read by :mod:`carr_agent.rewards.run`: all zeros, without judging,
    when it has no final answer (as the reference server), else ``scorer.ascore``.

    Every entry point scores runs through this function (any object with
    :meth:`CarrScorer.ascore` works as ``scorer``).
    """
    if trajectory.answer is None:
        return RewardResult(0.0, 0.0, 0.0, errors=(NO_FINAL_ANSWER,))
    return await scorer.ascore(task, trajectory.answer, trajectory.ledger, alpha=alpha)


def _combine(
    alpha: float,
    need_rubric: bool,
    need_outcome: bool,
    rubric: _RubricPart | None,
    outcome: OutcomeVerdict | str | None,
) -> RewardResult:
    errors: list[str] = []
    outcome_reward: float | None = None
    extracted = None
    if isinstance(outcome, OutcomeVerdict):
        outcome_reward, extracted = float(outcome.correct), outcome.extracted_answer
    elif isinstance(outcome, str):
        errors.append(outcome)
    rubric_reward = rubric.reward if rubric is not None else None
    if rubric is not None and rubric.error:
        errors.append(rubric.error)
    reward: float | None = 0.0
    if need_outcome:
        reward = None if outcome_reward is None else (1 - alpha) * outcome_reward
    if need_rubric and reward is not None:
        reward = None if rubric_reward is None else reward + alpha * rubric_reward
    return RewardResult(
        outcome_reward=outcome_reward,
        rubric_reward=rubric_reward,
        reward=reward,
        rubric_scores=rubric.scores if rubric is not None else (),
        extracted_answer=extracted,
        errors=tuple(errors),
    )


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code, with a clear error inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError(
        "CarrScorer's sync methods cannot run inside an event loop; await the a-methods "
        "(ascore, ascore_history, ascore_many) instead"
    )


async def _none() -> None:
    return None


def _progress(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="scoring", unit="traj")


__all__ = ["CarrScorer", "ScoreOptions", "score_trajectory"]
