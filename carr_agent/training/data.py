"""Training data plumbing: task order with a checkpointable cursor, corpus index, scripts.

The task sampler is deterministic given the seed: epoch ``e`` visits the tasks in the order of a
permutation drawn from ``Random(seed + e)``; its state is just ``{"epoch", "index"}``, so resume
continues with exactly the questions an uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

from carr_agent.errors import ConfigError, DataError
from carr_agent.types import Task

__all__ = ["Scripts", "TaskSampler", "load_scripts", "open_corpus", "resolve_tasks", "scripts_for"]

#: Teacher-forced completions: per task id (or ``"*"`` for any task), one list of completion
#: texts per rollout slot; ``null`` for a slot that samples.
Scripts = Mapping[str, Sequence[Sequence[str] | None]]


class TaskSampler:
    """Yields batches of tasks, epoch after epoch, from a seeded order."""

    def __init__(self, tasks: Sequence[Task], *, seed: int, shuffle: bool) -> None:
        if not tasks:
            raise DataError("no training tasks")
        self.tasks = list(tasks)
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.index = 0

    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self.tasks)))
        if self.shuffle:
            random.Random(self.seed + epoch).shuffle(order)
        return order

    def next_batch(self, n: int) -> list[Task]:
        """The next ``n`` tasks (wrapping into the next epoch as needed)."""
        out: list[Task] = []
        while len(out) < n:
            order = self._order(self.epoch)
            out.append(self.tasks[order[self.index]])
            self.index += 1
            if self.index >= len(order):
                self.epoch, self.index = self.epoch + 1, 0
        return out

    def state(self) -> dict[str, int]:
        """The cursor (stored in checkpoints)."""
        return {"epoch": self.epoch, "index": self.index, "num_tasks": len(self.tasks)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore a cursor saved by :meth:`state`."""
        if int(state.get("num_tasks", len(self.tasks))) != len(self.tasks):
            raise DataError(
                f"the checkpoint's data cursor is for {state.get('num_tasks')} tasks, the task file "
                f"now has {len(self.tasks)}; resume with the same tasks"
            )
        self.epoch, self.index = int(state["epoch"]), int(state["index"])


def resolve_tasks(spec: str, *, limit: int = 0) -> list[Task]:
    """Load ``data.tasks``: a path, or ``example:dev`` / ``example:all``."""
    from carr_agent.task_files import load_tasks

    if spec.startswith("example:"):
        from carr_agent.data import example_tasks_path

        split = cast(Literal["all", "dev"], spec.split(":", 1)[1])  # checked by the callee
        path = Path(example_tasks_path(split))
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ConfigError(f"data.tasks: file not found: {path}")
    tasks = load_tasks(path)
    return tasks[:limit] if limit else tasks


def open_corpus(spec: str, index_dir: Path | None) -> Any:
    """Open the search/fetch backend of ``data.corpus`` (a JSONL file or ``"example"``).

    Without ``index_dir`` the index is the shared cached one of that file
    (:func:`carr_agent.tools.corpus.default_corpus`: built once per machine, keyed by the file's
    sha256); with it, an index there is reused or built.
    """
    from carr_agent.tools.corpus import CorpusIndex, default_corpus

    if spec == "example":
        from carr_agent.data import example_corpus_path

        source = Path(example_corpus_path())
    else:
        source = Path(spec).expanduser()
    if not source.is_file():
        raise ConfigError(f"data.corpus: file not found: {source}")
    if index_dir is None:
        return default_corpus(source)
    if index_dir.is_dir() and any(index_dir.iterdir()):
        return CorpusIndex.open(index_dir)
    return CorpusIndex.build(source, index_dir)


def load_scripts(path: str | Path) -> Scripts:
    """Read a scripts file (see :data:`Scripts`): a JSON object, or a list used for every task."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"rollout.scripts: cannot read {path}: {exc}") from exc
    if isinstance(data, list):
        data = {"*": data}
    if not isinstance(data, dict):
        raise ConfigError(f"rollout.scripts: {path} must hold a JSON object or list")
    for key, slots in data.items():
        if not isinstance(slots, list) or not all(
            s is None or (isinstance(s, list) and all(isinstance(t, str) for t in s)) for s in slots
        ):
            raise ConfigError(
                f"rollout.scripts[{key!r}]: must be a list (one per rollout slot) of lists of "
                "completion strings or null"
            )
    return data


def scripts_for(scripts: Scripts | None, task: Task, group_size: int) -> list[Sequence[str] | None] | None:
    """The per-slot scripts of one task (None: every slot samples)."""
    if not scripts:
        return None
    slots = scripts.get(task.id, scripts.get("*"))
    if slots is None:
        return None
    if len(slots) != group_size:
        raise ConfigError(
            f"rollout.scripts[{task.id!r}]: {len(slots)} slots, but rollout.group_size is {group_size}"
        )
    return list(slots)
