"""The C-GRPO training loop.

Algorithm (arXiv 2601.06021), for step s = 1 .. max_steps (resuming after the last checkpoint):

1. **Questions.** Take ``data.questions_per_step`` tasks from the seeded sampler.
2. **Rollouts.** For each question run G = ``rollout.group_size`` rollouts through the real
   LangGraph agent (search/open/find over the offline corpus) with the current policy as its chat
   model. The chat model records every turn's prompt ids, completion ids and log-probabilities.
3. **Tokens.** Assemble each rollout's turns into one sequence with its loss mask (1 = sampled by
   the policy, 0 = prompt, template glue, tool output). Prompts are built token-in/token-out, so
   the turns extend each other by construction; a re-tokenisation of the final transcript is only
   a diagnostic (``retokenization_mismatch``). Rollouts whose history the graph rewrote (turns
   that do not extend each other) are reported (``token_mismatch``) and excluded from the loss.
4. **Rewards.** Score every rollout with CaRR (outcome + citation-grounded, connected rubrics).
   Combine each group's results into rewards and group-relative advantages
   (``ADVANTAGES[reward.advantage]``, C-GRPO by default). Unknown rewards (a judge failed) are
   excluded from the group statistics and from the loss, never counted as 0.
5. **Update.** ``optim.mini_batches`` AdamW updates over the trainable rollouts: the registered
   loss (``LOSSES[loss.name]``, the asymmetric clipped surrogate with token-level averaging by
   default) on tokens that are sampled *and* inside the rollout/trainer mismatch window, optional
   k3 KL to the frozen initial policy, gradient accumulation over micro-batches, gradient-norm
   clipping, bf16 autocast on CUDA. With the vLLM backend the new weights are then pushed into
   the engine. A mini-batch whose advantages are all 0 is skipped, not stepped
   (``skipped_updates``); ``reward.filter_zero_variance_groups`` leaves such groups out entirely.
6. **Bookkeeping.** Append the step's metrics to ``metrics.jsonl``, redraw ``curves.png``, write
   the step's trajectories, and every ``checkpoint.every`` steps an atomic checkpoint (policy,
   optimiser, RNG states, step, data cursor).

Testing hook: when the environment variable ``CARR_AGENT_TRAIN_CRASH_AT_STEP=N`` is set, the
process exits abruptly (``os._exit(75)``, no cleanup) in step N after its rollouts and before its
update — a crash at the worst moment, used by the crash-and-resume test.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carr_agent.errors import ConfigError
from carr_agent.training.checkpoint import (
    latest_checkpoint,
    load_trainer_state,
    save_checkpoint,
    set_rng_state,
)
from carr_agent.training.config import TrainConfig, config_to_dict
from carr_agent.training.data import (
    Scripts,
    TaskSampler,
    load_scripts,
    open_corpus,
    resolve_tasks,
    scripts_for,
)
from carr_agent.training.losses import ADVANTAGES
from carr_agent.training.metrics import MetricsLog, mean_or_none, plot_curves
from carr_agent.training.policy import frozen_copy, load_policy
from carr_agent.training.rollout import TERMINATIONS, Rollout, RolloutRunner
from carr_agent.training.update import Sample, UpdateStats, build_optimizer, update_policy
from carr_agent.types import RewardResult, Task

__all__ = ["CRASH_ENV", "TrainResult", "train"]

logger = logging.getLogger(__name__)

CRASH_ENV = "CARR_AGENT_TRAIN_CRASH_AT_STEP"
_UNKNOWN = RewardResult(outcome_reward=None, rubric_reward=None, reward=None)


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    """What a call to :func:`train` did.

    Attributes:
        output_dir: The run directory.
        first_step: The first step this call ran (after a resume: last checkpoint + 1).
        last_step: The last step finished.
        records: The metrics records of the steps this call ran.
    """

    output_dir: Path
    first_step: int
    last_step: int
    records: list[dict[str, Any]]


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    scripts: Scripts | None = None,
    judge: Any | None = None,
    tasks: Sequence[Task] | None = None,
    corpus: Any | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    show_progress: bool = False,
) -> TrainResult:
    """Run C-GRPO (see the module docstring) until ``config.max_steps``.

    Args:
        config: The run.
        resume: Continue from the newest checkpoint in ``config.output_dir`` (a fresh start when
            there is none). Without it, a run directory that already has checkpoints is refused.
        scripts: Teacher-forced completions (overrides ``rollout.scripts``); for tests and demos.
        judge: A CaRR judge (overrides ``reward.judge``).
        tasks: The training tasks (overrides ``data.tasks``).
        corpus: An object with ``search``/``fetch`` for the tools (overrides ``data.corpus``).
        on_step: Called with each step's metrics record.
        show_progress: Show a rich progress bar.

    Raises:
        ConfigError: Bad configuration, or an existing run without ``resume``.
        TrainingError: The loop cannot continue (unreadable checkpoint, ...).
    """
    import torch

    run_dir = Path(config.output_dir).expanduser()
    checkpoint = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if checkpoint is not None and not resume:
        raise ConfigError(
            f"output_dir: {run_dir} already has checkpoints; pass --resume to continue it or "
            "choose another --output-dir"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config_to_dict(config), indent=2))

    # Policy, optimiser and data, then the checkpoint's state on top.
    torch.manual_seed(config.seed)
    state = load_trainer_state(checkpoint) if checkpoint is not None else None
    model, tokenizer = load_policy(config.policy, path=None if state is None else state.path / "policy")
    ref_model = None
    if config.loss.kl_coef > 0:
        ref_model = frozen_copy(model if state is None else load_policy(config.policy)[0])
    optimizer = build_optimizer(model, config.optim)
    if tasks is None:
        tasks = resolve_tasks(config.data.tasks, limit=config.data.limit)
    sampler = TaskSampler(tasks, seed=config.seed, shuffle=config.data.shuffle)
    start = 0
    if state is not None:
        optimizer.load_state_dict(state.optimizer)
        sampler.load_state(state.cursor)
        set_rng_state(state.rng)
        start = state.step
        logger.info("resuming from %s (step %d)", checkpoint, start)
    metrics = MetricsLog(run_dir / "metrics.jsonl")
    metrics.truncate_after(start)
    if scripts is None and config.rollout.scripts:
        scripts = load_scripts(config.rollout.scripts)

    index_dir = Path(config.data.index_dir).expanduser() if config.data.index_dir else None
    if corpus is None:
        corpus = open_corpus(config.data.corpus, index_dir)
    chat, engine = _rollout_model(config, model, tokenizer)
    runner = RolloutRunner(policy=chat, search=corpus, fetcher=corpus,
                           scorer=_scorer(config, judge), config=config.rollout)

    records: list[dict[str, Any]] = []
    with _progress(show_progress, start, config.max_steps) as advance:
        for step in range(start + 1, config.max_steps + 1):
            # 1-4: questions, rollouts through the graph, tokens, rewards and advantages.
            t0 = time.perf_counter()
            groups = [
                runner.run_group(task, scripts=scripts_for(scripts, task, config.rollout.group_size))
                for task in sampler.next_batch(config.data.questions_per_step)
            ]
            rollout_seconds = time.perf_counter() - t0
            samples = _assign_advantages(groups, config)
            if os.environ.get(CRASH_ENV) == str(step):
                logger.error("%s=%d: simulating a crash", CRASH_ENV, step)
                os._exit(75)

            # 5: the policy update (and the engine's weights after it).
            t1 = time.perf_counter()
            if engine is not None:
                engine.sleep()
            stats = update_policy(model=model, optimizer=optimizer, samples=samples,
                                  loss_config=config.loss, optim_config=config.optim,
                                  pad_id=int(tokenizer.pad_token_id), ref_model=ref_model)
            train_seconds = time.perf_counter() - t1
            if engine is not None:
                engine.wake_up()
                if stats.updates:
                    engine.sync_weights(model)

            # 6: metrics, curves, trajectories, checkpoint.
            record = _step_record(step, groups, samples, stats, rollout_seconds, train_seconds,
                                  lr=config.optim.lr)
            metrics.append(record)
            plot_curves(metrics.read(), run_dir / "curves.png")
            if config.checkpoint.save_trajectories:
                _write_trajectories(run_dir / "trajectories" / f"step-{step:06d}.jsonl", groups)
            if step % config.checkpoint.every == 0 or step == config.max_steps:
                save_checkpoint(run_dir, step=step, model=model, tokenizer=tokenizer,
                                optimizer=optimizer, cursor=sampler.state(),
                                config=config_to_dict(config), keep=config.checkpoint.keep)
            records.append(record)
            if step % config.log_every == 0:
                logger.info(_summary(record))
            if on_step is not None:
                on_step(record)
            advance()
    return TrainResult(output_dir=run_dir, first_step=start + 1,
                       last_step=records[-1]["step"] if records else start, records=records)


# ---------------------------------------------------------------------- pieces of the loop


def _rollout_model(config: TrainConfig, model: Any, tokenizer: Any) -> tuple[Any, Any]:
    """The recording chat model the graph runs on, and the vLLM engine when one is used."""
    from carr_agent.models.hf_chat import HFChatModel

    kwargs = dict(model=model, tokenizer=tokenizer, model_name=config.policy.source,
                  temperature=config.rollout.temperature, top_p=config.rollout.top_p,
                  top_k=config.rollout.top_k,
                  max_new_tokens=config.rollout.max_new_tokens)
    if config.rollout.backend == "hf":
        return HFChatModel(**kwargs), None
    from carr_agent.training.vllm_backend import VLLMChatModel, VLLMEngine

    engine = VLLMEngine.from_policy(model, tokenizer, config.rollout.vllm, seed=config.seed)
    return VLLMChatModel(engine=engine, **kwargs), engine


def _scorer(config: TrainConfig, judge: Any | None) -> Any:
    from carr_agent.rewards.scorer import CarrScorer

    if judge is None:
        if config.reward.judge == "deterministic":
            from carr_agent.rewards.judges import DeterministicJudge

            judge = DeterministicJudge()
        else:
            from carr_agent.rewards.judges import judge_from_env

            judge = judge_from_env()
    return CarrScorer(judge, config.reward.options().score)


def _assign_advantages(groups: Sequence[Sequence[Rollout]], config: TrainConfig) -> list[Sample]:
    """Fill each rollout's reward and advantage; the trainable ones become samples."""
    advantage_fn = ADVANTAGES[config.reward.advantage]
    samples: list[Sample] = []
    for group in groups:
        results = [r.result if r.result is not None else _UNKNOWN for r in group]
        rewards, advantages = advantage_fn(results, config.reward)
        for rollout, reward, adv in zip(group, rewards, advantages, strict=True):
            rollout.reward, rollout.advantage = reward, adv
        if config.reward.filter_zero_variance_groups and not any(advantages):
            continue  # no signal; left out so it does not dilute the token mean
        samples.extend(
            Sample(trajectory=r.trajectory, advantage=r.advantage)
            for r in group
            if r.trajectory is not None and r.advantage is not None
        )
    return samples


