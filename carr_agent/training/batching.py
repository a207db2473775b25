"""Pad assembled trajectories into tensors and compute per-token log-probabilities.

Position ``t`` of every ``[B, T-1]`` tensor here refers to *predicting* token ``t + 1`` from
tokens ``0..t`` — the shift is done once, in :func:`collate`, so losses never shift again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from carr_agent.training.assembly import TokenTrajectory

__all__ = ["TokenBatch", "collate", "token_logprobs"]


@dataclass(frozen=True, kw_only=True)
class TokenBatch:
    """Right-padded tensors for B trajectories of up to T tokens.

    Attributes:
        input_ids: ``[B, T]`` token ids (padding: ``pad_id``).
        attention_mask: ``[B, T]`` 1 for real tokens.
        targets: ``[B, T-1]`` the next token at each position.
        loss_mask: ``[B, T-1]`` 1.0 where the target was sampled by the policy.
        rollout_logp: ``[B, T-1]`` the rollout engine's log-probability of each target (0 elsewhere).
        temperature: ``[B]`` the temperature each trajectory was sampled at.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    targets: torch.Tensor
    loss_mask: torch.Tensor
    rollout_logp: torch.Tensor
    temperature: torch.Tensor

    def to(self, device: Any) -> TokenBatch:
        """The same batch on ``device``."""
        return TokenBatch(**{k: getattr(self, k).to(device) for k in self.__dataclass_fields__})


def collate(trajectories: Sequence[TokenTrajectory], pad_id: int) -> TokenBatch:
    """Right-pad trajectories and shift them into (input, target) pairs."""
    import torch

    width = max(len(t.input_ids) for t in trajectories)
    b = len(trajectories)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    attn = torch.zeros((b, width), dtype=torch.long)
    mask = torch.zeros((b, width), dtype=torch.float32)
    rollout = torch.zeros((b, width), dtype=torch.float32)
    for i, t in enumerate(trajectories):
        n = len(t.input_ids)
        ids[i, :n] = torch.tensor(t.input_ids, dtype=torch.long)
        attn[i, :n] = 1
        mask[i, :n] = torch.tensor(t.loss_mask, dtype=torch.float32)
        rollout[i, :n] = torch.tensor(t.rollout_logprobs, dtype=torch.float32)
    return TokenBatch(
        input_ids=ids,
        attention_mask=attn,
        targets=ids[:, 1:],
        loss_mask=mask[:, 1:],
        rollout_logp=rollout[:, 1:],
        temperature=torch.tensor([t.temperature for t in trajectories], dtype=torch.float32),
    )


def token_logprobs(model: Any, batch: TokenBatch) -> torch.Tensor:
    """``log p(target_t | tokens_<=t)`` under ``softmax(logits / temperature)``, shape ``[B, T-1]``.

    Computed as ``logit[target] - logsumexp(logits)`` in float32 (no full log-softmax copy of the
    ``[B, T, V]`` logits). Gradients flow unless called under ``torch.no_grad()``.
    """
    import torch

    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    logits = out.logits[:, :-1, :].float() / batch.temperature.view(-1, 1, 1)
    picked = logits.gather(-1, batch.targets.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)
