"""The policy update of one C-GRPO step: mini-batches of micro-batches, one AdamW step each.

Given the step's trainable trajectories (assembled, with known advantages), this:

1. computes the trainer's log-probabilities before any update (``old_logp``, one no-grad pass);
   they are the ratio's denominator and the mismatch mask's trainer side;
2. applies the rollout/trainer mismatch correction of ``loss.mismatch`` to each micro-batch
   (:func:`~carr_agent.training.losses.mismatch_weights`): truncated importance weights
   ``exp(old_logp - rollout_logp)`` inside ``[low, high]``, 0 outside, with every sampled token
   in the denominator (``"tis"``, the default), or a renormalised 0/1 mask (``"mask"``);
3. for each mini-batch: sums the registered loss over its micro-batches (each normalised by the
   mini-batch totals, so accumulation is exact), clips the gradient norm, steps AdamW.

A mini-batch in which no sample has a non-zero advantage (every group of it had equal rewards)
has an exactly zero policy gradient. It is skipped and counted (``skipped_updates``) instead of
stepping the optimiser: AdamW would otherwise keep moving the weights along its momentum and
weight decay with no signal at all. (With a KL term the gradient is not zero, so it still steps.)
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from carr_agent.training.assembly import TokenTrajectory
from carr_agent.training.batching import TokenBatch, collate, token_logprobs
from carr_agent.training.config import LossConfig, OptimConfig
from carr_agent.training.losses import LOSSES, LossBatch, mismatch_weights

__all__ = ["Sample", "UpdateStats", "build_optimizer", "micro_loss", "update_policy"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One trainable trajectory and its advantage."""

    trajectory: TokenTrajectory
    advantage: float


@dataclass(kw_only=True)
class UpdateStats:
    """Sums over the step's updates (turned into metrics by the loop)."""

    losses: list[float] = field(default_factory=list)
    pg_losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    kl_sum: float = 0.0
    clipped_tokens: float = 0.0
    loss_tokens: float = 0.0
    sampled_tokens: float = 0.0
    mismatch_masked: float = 0.0
    logprob_abs_diff: float = 0.0
    metric_tokens: float = 0.0
    scripted_tokens: float = 0.0
    total_tokens: int = 0
    updates: int = 0
    skipped_updates: int = 0

    @property
    def clip_fraction(self) -> float | None:
        """Over freely sampled tokens only (a teacher-forced token's ratio is 1 by construction)."""
        return self.clipped_tokens / self.metric_tokens if self.metric_tokens else None

    @property
    def mismatch_fraction(self) -> float | None:
        """Freely sampled tokens rejected by the mismatch window, over freely sampled tokens."""
        return self.mismatch_masked / self.sampled_tokens if self.sampled_tokens else None

    @property
    def logprob_diff(self) -> float | None:
        """Mean |trainer − rollout| log-probability over freely sampled tokens (nats)."""
        return self.logprob_abs_diff / self.sampled_tokens if self.sampled_tokens else None

    @property
    def kl(self) -> float | None:
        return self.kl_sum / self.loss_tokens if self.loss_tokens else None


def build_optimizer(model: Any, config: OptimConfig) -> Any:
    """AdamW over the trainable parameters (the paper: lr 2e-6 constant, weight decay 0.1)."""
    import torch

    return torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        weight_decay=config.weight_decay,
    )