def _zero_variance_groups(groups: Sequence[Sequence[Rollout]]) -> int:
    """Groups in which no rollout has a non-zero advantage (equal rewards: no signal)."""
    return sum(not any(r.advantage for r in g) for g in groups)


def _step_record(
    step: int,
    groups: Sequence[Sequence[Rollout]],
    samples: Sequence[Sample],
    stats: UpdateStats,
    rollout_seconds: float,
    train_seconds: float,
    *,
    lr: float,
) -> dict[str, Any]:
    rollouts = [r for g in groups for r in g]
    results = [r.result for r in rollouts if r.result is not None and not r.result.unknown]
    advs = [s.advantage for s in samples]
    sampled = sum(r.sampled_tokens for r in rollouts)
    return {
        "step": step,
        "reward": mean_or_none(r.reward for r in rollouts),
        "outcome_reward": mean_or_none(x.outcome_reward for x in results),
        "rubric_reward": mean_or_none(x.rubric_reward for x in results),
        "unknown_rewards": sum(r.reward is None for r in rollouts),
        "advantage_mean": mean_or_none(advs),
        "advantage_std": statistics.pstdev(advs) if advs else None,
        "advantage_abs_max": max((abs(a) for a in advs), default=None),
        "loss": mean_or_none(stats.losses),
        "pg_loss": mean_or_none(stats.pg_losses),
        "kl": stats.kl,
        "clip_fraction": stats.clip_fraction,
        "mismatch_masked_fraction": stats.mismatch_fraction,
        "logprob_abs_diff": stats.logprob_diff,
        "grad_norm": stats.grad_norms[-1] if stats.grad_norms else None,
        "trajectories": len(rollouts),
        "trained_trajectories": len(samples),
        "token_mismatch": sum(bool(r.exclusion and r.exclusion.startswith("token_mismatch"))
                              for r in rollouts),
        "failed_rollouts": sum(bool(r.exclusion and r.exclusion.startswith("failed"))
                               for r in rollouts),
        "retokenization_mismatch": sum(r.retokenization is not None for r in rollouts),
        **{f"termination_{t}": sum(r.termination == t for r in rollouts) / len(rollouts)
           for t in TERMINATIONS},
        "zero_variance_groups": _zero_variance_groups(groups),
        "updates": stats.updates,
        "skipped_updates": stats.skipped_updates,
        "tool_calls_per_trajectory": mean_or_none(r.tool_calls for r in rollouts),
        "citations_per_trajectory": mean_or_none(r.citations for r in rollouts),
        "sampled_tokens": sampled,
        "scripted_tokens": sum(r.scripted_tokens for r in rollouts),
        "loss_tokens": int(stats.loss_tokens),
        "rollout_tokens_per_s": sampled / rollout_seconds if rollout_seconds > 0 else None,
        "train_tokens_per_s": stats.total_tokens / train_seconds if stats.total_tokens else None,
        "rollout_seconds": round(rollout_seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "lr": lr,
    }


def _write_trajectories(path: Path, groups: Sequence[Sequence[Rollout]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for group in groups:
            for r in group:
                f.write(json.dumps(r.to_record(), default=str) + "\n")
    os.replace(tmp, path)


def _summary(record: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        return "unknown" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)

    return (
        f"step {record['step']}: reward {fmt(record['reward'])} outcome {fmt(record['outcome_reward'])} "
        f"rubric {fmt(record['rubric_reward'])} loss {fmt(record['loss'])} "
        f"trained {record['trained_trajectories']}/{record['trajectories']} "
        f"mismatch {record['token_mismatch']} tools/traj {fmt(record['tool_calls_per_trajectory'])}"
    )


class _progress:
    """A rich progress bar over steps (a no-op when disabled)."""

    def __init__(self, enabled: bool, start: int, total: int) -> None:
        self.enabled, self.start, self.total = enabled, start, total
        self._bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(TextColumn("C-GRPO"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self._bar.start()
        task = self._bar.add_task("train", total=self.total, completed=self.start)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
