"""CaRR and C-GRPO for verl (volcengine/verl): reward function, advantage estimator, agent loop.

* :func:`carr_agent.integrations.verl.reward.compute_score`: async, returns a dict (``score``
  plus the outcome and rubric parts); point ``reward.custom_reward_function.path`` at a file that
  imports it (``examples/verl/carr_reward.py``).
* :mod:`carr_agent.integrations.verl.advantage`: the estimator, registered as ``cgrpo`` in verl's
  registry by :func:`register` (run in every Ray worker by :func:`setup_worker`, given to Ray as
  ``runtime_env.worker_process_setup_hook``).
* :mod:`carr_agent.integrations.verl.agent_loop`: ``CarrAgentLoop``, an ``AgentLoopBase`` that runs
  this project's LangGraph agent token-in/token-out over verl's rollout servers.

Options (one source for the reward function and the estimator, so they always agree): the
environment variables ``CARR_CGRPO_ALPHA`` (0.3; must be < 0.5, see
:mod:`~carr_agent.integrations.verl.advantage`), ``CARR_CGRPO_NORMALIZE`` (true),
``CARR_CGRPO_RUBRIC_FOR`` (positive), ``CARR_CGRPO_CONNECTIVITY`` (true). Pass them to every
worker with ``+ray_kwargs.ray_init.runtime_env.env_vars.CARR_CGRPO_ALPHA=0.3`` etc.

Nothing here imports verl, Ray or torch at import time.
"""

from __future__ import annotations

from carr_agent.integrations.verl.advantage import register, setup_worker
from carr_agent.integrations.verl.reward import compute_score

__all__ = ["compute_score", "register", "setup_worker"]