def _chunks(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _autocast(device: Any, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    import torch

    if enabled and getattr(device, "type", str(device)) == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def micro_loss(
    model: Any,
    batch: TokenBatch,
    advantages: Any,
    *,
    loss_config: LossConfig,
    old_logp: Any | None,
    ref_logp: Any | None,
    total_tokens: float,
    total_sequences: int,
    autocast: bool = False,
) -> tuple[Any, Any, Any]:
    """The registered loss of one micro-batch, with gradients flowing into ``model``.

    Args:
        model: The policy.
        batch: The micro-batch (on the model's device).
        advantages: ``[B]`` advantages.
        loss_config: Which loss and its clip/KL/mismatch settings.
        old_logp: ``[B, T-1]`` trainer log-probs before the step's first update, or None to use
            the detached current ones (identical values before the first update).
        ref_logp: Reference-policy log-probs, or None.
        total_tokens: Σ loss mask over the mini-batch (the token-mean denominator).
        total_sequences: Trajectories in the mini-batch.
        autocast: bf16 autocast (CUDA only).

    Returns:
        ``(terms, mask, keep)``: the :class:`~carr_agent.training.losses.LossTerms`, the
        denominator mask and the mismatch-keep mask.
    """
    with _autocast(batch.input_ids.device, autocast):
        logp = token_logprobs(model, batch)
    old = logp.detach() if old_logp is None else old_logp
    mask, weight, keep = _correction(batch, old, loss_config)
    terms = LOSSES[loss_config.name](
        LossBatch(
            logp=logp,
            old_logp=old,
            rollout_logp=batch.rollout_logp,
            ref_logp=ref_logp,
            advantages=advantages,
            mask=mask,
            total_tokens=total_tokens,
            total_sequences=total_sequences,
            is_weight=weight,
            metric_mask=batch.sampled_mask,
        ),
        loss_config,
    )
    return terms, mask, keep


def _correction(batch: TokenBatch, old: Any, loss_config: LossConfig) -> tuple[Any, Any, Any]:
    return mismatch_weights(batch.loss_mask, old, batch.rollout_logp, loss_config.mismatch_low,
                            loss_config.mismatch_high, loss_config.mismatch)


def _no_grad_logprobs(model: Any, batch: TokenBatch, autocast: bool) -> Any:
    import torch

    with torch.no_grad(), _autocast(batch.input_ids.device, autocast):
        return token_logprobs(model, batch)


def _has_signal(advs: Sequence[Any], group: Sequence[int], loss_config: LossConfig,
                ref: Sequence[Any]) -> bool:
    """Whether a mini-batch has any gradient: a non-zero advantage, or a KL term."""
    if loss_config.kl_coef > 0 and any(ref[i] is not None for i in group):
        return True
    return any(bool((advs[i] != 0).any()) for i in group)


def update_policy(
    *,
    model: Any,
    optimizer: Any,
    samples: Sequence[Sample],
    loss_config: LossConfig,
    optim_config: OptimConfig,
    pad_id: int,
    ref_model: Any | None = None,
) -> UpdateStats:
    """Run the step's optimiser updates on ``samples`` (see the module docstring).

    Returns:
        Sums for the step's metrics; empty (no update made) when ``samples`` is empty.
    """
    import torch

    stats = UpdateStats()
    if not samples:
        return stats
    device = next(model.parameters()).device
    autocast = optim_config.bf16_autocast
    micro = optim_config.micro_batch_size
    batches = [collate([s.trajectory for s in chunk], pad_id).to(device) for chunk in _chunks(samples, micro)]
    advs = [
        torch.tensor([s.advantage for s in chunk], dtype=torch.float32, device=device)
        for chunk in _chunks(samples, micro)
    ]
    old = [_no_grad_logprobs(model, b, autocast) for b in batches]
    ref = (
        [_no_grad_logprobs(ref_model, b, autocast) for b in batches]
        if ref_model is not None and loss_config.kl_coef > 0
        else [None] * len(batches)
    )
    corrections = [_correction(b, o, loss_config) for o, b in zip(old, batches, strict=True)]
    denominators = [c[0] for c in corrections]
    # Rollout/trainer agreement over every freely sampled token of the step (updates or not).
    for b, o, (_, _, keep) in zip(batches, old, corrections, strict=True):
        free = b.sampled_mask
        stats.sampled_tokens += float(free.sum())
        stats.scripted_tokens += float((b.loss_mask - free).sum())
        stats.mismatch_masked += float((free * (~keep).float()).sum())
        stats.logprob_abs_diff += float((free * (o.float() - b.rollout_logp).abs()).sum())
    per_mini = math.ceil(len(batches) / optim_config.mini_batches)
    # Train mode only matters for gradient checkpointing (HF applies it in training mode only).
    checkpointing = getattr(model, "is_activation_checkpointing", None)
    if checkpointing is None:
        checkpointing = getattr(model, "is_gradient_checkpointing", False)
    model.train(bool(checkpointing))
    try:
        for group in _chunks(list(range(len(batches))), per_mini):
            if not _has_signal(advs, group, loss_config, ref):
                stats.skipped_updates += 1
                logger.info("skipping an optimiser update: every advantage of its %d samples is 0",
                            sum(int(advs[i].numel()) for i in group))
                continue
            denom = float(sum(denominators[i].sum() for i in group))
            n_seq = sum(int(batches[i].input_ids.shape[0]) for i in group)
            optimizer.zero_grad(set_to_none=True)
            loss_total = 0.0
            pg_total = 0.0
            for i in group:
                terms, _mask, _keep = micro_loss(
                    model,
                    batches[i],
                    advs[i],
                    loss_config=loss_config,
                    old_logp=old[i],
                    ref_logp=ref[i],
                    total_tokens=denom,
                    total_sequences=n_seq,
                    autocast=autocast,
                )
                terms.loss.backward()
                loss_total += float(terms.loss.detach())
                pg_total += terms.pg_loss
                stats.kl_sum += terms.kl
                stats.clipped_tokens += terms.clipped_tokens
                stats.metric_tokens += terms.metric_tokens
                stats.loss_tokens += terms.tokens
                stats.total_tokens += int(batches[i].attention_mask.sum())
            params = [p for p in model.parameters() if p.grad is not None]
            clip = optim_config.grad_clip if optim_config.grad_clip > 0 else float("inf")
            norm = torch.nn.utils.clip_grad_norm_(params, clip) if params else torch.tensor(0.0)
            optimizer.step()
            stats.updates += 1
            stats.losses.append(loss_total)
            stats.pg_losses.append(pg_total)
            stats.grad_norms.append(float(norm))
    finally:
        model.eval()
        optimizer.zero_grad(set_to_none=True)
    return stats
