"""C-GRPO group rewards inside TRL's ``GRPOTrainer`` batch.

TRL lays a generation batch out as ``num_generations`` consecutive completions per prompt, calls
each reward function on the slice of that batch held by the current process, gathers the
rewards of all processes and normalises them per group. The reward function made here returns
the paper's combined reward R_i of each completion::

    R̂_r,i = R_r,i / max_j R_r,j ;  R_i = (1 − α)·R_o,i + α·R_o,i·R̂_r,i

computed over the *whole* group: when a group spans processes (for example 2 processes with
``per_device_train_batch_size=4`` and ``num_generations=8``), the outcome and rubric parts of all
processes are gathered first (``accelerate.utils.gather_object``), so the group max is the true
one. TRL then computes ``A_i = (R_i − mean) / (std + 1e-4)`` per group (its default
``scale_rewards="group"``; TRL's epsilon is 1e-4 where the paper writes 1e-6).

Unknown, TRL's way: a completion whose judging failed gets ``None``. TRL turns it into NaN,
leaves it out of its group's mean and std (``nanmean``/``nanstd``) and sets its advantage to 0,
so it does not move the policy; our max over the group skips it too.

Usage::

    reward = make_cgrpo_reward_func(scorer, num_generations=config.num_generations)
    GRPOTrainer(model=..., reward_funcs=reward, args=config, train_dataset=...)

The dataset columns are those of :func:`carr_agent.rewards.trl.task_for` (``label``, ``rubrics``,
``question``, optional ``entities``, or the reference ``remote_env_info``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from carr_agent.errors import ConfigError
from carr_agent.integrations.common import batch_cgrpo, group_ids_by_size, scoring_alpha
from carr_agent.rewards.cgrpo import GroupOptions
from carr_agent.rewards.trl import log_reward_metrics, score_completions
from carr_agent.types import RewardResult

if TYPE_CHECKING:
    from carr_agent.rewards.scorer import CarrScorer

__all__ = ["Gather", "gather_across_processes", "make_cgrpo_reward_func"]

logger = logging.getLogger(__name__)

#: ``gather(local_results) -> (all_results, offset of the local slice in them)``.
Gather = Callable[[list[RewardResult]], tuple[list[RewardResult], int]]


def gather_across_processes(local: list[RewardResult]) -> tuple[list[RewardResult], int]:
    """All processes' results in process order, and where this process's slice starts.

    Single process (or ``torch.distributed`` not initialised): the local results, offset 0.
    Otherwise ``accelerate.utils.gather_object``, which TRL's own trainer uses; every process
    holds the same number of completions (TRL's batches are equal per process).
    """
    try:
        import torch.distributed as dist
    except ImportError:
        return local, 0
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local, 0
    from accelerate.utils import gather_object

    everything = list(gather_object(list(local)))
    return everything, dist.get_rank() * len(local)


def make_cgrpo_reward_func(
    scorer: CarrScorer,
    *,
    num_generations: int,
    options: GroupOptions | None = None,
    gather: Gather | None = None,
    log_metrics: bool = True,
) -> Callable[..., Awaitable[list[float | None]]]:
    """A TRL reward function (async) returning each completion's C-GRPO reward R_i.

    Args:
        scorer: scores one trajectory (its judge decides LLM vs deterministic).
        num_generations: ``GRPOConfig.num_generations`` (G, the group size).
        options: the combination (default: the paper's; variants as in
            :class:`~carr_agent.rewards.cgrpo.GroupOptions`).
        gather: how to see the other processes' results (default
            :func:`gather_across_processes`).
        log_metrics: report mean outcome/rubric rewards and the unknown rate via ``log_metric``.

    Raises:
        ConfigError: ``num_generations`` < 1; at call time, a global batch that does not split
            into groups of ``num_generations``.
    """
    if num_generations < 1:
        raise ConfigError(f"num_generations must be >= 1, got {num_generations}")
    o = options or GroupOptions()
    alpha = scoring_alpha(o)
    collect = gather or gather_across_processes

    async def carr_cgrpo_reward(
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        local = await score_completions(scorer, prompts, completions, kwargs, alpha=alpha)
        everything, offset = collect(local)
        out = batch_cgrpo(everything, group_ids_by_size(len(everything), num_generations), o)
        if log_metrics and callable(kwargs.get("log_metric")):
            log_reward_metrics(kwargs["log_metric"], local)
        return out.rewards[offset : offset + len(local)]

    return carr_cgrpo_reward
