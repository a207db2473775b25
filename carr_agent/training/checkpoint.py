"""Atomic training checkpoints: policy weights, optimiser, RNG states, step and data cursor.

Layout of a run directory::

    <output_dir>/checkpoints/step-000002/
        policy/          save_pretrained() of the model and tokenizer
        trainer.pt       optimiser state, RNG states (python, torch CPU, CUDA), data cursor
        meta.json        {"step": 2, "config": {...}} — written last
    <output_dir>/checkpoints/latest   the name of the newest complete checkpoint

A checkpoint is written into a temporary sibling directory and renamed into place only when
complete, then ``latest`` is replaced atomically; a crash at any moment leaves either the old or
the new checkpoint, never a half-written one that resume would pick up.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carr_agent.errors import TrainingError

__all__ = [
    "CheckpointState",
    "latest_checkpoint",
    "load_trainer_state",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]

logger = logging.getLogger(__name__)

_PREFIX = "step-"


@dataclass(frozen=True, kw_only=True)
class CheckpointState:
    """What resume needs besides the weights.

    Attributes:
        step: The last finished step.
        cursor: The task sampler's state (``TaskSampler.state()``).
        optimizer: The optimiser's ``state_dict()``.
        rng: RNG states (:func:`rng_state`).
        path: The checkpoint directory (its ``policy/`` holds the weights).
    """

    step: int
    cursor: dict[str, Any]
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    path: Path


def rng_state() -> dict[str, Any]:
    """Every RNG the loop draws from: python's, torch's CPU and (when present) CUDA generators."""
    import torch

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    import torch

    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    run_dir: Path,
    *,
    step: int,
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    cursor: dict[str, Any],
    config: dict[str, Any],
    keep: int,
) -> Path:
    """Write a complete checkpoint for ``step`` atomically and prune old ones.

    Returns:
        The checkpoint directory.
    """
    import torch

    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{step:06d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save_pretrained(tmp / "policy")
    tokenizer.save_pretrained(tmp / "policy")
    torch.save(
        {"step": step, "cursor": cursor, "optimizer": optimizer.state_dict(), "rng": rng_state()},
        tmp / "trainer.pt",
    )
    (tmp / "meta.json").write_text(json.dumps({"step": step, "config": config}, indent=2))
    _fsync_dir(tmp)
    if final.exists():  # a re-run of the same step after a crash between rename and `latest`
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer_tmp = root / f".latest-{os.getpid()}"
    pointer_tmp.write_text(final.name)
    os.replace(pointer_tmp, root / "latest")
    _fsync_dir(root)
    _prune(root, keep)
    logger.debug("checkpoint written: %s", final)
    return final


def _complete_checkpoints(root: Path) -> list[Path]:
    found = [p for p in root.glob(f"{_PREFIX}*") if p.is_dir() and (p / "meta.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]))


def _prune(root: Path, keep: int) -> None:
    for old in _complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None when there is none."""
    root = run_dir / "checkpoints"
    pointer = root / "latest"
    if pointer.is_file():
        candidate = root / pointer.read_text().strip()
        if (candidate / "meta.json").is_file():
            return candidate
    complete = _complete_checkpoints(root) if root.is_dir() else []
    return complete[-1] if complete else None


def load_trainer_state(path: Path) -> CheckpointState:
    """Read a checkpoint's trainer state (the weights are loaded from ``path / "policy"``).

    Raises:
        TrainingError: The checkpoint is missing or unreadable.
    """
    import torch

    try:
        data = torch.load(path / "trainer.pt", map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise TrainingError(f"checkpoint {path} cannot be read: {exc}") from exc
    return CheckpointState(
        step=int(data["step"]),
        cursor=dict(data["cursor"]),
        optimizer=data["optimizer"],
        rng=data["rng"],
        path=path,
    )
