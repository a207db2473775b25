"""The policy update of one C-GRPO step: mini-batches of micro-batches, one AdamW step each.

Given the step's trainable trajectories (assembled, with known advantages), this:

1. computes the trainer's log-probabilities before any update (``old_logp``, one no-grad pass);
   they are the ratio's denominator and the mismatch mask's trainer side;
2. builds the loss mask of each micro-batch: sampled tokens (from assembly) AND the
   rollout/trainer mismatch window ``exp(old_logp - rollout_logp) ∈ [low, high]``;
3. for each mini-batch: sums the registered loss over its micro-batches (each normalised by the
   mini-batch totals, so accumulation is exact), clips the gradient norm, steps AdamW.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from carr_agent.training.assembly import TokenTrajectory
from carr_agent.training.batching import TokenBatch, collate, token_logprobs
from carr_agent.training.config import LossConfig, OptimConfig
from carr_agent.training.losses import LOSSES, LossBatch, mismatch_keep

__all__ = ["Sample", "UpdateStats", "build_optimizer", "micro_loss", "update_policy"]


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
    total_tokens: int = 0

    @property
    def clip_fraction(self) -> float | None:
        return self.clipped_tokens / self.loss_tokens if self.loss_tokens else None

    @property
    def mismatch_fraction(self) -> float | None:
        return self.mismatch_masked / self.sampled_tokens if self.sampled_tokens else None

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
        ``(terms, mask, keep)``: the :class:`~carr_agent.training.losses.LossTerms`, the final
        loss mask and the mismatch-keep mask.
    """
    with _autocast(batch.input_ids.device, autocast):
        logp = token_logprobs(model, batch)
    old = logp.detach() if old_logp is None else old_logp
    keep = mismatch_keep(old, batch.rollout_logp, loss_config.mismatch_low, loss_config.mismatch_high)
    mask = batch.loss_mask * keep.float()
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
        ),
        loss_config,
    )
    return terms, mask, keep


def _no_grad_logprobs(model: Any, batch: TokenBatch, autocast: bool) -> Any:
    import torch

    with torch.no_grad(), _autocast(batch.input_ids.device, autocast):
        return token_logprobs(model, batch)


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
    keeps = [
        mismatch_keep(o, b.rollout_logp, loss_config.mismatch_low, loss_config.mismatch_high)
        for o, b in zip(old, batches, strict=True)
    ]
    per_mini = math.ceil(len(batches) / optim_config.mini_batches)
    # Train mode only matters for gradient checkpointing (HF applies it in training mode only).
    checkpointing = getattr(model, "is_activation_checkpointing", None)
    if checkpointing is None:
        checkpointing = getattr(model, "is_gradient_checkpointing", False)
    model.train(bool(checkpointing))
    try:
        for group in _chunks(list(range(len(batches))), per_mini):
            denom = float(sum((batches[i].loss_mask * keeps[i].float()).sum() for i in group))
            n_seq = sum(int(batches[i].input_ids.shape[0]) for i in group)
            optimizer.zero_grad(set_to_none=True)
            loss_total = 0.0
            pg_total = 0.0
            for i in group:
                terms, _mask, keep = micro_loss(
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
                stats.loss_tokens += terms.tokens
                stats.sampled_tokens += float(batches[i].loss_mask.sum())
                stats.mismatch_masked += float((batches[i].loss_mask * (~keep).float()).sum())
                stats.total_tokens += int(batches[i].attention_mask.sum())
            params = [p for p in model.parameters() if p.grad is not None]
            clip = optim_config.grad_clip if optim_config.grad_clip > 0 else float("inf")
            norm = torch.nn.utils.clip_grad_norm_(params, clip) if params else torch.tensor(0.0)
            optimizer.step()
            stats.losses.append(loss_total)
            stats.pg_losses.append(pg_total)
            stats.grad_norms.append(float(norm))
    finally:
        model.eval()
        optimizer.zero_grad(set_to_none=True)
    return stats
