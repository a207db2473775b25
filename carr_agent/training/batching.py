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
        sampled_mask: ``[B, T-1]`` 1.0 where the target was *freely sampled* (a subset of
            ``loss_mask``: teacher-forced tokens are 0 here).
        top_p: The nucleus mass the batch was sampled with (1.0 = off).
        top_k: The top-k it was sampled with (0 = off).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    targets: torch.Tensor
    loss_mask: torch.Tensor
    rollout_logp: torch.Tensor
    temperature: torch.Tensor
    sampled_mask: torch.Tensor
    top_p: float = 1.0
    top_k: int = 0

    def to(self, device: Any) -> TokenBatch:
        """The same batch on ``device``."""
        moved = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k, v in moved.items():
            if hasattr(v, "to"):
                moved[k] = v.to(device)
        return TokenBatch(**moved)


def collate(trajectories: Sequence[TokenTrajectory], pad_id: int) -> TokenBatch:
    """Right-pad trajectories and shift them into (input, target) pairs."""
    import torch

    from carr_agent.errors import TrainingError

    settings = {(t.top_p, t.top_k) for t in trajectories}
    if len(settings) != 1:
        raise TrainingError(f"a batch mixes top-p/top-k settings {sorted(settings)}")
    ((top_p, top_k),) = settings
    width = max(len(t.input_ids) for t in trajectories)
    b = len(trajectories)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    attn = torch.zeros((b, width), dtype=torch.long)
    mask = torch.zeros((b, width), dtype=torch.float32)
    rollout = torch.zeros((b, width), dtype=torch.float32)
    sampled = torch.zeros((b, width), dtype=torch.float32)
    for i, t in enumerate(trajectories):
        n = len(t.input_ids)
        ids[i, :n] = torch.tensor(t.input_ids, dtype=torch.long)
        attn[i, :n] = 1
        mask[i, :n] = torch.tensor(t.loss_mask, dtype=torch.float32)
        rollout[i, :n] = torch.tensor(t.rollout_logprobs, dtype=torch.float32)
        sampled[i, :n] = torch.tensor(t.free_mask, dtype=torch.float32)
    return TokenBatch(
        input_ids=ids,
        attention_mask=attn,
        targets=ids[:, 1:],
        loss_mask=mask[:, 1:],
        rollout_logp=rollout[:, 1:],
        temperature=torch.tensor([t.temperature for t in trajectories], dtype=torch.float32),
        sampled_mask=sampled[:, 1:],
        top_p=float(top_p),
        top_k=int(top_k),
    )


#: Positions per chunk of the selective log-softmax (each chunk materialises [B, chunk, V] logits).
DEFAULT_CHUNK = 512

# Config attributes of architectures whose logits are not just ``lm_head(hidden)``: those take
# the plain (unchunked) path.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier")


def _chunk_logprobs(
    head: Any, hidden: torch.Tensor, targets: torch.Tensor, temperature: torch.Tensor,
    top_p: float, top_k: int,
) -> torch.Tensor:
    """Selected log-probabilities of one chunk of positions: ``[B, c]`` from ``[B, c, H]``."""
    import torch

    from carr_agent.models.sampling import is_truncated, truncated_log_softmax

    logits = head(hidden).float() / temperature.view(-1, 1, 1)
    if is_truncated(top_p, top_k):
        logp = truncated_log_softmax(logits, top_p, top_k, always_keep=targets)
        return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def _plain_head(model: Any) -> tuple[Any, Any] | None:
    """``(decoder, lm_head)`` when the model's logits are exactly ``lm_head(decoder(x))``."""
    config = getattr(model, "config", None)
    if any(getattr(config, a, None) not in (None, 1, 1.0) for a in _LOGIT_TRANSFORMS):
        return None
    get_decoder = getattr(model, "get_decoder", None)
    get_head = getattr(model, "get_output_embeddings", None)
    if get_decoder is None or get_head is None:
        return None
    decoder, head = get_decoder(), get_head()
    if decoder is None or head is None or decoder is model:
        return None
    return decoder, head


def token_logprobs(model: Any, batch: TokenBatch, *, chunk_size: int = DEFAULT_CHUNK) -> torch.Tensor:
    """``log p(target_t | tokens_<=t)`` under the sampling distribution, shape ``[B, T-1]``.

    The sampling distribution is ``softmax(logits / temperature)``, restricted to the top-k/top-p
    set when the batch was sampled with truncation (:mod:`carr_agent.models.sampling`).

    Selective and chunked: the decoder's hidden states go through the LM head ``chunk_size``
    positions at a time, and only each target's log-probability is kept, so the ``[B, T, V]``
    float32 logits (about 18 GB for one 30k-token sequence at Qwen's 152k vocabulary) never exist
    at once. Under autograd each chunk is recomputed in the backward pass
    (``torch.utils.checkpoint``) instead of being stored. ``chunk_size <= 0``, or a model whose
    logits are not plain ``lm_head(hidden)``, takes the unchunked path. Gradients flow unless
    called under ``torch.no_grad()``.
    """
    import torch
    from torch.utils.checkpoint import checkpoint

    parts = _plain_head(model) if chunk_size > 0 else None
    if parts is None:
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
        return _chunk_logprobs(lambda x: x, out.logits[:, :-1, :], batch.targets,
                               batch.temperature, batch.top_p, batch.top_k)
    decoder, head = parts
    hidden = decoder(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False
    ).last_hidden_state[:, :-1, :]
    temperature = batch.temperature.to(hidden.device)
    chunks = []
    for start in range(0, hidden.shape[1], chunk_size):
        args = (head, hidden[:, start : start + chunk_size], batch.targets[:, start : start + chunk_size],
                temperature, batch.top_p, batch.top_k)
        if torch.is_grad_enabled() and hidden.requires_grad:
            chunks.append(checkpoint(_chunk_logprobs, *args, use_reentrant=False))
        else:
            chunks.append(_chunk_logprobs(*args))
    return torch.cat(chunks, dim=1)
