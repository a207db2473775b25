"""C-GRPO: combining outcome and rubric rewards within a group of rollouts, and advantages.

Paper's formula (the default)::

    R̂_r,i = R_r,i / max_j R_r,j          (R̂ = R_r when the max is 0)
    R_i   = (1 − α)·R_o,i + α·R_o,i·R̂_r,i
    A_i   = (R_i − mean(R)) / (std(R) + 1e-6)

Variants are small functions in registries, picked by :class:`GroupOptions`:

* ``RUBRIC_SOURCES``: where R_r comes from: ``"connected"`` (the CaRR reward) or
  ``"supported"`` (no-connectivity ablation: fraction of supported rubrics, read from
  ``RewardResult.rubric_scores``);
* ``NORMALIZERS``: ``"max"`` (divide by the group max) or ``"none"``;
* ``RUBRIC_TERMS``: which rollouts get the rubric term α·R̂_r, i.e. how R_o and R̂_r combine:
  ``"positive"`` (correct ones: (1 − α)·R_o + α·R̂_r, else (1 − α)·R_o; this equals the paper's
  α·R_o·R̂_r for R_o ∈ {0, 1}), ``"negative"`` (the reference trainer's ``rubric_only_negative``:
  a correct rollout keeps its full outcome R_o, a wrong one gets α·R̂_r) or ``"all"``
  ((1 − α)·R_o + α·R̂_r for every rollout).

Unknown rewards (None) are left out of every group statistic and get advantage None; a rollout's
unknown R_r matters only when its rubric term is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from carr_agent.rewards.options import GroupOptions, RubricFor
from carr_agent.types import RewardResult


def rubric_connected(result: RewardResult) -> float | None:
    """R_r as scored: supported rubrics connected to E0, over all rubrics."""
    return result.rubric_reward


def rubric_supported(result: RewardResult) -> float | None:
    """No-connectivity ablation: fraction of rubrics that are identified and supported."""
    if result.rubric_reward is None:
        return None
    if not result.rubric_scores:
        return result.rubric_reward
    if any(s.is_supported is None for s in result.rubric_scores):
        return None
    return sum(bool(s.is_supported) for s in result.rubric_scores) / len(result.rubric_scores)


def normalize_by_max(values: Sequence[float | None]) -> list[float | None]:
    """Divide by the group's maximum known value (unchanged when that maximum is 0)."""
    known = [v for v in values if v is not None]
    top = max(known, default=0.0)
    if top <= 0:
        return list(values)
    return [None if v is None else v / top for v in values]


def no_normalization(values: Sequence[float | None]) -> list[float | None]:
    """Keep R_r as scored."""
    return list(values)


RUBRIC_SOURCES: dict[str, Callable[[RewardResult], float | None]] = {
    "connected": rubric_connected,
    "supported": rubric_supported,
}
NORMALIZERS: dict[str, Callable[[Sequence[float | None]], list[float | None]]] = {
    "max": normalize_by_max,
    "none": no_normalization,
}
def rubric_for_positive(outcome: float, rubric: float | None, alpha: float) -> float | None:
    """The paper's C-GRPO: (1 − α)·R_o, plus α·R̂_r for correct rollouts."""
    if outcome <= 0 or alpha == 0:
        return (1 - alpha) * outcome
    return None if rubric is None else (1 - alpha) * outcome + alpha * rubric


def rubric_for_negative(outcome: float, rubric: float | None, alpha: float) -> float | None:
    """The reference trainer's ``rubric_only_negative``: R_o for correct rollouts, α·R̂_r for the
    others (a wrong answer with well-cited evidence is better than one without)."""
    if outcome > 0 or alpha == 0:
        return outcome
    return None if rubric is None else outcome + alpha * rubric


def rubric_for_all(outcome: float, rubric: float | None, alpha: float) -> float | None:
    """(1 − α)·R_o + α·R̂_r for every rollout."""
    if alpha == 0:
        return outcome
    return None if rubric is None else (1 - alpha) * outcome + alpha * rubric


RUBRIC_TERMS: dict[str, Callable[[float, float | None, float], float | None]] = {
    "positive": rubric_for_positive,
    "negative": rubric_for_negative,
    "all": rubric_for_all,
}


def group_rewards(
    results: Sequence[RewardResult], options: GroupOptions | None = None
) -> list[float | None]:
    """Combined reward R_i of each rollout of one question's group (None: unknown)."""
    o = options or GroupOptions()
    source = RUBRIC_SOURCES["connected" if o.connectivity else "supported"]
    normalize = NORMALIZERS["max" if o.normalize else "none"]
    combine = RUBRIC_TERMS[o.rubric_for]
    rubric = normalize([source(r) for r in results])
    return [
        None if result.outcome_reward is None else combine(result.outcome_reward, r_hat, o.alpha)
        for result, r_hat in zip(results, rubric, strict=True)
    ]


def advantages(
    rewards: Sequence[float | None], *, eps: float = 1e-6, ddof: int = 1
) -> list[float | None]:
    """Group-normalised advantages ``(R − mean) / (std + eps)`` over the known rewards.

    Args:
        rewards: one group's rewards; None entries are excluded and get None.
        eps: added to the standard deviation.
        ddof: 1 (default) is the unbiased standard deviation, as ``torch.std`` computes it in the
            reference trainer (slime) and in TRL; 0 is the population standard deviation.
            With fewer than ``ddof + 1`` known rewards the std is taken as 0.
    """
    known = [r for r in rewards if r is not None]
    if not known:
        return [None] * len(rewards)
    mean = sum(known) / len(known)
    n = len(known) - ddof
    std = math.sqrt(sum((r - mean) ** 2 for r in known) / n) if n > 0 else 0.0
    return [None if r is None else (r - mean) / (std + eps) for r in rewards]


def group_advantages(
    results: Sequence[RewardResult], options: GroupOptions | None = None, *, ddof: int = 1
) -> list[float | None]:
    """:func:`advantages` of :func:`group_rewards`."""
    return advantages(group_rewards(results, options), ddof=ddof)


__all__ = [
    "NORMALIZERS",
    "RUBRIC_SOURCES",
    "RUBRIC_TERMS",
    "GroupOptions",
    "RubricFor",
    "advantages",
    "group_advantages",
    "group_rewards",
    "no_normalization",
    "normalize_by_max",
    "rubric_connected",
    "rubric_for_all",
    "rubric_for_negative",
    "rubric_for_positive",
    "rubric_supported",
]
