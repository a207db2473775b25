"""The CaRR reward as a TRL ``GRPOTrainer`` reward function.

TRL calls ``reward(prompts, completions, completion_ids, **columns)`` with every dataset column
other than ``prompt`` as a per-completion list (and ``trainer_state``, ``log_extra``,
``log_metric``). The function returned by :func:`make_carr_reward_func` reads the task from these
columns:

* ``label`` (or ``answer`` / ``solution``): the gold answer (required: a dataset without any of
  these columns is a configuration error, raised at the first call);
* ``remote_env_info``: the reference dataset layout; when it holds ``search_forbidden_strs`` the
  task is read from it by the reward server's own parser
  (:func:`carr_agent.rewards.protocol.task_from_env_info`: question, rubrics, gold ``entities``);
  its ``rubric_reward_ratio`` is not used: α is this function's option;
* otherwise ``question`` (else the prompt's last user message), ``rubrics`` (optional; none →
  rubric reward 0) and ``entities``;
* ``aliases``: accepted answer variants for the deterministic judge (optional);
* ``ledger``: evidence records for plain-text completions (optional).

Completions may be strings (the answer; evidence from a ``ledger`` column, else none) or
conversational message lists, read by :func:`carr_agent.rewards.run.read_run` like every other
finished run: tool calls and tool results in them are the evidence (tool outputs in the reference
text formats, or tool messages whose ``artifact`` holds ledger records).

It returns one float per completion, or ``None`` where judging failed (and only then): TRL turns
None into NaN, leaves it out of the group statistics and gives it advantage 0, which is what CaRR
asks for. Unusable data (a missing column, a row without a question) raises.
With ``group=GroupOptions(...)`` the rewards are the C-GRPO combination over each group of
``num_generations`` consecutive completions (TRL's sampler keeps a prompt's generations together
within a process batch).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from carr_agent.errors import ConfigError, TaskFormatError
from carr_agent.rewards.cgrpo import group_rewards
from carr_agent.rewards.hooks import task_from
from carr_agent.rewards.options import GroupOptions, RewardOptions
from carr_agent.rewards.protocol import task_from_env_info
from carr_agent.rewards.run import Trajectory, final_answer, ledger_records_in, read_run
from carr_agent.rewards.scorer import score_trajectory
from carr_agent.types import RewardResult, Task

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
        TaskFormatError: row ``i`` has no gold answer or no question, or a bad ``remote_env_info``.
    """
    label = next((v for k in _LABEL_KEYS if (v := _column(kwargs, k, i)) is not None), None)
    if label is None:
        raise TaskFormatError(f"row {i}: the gold answer ('label') is null")
    task_id = str(_column(kwargs, "id", i) or f"row{i}")
    info = _column(kwargs, "remote_env_info", i)
    info = info if isinstance(info, Mapping) else {}
    task: dict[str, Any]
    if info.get("search_forbidden_strs"):
        request_task, _ = task_from_env_info(str(label), info, task_id=task_id)
        task = {"id": task_id, "question": request_task.question, "label": request_task.label,
                "rubrics": list(request_task.rubrics), "entities": request_task.entities,
                "forbidden_strs": list(request_task.forbidden_strs)}
    else:
        question = _column(kwargs, "question", i) or _prompt_question(prompt)
        if not question:
            raise TaskFormatError(
                f"row {i}: no question: add a 'question' column or a user message prompt")
        rubrics = _column(kwargs, "rubrics", i)
        task = {"id": task_id, "question": question, "label": str(label),
                "rubrics": list(rubrics if rubrics is not None else info.get("rubrics") or ())}
    entities = task.get("entities") or _column(kwargs, "entities", i)
    task["entities"] = (
        {str(k): str(v) for k, v in entities.items() if v is not None} if entities else None)
    aliases = _column(kwargs, "aliases", i)
    if aliases:
        task["metadata"] = {"aliases": aliases}
    return task_from(task)


