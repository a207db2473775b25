"""The C-GRPO advantage estimator for verl, registered as ``cgrpo``.

verl's trainer calls a registered estimator with ``token_level_rewards`` (batch × response
length; the reward manager puts each rollout's ``score`` on its last token), ``response_mask``,
``index`` (the prompt ``uid`` of each rollout: its group) and ``config``. It does not pass the
reward dict's other keys, so the outcome and rubric parts are read back from the score
``s = (1 − α)·R_o + α·R_r`` written by :func:`carr_agent.integrations.verl.reward.compute_score`:
with R_o ∈ {0, 1}, R_r ∈ [0, 1] and α < 0.5, ``s ≥ 1 − α`` iff R_o = 1, and then
``R_r = (s − (1 − α)·R_o) / α``. A NaN score is unknown.

Requirements: ``algorithm.use_kl_in_reward=False`` (an in-reward KL penalty changes the sum) and
the same ``CARR_CGRPO_*`` options in the reward workers and the trainer (they come from one set
of environment variables).

The parts are then combined exactly as :func:`carr_agent.rewards.cgrpo.group_rewards` does and
normalised per group by :func:`carr_agent.rewards.cgrpo.advantages` (``epsilon`` 1e-6, unbiased
std); ``algorithm.norm_adv_by_std_in_grpo`` is not read (C-GRPO always divides by the std).
Unknown rollouts get advantage 0 on every token (no gradient).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from carr_agent.errors import ConfigError
from carr_agent.integrations.common import batch_cgrpo
from carr_agent.rewards.cgrpo import GroupOptions
from carr_agent.types import RewardResult

__all__ = [
    "ESTIMATOR_NAME",
    "compute_cgrpo_advantage",
    "decode_score",
    "register",
    "setup_worker",
]

logger = logging.getLogger(__name__)

ESTIMATOR_NAME = "cgrpo"
#: Tolerance when reading R_o back from a float32 score.
_TOL = 1e-4


def decode_score(score: float, alpha: float) -> RewardResult:
    """``(R_o, R_r)`` of a per-rollout score (as a :class:`RewardResult`; NaN: unknown).

    Raises:
        ConfigError: α ≥ 0.5, or a score that no (R_o, R_r) explains at this α (the reward and
            the estimator were configured with different α).
    """
    if not 0 <= alpha < 0.5:
        raise ConfigError(f"the cgrpo estimator needs 0 <= alpha < 0.5, got {alpha}")
    if math.isnan(score):
        return RewardResult(None, None, None, errors=("unknown reward (NaN score)",))
    if alpha == 0:
        outcome, rubric = score, 0.0
    else:
        outcome = 1.0 if score >= (1 - alpha) - _TOL else 0.0
        rubric = (score - (1 - alpha) * outcome) / alpha
    if not (-_TOL <= rubric <= 1 + _TOL and (alpha > 0 or outcome in (0.0, 1.0))):
        raise ConfigError(
            f"score {score} is not (1 − α)·R_o + α·R_r at α={alpha}: do the reward workers and "
            "the trainer use the same CARR_CGRPO_ALPHA?"
        )
    rubric = min(max(rubric, 0.0), 1.0)
    return RewardResult(outcome, rubric, score)


def cgrpo_scores(
    scores: Sequence[float], index: Sequence[Any], options: GroupOptions, *, epsilon: float = 1e-6
) -> list[float | None]:
    """Per-rollout C-GRPO advantages from per-rollout scores and their group ids."""
    results = [decode_score(float(s), options.alpha) for s in scores]
    return batch_cgrpo(results, [str(i) for i in index], options, eps=epsilon).advantages


def compute_cgrpo_advantage(
    token_level_rewards: Any,
    response_mask: Any,
    index: Any = None,
    epsilon: float = 1e-6,
    config: Any = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """verl estimator: C-GRPO advantages broadcast over each response's tokens.

    Returns ``(advantages, returns)``, both ``batch × response length`` (equal, as verl's GRPO).
    """
    import torch

    from carr_agent.integrations.verl.reward import options_from_env

    if index is None:
        raise ConfigError("the cgrpo estimator needs the batch's 'uid' (the prompt of each rollout)")
    options = options_from_env()
    with torch.no_grad():
        scores = token_level_rewards.sum(dim=-1).tolist()
        advs = cgrpo_scores(scores, list(index), options, epsilon=epsilon)
        unknown = sum(a is None for a in advs)
        if unknown:
            logger.warning("cgrpo: %d of %d rollouts have unknown rewards (advantage 0)",
                           unknown, len(advs))
        column = torch.tensor([0.0 if a is None else a for a in advs],
                              dtype=token_level_rewards.dtype, device=token_level_rewards.device)
        advantages = column.unsqueeze(-1) * response_mask
    return advantages, advantages


def register(name: str = ESTIMATOR_NAME) -> None:
    """Register :func:`compute_cgrpo_advantage` in verl's estimator registry (idempotent)."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, register_adv_est

    if ADV_ESTIMATOR_REGISTRY.get(name) is compute_cgrpo_advantage:
        return
    register_adv_est(name)(compute_cgrpo_advantage)


def setup_worker() -> None:
    """Ray ``runtime_env.worker_process_setup_hook``: register ``cgrpo`` in each worker process
    (verl computes advantages inside a Ray actor, not in the launching process)."""
    register()
