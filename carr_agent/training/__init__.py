"""C-GRPO training of the carr_agent LangGraph agent (see ``loop.py`` for the algorithm).

Modules: ``config`` (validated run configuration), ``rollout`` (rollouts through the real graph,
recorded at token level, scored with CaRR), ``assembly`` (one token sequence + loss mask per
trajectory), ``losses`` (advantage and loss registries), ``update`` (the optimiser step),
``checkpoint``, ``metrics``, ``loop`` (``train``), ``vllm_backend`` (optional GPU rollouts).

Importing this package loads nothing heavy; ``train`` and ``load_config`` are imported lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainConfig", "load_config", "train"]


def __getattr__(name: str) -> Any:
    if name in ("TrainConfig", "load_config"):
        from carr_agent.training import config

        return getattr(config, name)
    if name == "train":
        from carr_agent.training.loop import train

        return train
    raise AttributeError(name)
