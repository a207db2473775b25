"""Top-k / top-p truncation, shared by the sampler and the trainer so both see one distribution.

With truncated sampling the token is drawn from ``softmax(logits / T)`` restricted to the kept set
and renormalised. A trainer that recomputes log-probabilities over the full vocabulary compares a
different distribution: the ratio becomes the nucleus mass (at top-p 0.5, every token off by up to
log 2). So the recorded log-probabilities and the trainer's both come from :func:`truncated_log_softmax`,
the paper's "training log-probs computed under the same truncation".

The kept set follows vLLM's order: top-k on the logits first, then top-p on the renormalised
top-k distribution (the smallest set of most likely tokens whose mass reaches ``top_p``; the
most likely token is always kept). ``always_keep`` adds given tokens to the set (a teacher-forced
token outside the nucleus would otherwise have probability 0); a sampled token is in the set
anyway, so this changes nothing for sampled tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["is_truncated", "keep_mask", "truncated_log_softmax"]


def is_truncated(top_p: float, top_k: int) -> bool:
    """Whether these settings truncate the distribution at all."""
    return top_p < 1.0 or top_k > 0


def keep_mask(logits: torch.Tensor, top_p: float, top_k: int) -> torch.Tensor:
    """Boolean mask over the last dimension: True for tokens top-k/top-p sampling may draw."""
    import torch

    keep = torch.ones_like(logits, dtype=torch.bool)
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        keep = logits >= kth
    if top_p < 1.0:
        masked = logits.masked_fill(~keep, float("-inf"))
        probs = torch.softmax(masked, dim=-1)
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        before = torch.cumsum(sorted_p, dim=-1) - sorted_p  # mass of strictly more likely tokens
        sorted_keep = before < top_p
        sorted_keep[..., 0] = True
        nucleus = torch.zeros_like(keep).scatter(-1, order, sorted_keep)
        keep = keep & nucleus
    return keep


def truncated_log_softmax(
    logits: torch.Tensor, top_p: float, top_k: int, always_keep: torch.Tensor | None = None
) -> torch.Tensor:
    """``log_softmax`` over the kept set (``-inf`` elsewhere); plain ``log_softmax`` when off.

    The kept set is chosen without gradient; gradients flow through the kept logits.

    Args:
        logits: ``[..., V]`` logits, already divided by the temperature.
        top_p: Nucleus mass (1.0 = off).
        top_k: Keep the k most likely tokens (0 = off).
        always_keep: ``[...]`` token ids to keep regardless (e.g. the targets).
    """
    import torch

    if not is_truncated(top_p, top_k):
        return torch.log_softmax(logits, dim=-1)
    with torch.no_grad():
        keep = keep_mask(logits.detach(), top_p, top_k)
        if always_keep is not None:
            keep.scatter_(-1, always_keep.unsqueeze(-1), True)
    return torch.log_softmax(logits.masked_fill(~keep, float("-inf")), dim=-1)
