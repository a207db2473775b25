"""Advantage and loss variants, as two registries of small functions.

Advantages (``ADVANTAGES[name](results, reward_config) -> (rewards, advantages)``) turn a group's
CaRR results into per-rollout rewards and group-relative advantages. ``None`` means *unknown* (a
judge failed): such rollouts are left out of the group statistics by
:mod:`carr_agent.rewards.cgrpo` and out of the loss by the training step.

Losses (``LOSSES[name](batch, config) -> LossTerms``) turn per-token log-probabilities into a
scalar to minimise. Each normalises by totals over the whole mini-batch (``batch.total_tokens``,
``batch.total_sequences``), so summing the losses of its micro-batches gives exactly the
mini-batch objective: gradient accumulation changes memory, not the maths.

The paper's objective (arXiv 2601.06021) is ``clipped_token_mean``::

    r_t   = exp(logp_t - old_logp_t)
    L     = - Σ_t m_t · min(r_t · A, clip(r_t, 1 - ε_low, 1 + ε_high) · A) / Σ_t m_t
          + β · Σ_t m_t · k3_t / Σ_t m_t,      k3_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1

where ``m_t`` is 1 for tokens the policy sampled. The rollout/trainer mismatch correction
(:func:`mismatch_weights`) has two modes (``loss.mismatch``):

* ``"tis"`` (default, the reference's slime fork, IcePop-style truncated importance sampling): each
  token's surrogate is multiplied by ``w_t = ρ_t`` when ``ρ_t = exp(old_logp_t - rollout_logp_t)``
  lies in ``[mismatch_low, mismatch_high]`` and by 0 otherwise; rejected tokens stay in the
  token-mean denominator ``Σ m``.
* ``"mask"``: a 0/1 mask (``w_t = 1`` inside the window), and ``m_t`` drops the rejected tokens,
  so the mean is renormalised over the kept ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from carr_agent.training.config import LossConfig, RewardConfig
    from carr_agent.types import RewardResult

__all__ = [
    "ADVANTAGES",
    "LOSSES",
    "AdvantageFn",
    "LossBatch",
    "LossFn",
    "LossTerms",
    "k3_kl",
    "mismatch_keep",
    "mismatch_weights",
]

Rewards = list[float | None]
AdvantageFn = Callable[["Sequence[RewardResult]", "RewardConfig"], "tuple[Rewards, Rewards]"]


# --------------------------------------------------------------------------- advantages


def cgrpo_advantages(results: Sequence[RewardResult], config: RewardConfig) -> tuple[Rewards, Rewards]:
    """C-GRPO (paper §5): outcome reward plus the group-normalised rubric term, then z-scores."""
    from carr_agent.rewards.cgrpo import advantages, group_rewards

    rewards = group_rewards(results, config.options().group)
    return rewards, advantages(rewards)


def outcome_grpo_advantages(
    results: Sequence[RewardResult], config: RewardConfig
) -> tuple[Rewards, Rewards]:
    """Plain GRPO on the outcome reward only (the paper's baseline); unknown stays unknown."""
    from carr_agent.rewards.cgrpo import advantages

    rewards: Rewards = [None if r.outcome_reward is None else float(r.outcome_reward) for r in results]
    return rewards, advantages(rewards)


ADVANTAGES: dict[str, AdvantageFn] = {
    "cgrpo": cgrpo_advantages,
    "grpo_outcome": outcome_grpo_advantages,
}


# --------------------------------------------------------------------------- losses


@dataclass(frozen=True, kw_only=True)
class LossBatch:
    """One micro-batch of trajectories, right-padded to ``[B, T]``.

    Attributes:
        logp: Current policy log-probabilities of each token (requires grad).
        old_logp: Trainer log-probabilities before this step's first update (no grad).
        rollout_logp: Log-probabilities the rollout engine recorded (0 where not sampled).
        ref_logp: Reference-policy log-probabilities, or None when ``kl_coef == 0``.
        advantages: One advantage per trajectory, ``[B]``.
        mask: 1.0 for tokens that count in the loss's denominator (sampled; in ``"mask"`` mode
            also inside the mismatch window), else 0.
        total_tokens: Σ mask over the whole mini-batch this micro-batch belongs to.
        total_sequences: Trajectories in that mini-batch.
        is_weight: Per-token importance weight of the surrogate (detached; None = 1).
        metric_mask: Tokens the clip metric counts (None = ``mask``); teacher-forced tokens are
            left out (their ratio is 1 by construction).
    """

    logp: torch.Tensor
    old_logp: torch.Tensor
    rollout_logp: torch.Tensor
    ref_logp: torch.Tensor | None
    advantages: torch.Tensor
    mask: torch.Tensor
    total_tokens: float
    total_sequences: int
    is_weight: torch.Tensor | None = None
    metric_mask: torch.Tensor | None = None


@dataclass(frozen=True, kw_only=True)
class LossTerms:
    """A micro-batch's loss and the sums its metrics are computed from.

    Attributes:
        loss: Scalar to backpropagate (already normalised by the mini-batch totals).
        pg_loss: The policy-gradient part (float, same normalisation).
        kl: Σ mask · k3 over this micro-batch (0 without a reference model).
        clipped_tokens: Metric tokens whose ratio was clipped (the min picked the clipped term).
        tokens: Σ mask over this micro-batch.
        metric_tokens: Σ metric mask (the clip fraction's denominator).
    """

    loss: torch.Tensor
    pg_loss: float
    kl: float
    clipped_tokens: float
    tokens: float
    metric_tokens: float = 0.0


LossFn = Callable[[LossBatch, "LossConfig"], LossTerms]


def mismatch_keep(
    old_logp: torch.Tensor, rollout_logp: torch.Tensor, low: float, high: float
) -> torch.Tensor:
    """True where the trainer/rollout probability ratio ``exp(old - rollout)`` is in [low, high]."""
    import torch

    ratio = torch.exp(old_logp - rollout_logp)
    return (ratio >= low) & (ratio <= high)


def mismatch_weights(
    loss_mask: torch.Tensor,
    old_logp: torch.Tensor,
    rollout_logp: torch.Tensor,
    low: float,
    high: float,
    mode: str,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The rollout/trainer mismatch correction: ``(mask, is_weight, keep)``.

    ``"tis"``: ``mask`` is the loss mask (rejected tokens stay in the denominator) and
    ``is_weight = ρ · keep``. ``"mask"``: ``mask = loss_mask · keep`` and no weight.
    """
    import torch

    keep = mismatch_keep(old_logp, rollout_logp, low, high)
    if mode == "mask":
        return loss_mask * keep.float(), None, keep
    ratio = torch.exp(old_logp - rollout_logp).detach()
    return loss_mask, torch.where(keep, ratio, torch.zeros_like(ratio)), keep


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π‖π_ref) per token: unbiased, non-negative, low variance."""
    import torch

    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1.0


def _clipped_surrogate(batch: LossBatch, config: LossConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO loss ``-min(r·A, clip(r)·A)`` and a mask of tokens where the clip was active."""
    import torch

    ratio = torch.exp(batch.logp - batch.old_logp)
    adv = batch.advantages.unsqueeze(-1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - config.eps_low, 1.0 + config.eps_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    was_clipped = (clipped < unclipped).detach()
    return per_token, was_clipped


def _kl_term(batch: LossBatch) -> torch.Tensor:
    import torch

    if batch.ref_logp is None:
        return torch.zeros_like(batch.logp)
    return k3_kl(batch.logp, batch.ref_logp)


def _weighted(per_token: torch.Tensor, batch: LossBatch) -> torch.Tensor:
    return per_token if batch.is_weight is None else per_token * batch.is_weight


def _clip_counts(was_clipped: torch.Tensor, batch: LossBatch) -> tuple[float, float]:
    metric = batch.mask if batch.metric_mask is None else batch.mask * batch.metric_mask
    return float((was_clipped * metric).sum()), float(metric.sum())


def clipped_token_mean(batch: LossBatch, config: LossConfig) -> LossTerms:
    """The paper's loss: asymmetric clipped surrogate averaged over all loss tokens (DAPO-style)."""
    per_token, was_clipped = _clipped_surrogate(batch, config)
    kl = _kl_term(batch)
    denom = max(batch.total_tokens, 1.0)
    pg = (_weighted(per_token, batch) * batch.mask).sum() / denom
    kl_sum = (kl * batch.mask).sum()
    loss = pg + config.kl_coef * kl_sum / denom
    clipped, metric_tokens = _clip_counts(was_clipped, batch)
    return LossTerms(
        loss=loss,
        pg_loss=float(pg.detach()),
        kl=float(kl_sum.detach()),
        clipped_tokens=clipped,
        tokens=float(batch.mask.sum()),
        metric_tokens=metric_tokens,
    )


def clipped_sequence_mean(batch: LossBatch, config: LossConfig) -> LossTerms:
    """Original GRPO aggregation: average over each trajectory's tokens, then over trajectories.

    Long trajectories weigh as much as short ones here, which the paper's token-level averaging
    avoids; kept for comparison.
    """
    per_token, was_clipped = _clipped_surrogate(batch, config)
    per_token = _weighted(per_token, batch)
    kl = _kl_term(batch)
    lengths = batch.mask.sum(-1).clamp(min=1.0)
    denom = max(batch.total_sequences, 1)
    per_seq = ((per_token + config.kl_coef * kl) * batch.mask).sum(-1) / lengths
    pg = ((per_token * batch.mask).sum(-1) / lengths).sum() / denom
    clipped, metric_tokens = _clip_counts(was_clipped, batch)
    return LossTerms(
        loss=per_seq.sum() / denom,
        pg_loss=float(pg.detach()),
        kl=float((kl * batch.mask).sum().detach()),
        clipped_tokens=clipped,
        tokens=float(batch.mask.sum()),
        metric_tokens=metric_tokens,
    )


LOSSES: dict[str, LossFn] = {
    "clipped_token_mean": clipped_token_mean,
    "clipped_sequence_mean": clipped_sequence_mean,
}
