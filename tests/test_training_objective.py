"""The trainer's objective: fp32 master weights, log-probs under the sampling distribution,
chunked selective log-probs, and truncated importance sampling (the reference's correction)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from langchain_core.messages import HumanMessage  # noqa: E402

from carr_agent.errors import ConfigError  # noqa: E402
from carr_agent.models.hf_chat import HFChatModel  # noqa: E402
from carr_agent.models.tiny import build_tiny_model  # noqa: E402
from carr_agent.training.assembly import TokenTrajectory, assemble_turns  # noqa: E402
from carr_agent.training.batching import collate, token_logprobs  # noqa: E402
from carr_agent.training.config import LossConfig, OptimConfig, config_from_dict  # noqa: E402
from carr_agent.training.losses import LOSSES, LossBatch, mismatch_weights  # noqa: E402
from carr_agent.training.update import Sample, build_optimizer, update_policy  # noqa: E402


def _sharp_tiny():
    net, tok = build_tiny_model(0)
    with torch.no_grad():
        net.get_input_embeddings().weight.mul_(5.0)  # peaked distributions: truncation matters
    return net, tok


# ------------------------------------------------------------------ item 2: fp32 master weights


def test_bf16_parameters_are_refused_for_training(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"policy.dtype.*fp32 master weights"):
        config_from_dict({"output_dir": str(tmp_path), "policy": {"dtype": "bfloat16"}})
    assert config_from_dict({"output_dir": str(tmp_path)}).policy.dtype == "float32"
    assert config_from_dict({"output_dir": str(tmp_path)}).optim.beta2 == 0.98  # the paper's


def test_why_bf16_in_place_updates_are_refused() -> None:
    """At the paper's lr, one AdamW step changes every fp32 weight but few bf16 weights."""

    def changed_fraction(dtype: torch.dtype) -> float:
        net, tok = build_tiny_model(0)
        net = net.to(dtype)
        ids = tok("The Vltava is a river that flows through Prague.", add_special_tokens=False)[
            "input_ids"]
        traj = TokenTrajectory(input_ids=ids, loss_mask=[0] * 3 + [1] * (len(ids) - 3),
                               rollout_logprobs=[0.0] * len(ids), temperature=1.0, num_turns=1)
        before = [p.detach().clone() for p in net.parameters()]
        optim = OptimConfig(lr=2e-6, weight_decay=0.0)
        update_policy(model=net, optimizer=build_optimizer(net, optim), optim_config=optim,
                      samples=[Sample(trajectory=traj, advantage=1.0)],
                      loss_config=LossConfig(mismatch_low=0.0, mismatch_high=1e9),
                      pad_id=tok.pad_token_id)
        moved = sum(int((a != b).sum()) for a, b in zip(before, net.parameters(), strict=True))
        return moved / sum(p.numel() for p in net.parameters())

    assert changed_fraction(torch.float32) > 0.9
    assert changed_fraction(torch.bfloat16) < 0.5


# ------------------------------------------------------------------ item 4: top-p / top-k


@pytest.mark.parametrize("truncation", [{"top_p": 0.5}, {"top_k": 5}, {"top_p": 0.9, "top_k": 20}])
def test_trainer_logprobs_match_what_truncated_sampling_recorded(truncation) -> None:
    net, tok = _sharp_tiny()
    llm = HFChatModel(model=net, tokenizer=tok, max_new_tokens=24, seed=3, **truncation)
    with llm.recording() as rec:
        llm.invoke([HumanMessage("Which river flows through Prague?")])
    (turn,) = rec.turns
    traj = assemble_turns([turn])
    assert (traj.top_p, traj.top_k) == (truncation.get("top_p", 1.0), truncation.get("top_k", 0))
    batch = collate([traj], pad_id=tok.pad_token_id)
    with torch.no_grad():
        trainer = token_logprobs(net, batch)[0][batch.loss_mask[0] > 0]
    recorded = torch.tensor(turn.logprobs)
    assert torch.allclose(trainer, recorded, atol=1e-4)
    # Over the full vocabulary the two would differ by the (log) nucleus mass.
    full = collate([TokenTrajectory(**{**traj.__dict__, "top_p": 1.0, "top_k": 0})],
                   pad_id=tok.pad_token_id)
    with torch.no_grad():
        untruncated = token_logprobs(net, full)[0][full.loss_mask[0] > 0]
    assert (recorded - untruncated).max() > 0.05


# ------------------------------------------------------------------ item 5: chunked log-probs


@pytest.mark.parametrize("truncation", [{}, {"top_p": 0.7, "top_k": 9}])
def test_chunked_selective_logprobs_equal_the_full_ones_with_their_gradients(truncation) -> None:
    net, tok = _sharp_tiny()
    gen = torch.Generator().manual_seed(0)
    trajs = [TokenTrajectory(input_ids=torch.randint(0, len(tok), (n,), generator=gen).tolist(),
                             loss_mask=[0] * 5 + [1] * (n - 5), rollout_logprobs=[0.0] * n,
                             temperature=0.8, num_turns=1, **truncation) for n in (37, 50)]
    batch = collate(trajs, pad_id=tok.pad_token_id)

    def run(chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
        net.zero_grad(set_to_none=True)
        logp = token_logprobs(net, batch, chunk_size=chunk)
        (logp * batch.loss_mask).sum().backward()
        grad = torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])
        return logp.detach(), grad

    full, full_grad = run(0)
    chunked, chunked_grad = run(8)
    assert torch.allclose(full, chunked, atol=1e-5)
    assert torch.allclose(full_grad, chunked_grad, atol=1e-5)


# ------------------------------------------------------------------ item 6: truncated IS


def test_tis_weights_tokens_by_their_ratio_and_keeps_rejected_ones_in_the_denominator() -> None:
    loss_mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    old = torch.log(torch.tensor([[0.5, 0.5, 0.5, 0.5]]))
    rollout = torch.log(torch.tensor([[0.5, 0.4, 0.1, 0.5]]))  # ratios 1, 1.25, 5 (rejected)
    mask, weight, keep = mismatch_weights(loss_mask, old, rollout, 0.5, 2.0, "tis")
    assert torch.equal(mask, loss_mask)  # the rejected token stays in the denominator
    assert torch.allclose(weight[0, :3], torch.tensor([1.0, 1.25, 0.0]))
    assert keep.tolist() == [[True, True, False, True]]
    mask_mode, no_weight, _ = mismatch_weights(loss_mask, old, rollout, 0.5, 2.0, "mask")
    assert no_weight is None and mask_mode.tolist() == [[1.0, 1.0, 0.0, 0.0]]

    logp = old.clone().requires_grad_(True)
    config = LossConfig()

    def loss(m: torch.Tensor, w: torch.Tensor | None) -> float:
        terms = LOSSES["clipped_token_mean"](LossBatch(
            logp=logp, old_logp=old, rollout_logp=rollout, ref_logp=None,
            advantages=torch.tensor([1.0]), mask=m, total_tokens=float(m.sum()),
            total_sequences=1, is_weight=w), config)
        return float(terms.loss)

    # ratio r = 1 at the old policy, so each kept token contributes -A·w: (1 + 1.25 + 0) / 3.
    assert loss(mask, weight) == pytest.approx(-(1.0 + 1.25) / 3)
    assert loss(mask_mode, None) == pytest.approx(-(1.0 + 1.0) / 2)
    assert LossConfig().mismatch == "tis"
