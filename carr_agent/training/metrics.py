"""Per-step metrics as JSONL, and a PNG of the training curves rewritten after every step.

``metrics.jsonl`` holds one JSON object per finished step (see :data:`STEP_FIELDS`). Unknown
values (every reward of a step unknown, no loss tokens) are ``null``, never 0. On resume the file
is cut back to the resumed checkpoint's step so a step that ran but was not checkpointed is not
listed twice.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["STEP_FIELDS", "MetricsLog", "mean_or_none", "plot_curves"]

#: The fields of a step record, in order, with what they mean.
STEP_FIELDS: dict[str, str] = {
    "step": "C-GRPO step number (1-based)",
    "reward": "mean C-GRPO reward R_i over known rollouts",
    "outcome_reward": "mean outcome reward R_o over known rollouts",
    "rubric_reward": "mean rubric reward R_r over known rollouts",
    "unknown_rewards": "rollouts whose reward is unknown (judge failed): left out of the loss",
    "advantage_mean": "mean advantage over trained rollouts",
    "advantage_std": "standard deviation of the advantages",
    "advantage_abs_max": "largest |advantage|",
    "loss": "mean optimiser-update loss",
    "pg_loss": "policy-gradient part of the loss",
    "kl": "mean k3 KL to the reference policy per loss token (null without one)",
    "clip_fraction": "fraction of freely sampled loss tokens whose ratio was clipped "
                     "(teacher-forced tokens left out; null when none were sampled)",
    "mismatch_masked_fraction": "fraction of freely sampled tokens rejected by the rollout/trainer "
                                "mismatch window (teacher-forced tokens left out)",
    "logprob_abs_diff": "mean |trainer - rollout| log-probability of the freely sampled tokens "
                        "(nats; rollout/trainer agreement)",
    "grad_norm": "global gradient norm before clipping (last update)",
    "trajectories": "rollouts generated this step",
    "trained_trajectories": "rollouts that contributed to the loss",
    "token_mismatch": "rollouts excluded because their turns do not extend each other "
                      "(a history rewritten by the graph)",
    "failed_rollouts": "rollouts whose graph run raised (excluded)",
    "retokenization_mismatch": "diagnostic only: rollouts whose final transcript re-tokenises to "
                               "other ids than the sampled ones (still trained: token-in/token-out)",
    **{f"termination_{t}": f"fraction of rollouts that ended as {t!r} (see rollout.TERMINATIONS)"
       for t in ("answered", "tool_budget", "context_budget", "time_budget", "ill_formed", "error")},
    "zero_variance_groups": "groups whose rewards were all equal (every advantage 0)",
    "updates": "optimiser updates made this step",
    "skipped_updates": "optimiser updates skipped because every advantage was 0",
    "tool_calls_per_trajectory": "mean tool calls per rollout",
    "citations_per_trajectory": "mean citations in the final answer per rollout",
    "sampled_tokens": "tokens the policy sampled freely in the step's rollouts",
    "scripted_tokens": "teacher-forced completion tokens (scripts): trained, but not sampling, "
                       "so never evidence of learning",
    "loss_tokens": "tokens in the loss after masking",
    "rollout_tokens_per_s": "sampled tokens per second of rollout wall time",
    "train_tokens_per_s": "trajectory tokens (prompt + completion) per second of update wall time",
    "rollout_seconds": "wall time of rollouts and scoring",
    "train_seconds": "wall time of the update",
    "lr": "learning rate",
}


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """Mean of the known values; None when there are none."""
    known = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return sum(known) / len(known) if known else None


class MetricsLog:
    """Append-only ``metrics.jsonl`` of a run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        """Every record written so far (an unreadable trailing line from a crash is skipped)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after ``step`` (they were not checkpointed and will re-run)."""
        kept = [r for r in self.read() if int(r.get("step", 0)) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def append(self, record: dict[str, Any]) -> None:
        """Write one step record and flush it to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())


_PANELS: Sequence[tuple[str, Sequence[str]]] = (
    ("reward", ("reward", "outcome_reward", "rubric_reward")),
    ("loss", ("loss", "pg_loss")),
    ("clip / mismatch", ("clip_fraction", "mismatch_masked_fraction")),
    ("KL", ("kl",)),
    ("tools per trajectory", ("tool_calls_per_trajectory", "citations_per_trajectory")),
    ("tokens / s", ("rollout_tokens_per_s", "train_tokens_per_s")),
)


def plot_curves(records: Sequence[dict[str, Any]], path: Path) -> None:
    """Draw the training curves to a PNG (matplotlib Agg; written atomically)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    steps = [r["step"] for r in records]
    for ax, (title, keys) in zip(axes.flat, _PANELS, strict=True):
        for key in keys:
            ys = [r.get(key) for r in records]
            pts = [(s, y) for s, y in zip(steps, ys, strict=True) if y is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
