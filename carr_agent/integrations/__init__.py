"""Adapters that give existing RL engines the CaRR reward and C-GRPO, without a fork.

* :mod:`carr_agent.integrations.slime`: a ``--custom-rm-path`` reward function (in process, no
  HTTP hop), the same over HTTP to ``carr-agent serve-reward``, and a
  ``--custom-reward-post-process-path`` group hook that turns each group's outcome and rubric
  rewards into C-GRPO rewards and advantages on unmodified upstream slime.
* :mod:`carr_agent.integrations.verl`: an async ``compute_score`` returning a dict, an advantage
  estimator registered as ``cgrpo``, and an agent loop (``AgentLoopBase``) that runs this
  project's LangGraph agent token-in/token-out over verl's rollout servers.
* :mod:`carr_agent.integrations.trl`: a ``GRPOTrainer`` reward function computing C-GRPO group
  rewards inside TRL's batch (groups that span processes included).

Each adapter imports without its engine installed: engine modules are imported inside the
functions that need them. Shared, engine-neutral pieces live in
:mod:`carr_agent.integrations.common`. See ``docs/scale-out.md`` for launch commands.
"""