def trajectory_of(completion: Any, ledger: Any = None) -> Trajectory:
    """The final answer and evidence of one TRL completion (a string or a message list), read by
    the one run reader; a ``ledger`` column value, when given, is the evidence."""
    if isinstance(completion, str):
        records = tuple(ledger_records_in(ledger)) if ledger is not None else ()
        return Trajectory(completion if completion.strip() else None, records)
    if isinstance(completion, Mapping):
        completion = [completion]
    messages = list(completion or [])
    if ledger is not None:
        return Trajectory(final_answer(messages), tuple(ledger_records_in(ledger)))
    return read_run(messages)


async def score_completions(
    scorer: CarrScorer,
    prompts: Sequence[Any],
    completions: Sequence[Any],
    columns: Mapping[str, Any],
    *,
    alpha: float | None = None,
) -> list[RewardResult]:
    """The :class:`RewardResult` of each TRL completion, concurrently, in batch order.

    A completion without a final answer scores all zeros (as the reference server does); a judge
    failure is unknown (None, its reason in ``errors``), and only that.

    Raises:
        ConfigError: the columns have no gold answer (``label``/``answer``/``solution``).
        DataError: a row or completion cannot be read (named by its index).
    """
    if not any(key in columns for key in _LABEL_KEYS):
        raise ConfigError(
            "the CaRR reward needs the gold answer: the dataset has no 'label' column (nor "
            f"'answer'/'solution'); the columns here: {sorted(columns) or 'none'}"
        )

    async def one(i: int, prompt: Any, completion: Any) -> RewardResult:
        task = task_for(prompt, columns, i)
        trajectory = trajectory_of(completion, _column(columns, "ledger", i))
        return await score_trajectory(scorer, task, trajectory, alpha=alpha)

    pairs = enumerate(zip(prompts, completions, strict=True))
    return list(await asyncio.gather(*(one(i, p, c) for i, (p, c) in pairs)))


def make_carr_reward_func(
    scorer: CarrScorer,
    *,
    options: RewardOptions | None = None,
    alpha: float | None = None,
    group: GroupOptions | None = None,
    num_generations: int | None = None,
    log_metrics: bool = True,
) -> RewardFunc:
    """A TRL reward function (async) computing the CaRR reward of each completion.

    Args:
        scorer: the scorer (its judge decides LLM vs deterministic).
        options: all reward options at once (α and the group combination); instead of
            ``alpha``/``group``. Its score options must be the scorer's (α aside).
        alpha: rubric weight α (default: the scorer's ``options.alpha``).
        group: combine rewards C-GRPO-style within groups (None: the per-rollout mixture
            ``(1 − α)·R_o + α·R_r``, as the reference server returns it). Its α must be the
            scoring α.
        num_generations: group size, required with ``group`` (= ``GRPOConfig.num_generations``).
        log_metrics: report mean outcome/rubric rewards and the unknown rate via ``log_metric``.

    Returns:
        ``async def carr_reward(prompts, completions, completion_ids=None, **kwargs)``.

    Raises:
        ConfigError: inconsistent options (now), or (at the first call) a dataset without a gold
            answer column.
    """
    if options is not None:
        if alpha is not None or group is not None:
            raise ConfigError("pass options=, or alpha=/group=, not both")
        if replace(scorer.options, alpha=options.alpha) != options.score:
            raise ConfigError(
                "options.score differs from the scorer's options: build the scorer with "
                "CarrScorer(judge, options.score)")
        alpha, group = options.alpha, options.group
    else:
        score = scorer.options if alpha is None else replace(scorer.options, alpha=alpha)
        RewardOptions(score=score, group=group)  # validates that α agrees
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


#: An alias of :func:`make_carr_reward_func`.
carr_reward_func = make_carr_reward_func

__all__ = [
    "carr_reward_func",
    "log_reward_metrics",
    "make_carr_reward_func",
    "score_completions",
    "task_for",
    "trajectory_of",
]
