"""The CaRR reward as a TRL ``GRPOTrainer`` reward function.

TRL calls ``reward(prompts, completions, completion_ids, **columns)`` with every dataset column
other than ``prompt`` as a per-completion list (and ``trainer_state``, ``log_extra``,
``log_metric``). The function returned by :func:`make_carr_reward_func` reads the task from these
columns:

* ``label`` (or ``answer`` / ``solution``): the gold answer (required);
* ``rubrics``: list of rubric strings (optional; no rubrics → rubric reward 0);
* ``question``: the bare question (else ``remote_env_info.search_forbidden_strs[0]``, else the
  prompt's last user message);
* ``entities`` / ``aliases``: gold values for the deterministic judge (optional);
* ``remote_env_info``: the reference dataset layout (``search_forbidden_strs``, ``rubrics``);
* ``ledger``: evidence records for plain-text completions (optional).

Completions may be strings (the answer; evidence from a ``ledger`` column, else none) or
conversational message lists; tool calls and tool results in them are the evidence (tool outputs
in the reference text formats, or tool messages whose ``artifact`` holds ledger records).

It returns one float per completion, or ``None`` where judging failed: TRL turns None into NaN,
leaves it out of the group statistics and gives it advantage 0, which is what CaRR asks for.
With ``group=GroupOptions(...)`` the rewards are the C-GRPO combination over each group of
``num_generations`` consecutive completions (TRL's sampler keeps a prompt's generations together
within a process batch).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carr_agent.errors import CarrError, ConfigError, TaskFormatError
from carr_agent.rewards.cgrpo import GroupOptions, group_rewards
from carr_agent.rewards.hooks import (
    final_answer,
    ledger_from_messages,
    ledger_records_in,
    task_from,
)
from carr_agent.types import LedgerRecord, RewardResult, Task

if TYPE_CHECKING:
    from carr_agent.rewards.scorer import CarrScorer

logger = logging.getLogger(__name__)

RewardFunc = Callable[..., Awaitable[list[float | None]]]
_LABEL_KEYS = ("label", "answer", "solution")


def _column(kwargs: Mapping[str, Any], key: str, i: int) -> Any:
    values = kwargs.get(key)
    if isinstance(values, (list, tuple)) and i < len(values):
        return values[i]
    return None


def _prompt_question(prompt: Any) -> str | None:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        for message in reversed(prompt):
            if isinstance(message, Mapping) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    return content
    return None


def task_for(prompt: Any, kwargs: Mapping[str, Any], i: int) -> Task:
    """The :class:`Task` of completion ``i`` from the dataset columns (see the module docstring).

    Raises:
        TaskFormatError: no gold answer column, or no question anywhere.
    """
    info = _column(kwargs, "remote_env_info", i)
    info = info if isinstance(info, Mapping) else {}
    label = next((v for k in _LABEL_KEYS if (v := _column(kwargs, k, i)) is not None), None)
    if label is None:
        raise TaskFormatError("the dataset needs a 'label' (or 'answer'/'solution') column")
    forbidden = info.get("search_forbidden_strs") or ()
    question = _column(kwargs, "question", i) or (forbidden[0] if forbidden else None) or (
        _prompt_question(prompt))
    if not question:
        raise TaskFormatError("no question: add a 'question' column or a user message prompt")
    rubrics = _column(kwargs, "rubrics", i)
    if rubrics is None:
        rubrics = info.get("rubrics") or ()
    task: dict[str, Any] = {
        "id": str(_column(kwargs, "id", i) or f"row{i}"),
        "question": question,
        "label": str(label),
        "rubrics": list(rubrics),
        "forbidden_strs": list(forbidden),
    }
    entities = _column(kwargs, "entities", i) or info.get("entities")
    if entities:
        task["entities"] = {str(k): str(v) for k, v in entities.items() if v is not None}
    aliases = _column(kwargs, "aliases", i)
    if aliases:
        task["metadata"] = {"aliases": aliases}
    return task_from(task)


def answer_and_evidence(completion: Any, ledger: Any = None) -> tuple[str | None, list[LedgerRecord]]:
    """``(final answer or None, evidence records)`` of one TRL completion."""
    if isinstance(completion, str):
        return completion, ledger_records_in(ledger) if ledger is not None else []
    if isinstance(completion, Mapping):
        completion = [completion]
    messages = list(completion or [])
    answer = final_answer(messages)
    if ledger is not None:
        return answer, ledger_records_in(ledger)
    return answer, ledger_from_messages(messages) if answer is not None else []


async def score_completions(
    scorer: CarrScorer,
    prompts: Sequence[Any],
    completions: Sequence[Any],
    columns: Mapping[str, Any],
    *,
    alpha: float | None = None,
) -> list[RewardResult]:
    """The :class:`RewardResult` of each TRL completion, concurrently, in batch order.

    A completion without a final answer scores all zeros (as the reference server does); one
    whose task or evidence cannot be read is unknown (its reason in ``errors``).
    """

    async def one(i: int, prompt: Any, completion: Any) -> RewardResult:
        try:
            task = task_for(prompt, columns, i)
            answer, ledger = answer_and_evidence(completion, _column(columns, "ledger", i))
            if answer is None:
                return RewardResult(0.0, 0.0, 0.0, errors=("no final answer",))
            return await scorer.ascore(task, answer, ledger, alpha=alpha)
        except CarrError as exc:
            logger.warning("completion %d not scored: %s", i, exc)
            return RewardResult(None, None, None, errors=(f"{type(exc).__name__}: {exc}",))

    pairs = enumerate(zip(prompts, completions, strict=True))
    return list(await asyncio.gather(*(one(i, p, c) for i, (p, c) in pairs)))


def make_carr_reward_func(
    scorer: CarrScorer,
    *,
    alpha: float | None = None,
    group: GroupOptions | None = None,
    num_generations: int | None = None,
    log_metrics: bool = True,
) -> RewardFunc:
    """A TRL reward function (async) computing the CaRR reward of each completion.

    Args:
        scorer: the scorer (its judge decides LLM vs deterministic).
        alpha: rubric weight α (default: the scorer's ``options.alpha``).
        group: combine rewards C-GRPO-style within groups (None: the per-rollout mixture
            ``(1 − α)·R_o + α·R_r``, as the reference server returns it).
        num_generations: group size, required with ``group`` (= ``GRPOConfig.num_generations``).
        log_metrics: report mean outcome/rubric rewards and the unknown rate via ``log_metric``.

    Returns:
        ``async def carr_reward(prompts, completions, completion_ids=None, **kwargs)``.
    """
    if group is not None and (num_generations is None or num_generations < 1):
        raise ConfigError("group rewards need num_generations (GRPOConfig.num_generations)")

    async def carr_reward(
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        results = await score_completions(scorer, prompts, completions, kwargs, alpha=alpha)
        if group is not None:
            rewards = _grouped(results, group, num_generations or 1)
        else:
            rewards = [r.reward for r in results]
        if log_metrics and callable(kwargs.get("log_metric")):
            log_reward_metrics(kwargs["log_metric"], results)
        return rewards

    return carr_reward


def _grouped(results: Sequence[RewardResult], options: GroupOptions, size: int) -> list[float | None]:
    if len(results) % size:
        raise ConfigError(
            f"{len(results)} completions do not split into groups of num_generations={size}"
        )
    out: list[float | None] = []
    for start in range(0, len(results), size):
        out.extend(group_rewards(results[start : start + size], options))
    return out


def log_reward_metrics(log_metric: Callable[[str, float], None], results: Sequence[RewardResult]) -> None:
    """Report mean outcome/rubric rewards and the unknown rate through TRL's ``log_metric``."""
    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    for name, value in (
        ("carr/outcome_reward", mean([r.outcome_reward for r in results])),
        ("carr/rubric_reward", mean([r.rubric_reward for r in results])),
    ):
        if value is not None:
            log_metric(name, value)
    log_metric("carr/unknown_rate", sum(r.reward is None for r in results) / max(len(results), 1))


#: The name used in ``interfaces.md``.
carr_reward_func = make_carr_reward_func

__all__ = [
    "answer_and_evidence",
    "carr_reward_func",
    "log_reward_metrics",
    "make_carr_reward_func",
    "score_completions",
    "task_for",
]
