"""verl's custom reward function: ``async compute_score(...) -> dict``.

verl's reward managers call ``compute_score(data_source=, solution_str=, ground_truth=,
extra_info=, **reward_kwargs)`` once per rollout and put every key of the returned dict in
``reward_extra_info`` (logged and kept in the batch). The dict is::

    {"score": (1 − α)·R_o + α·R_r,          # NaN when unknown
     "outcome_reward": R_o, "rubric_reward": R_r,   # NaN when unknown
     "unknown": 0.0 | 1.0, "error": "" | reason}

``score`` is the per-rollout CaRR reward (the reward server's ``reward``); with
``algorithm.adv_estimator=cgrpo`` the estimator reads R_o and R_r back from it (see
:mod:`carr_agent.integrations.verl.advantage`) and combines each group the paper's way.

What the rollout must carry (``extra_info`` of the dataset row, merged by verl with the agent
loop's ``extra_fields``):

* the task: ``remote_env_info`` (``search_forbidden_strs``, ``rubrics``, optional ``entities``) or
  ``question`` + ``rubrics`` (+ ``entities``); the gold answer is verl's ``ground_truth``;
* the trajectory: ``carr_answer`` and ``carr_ledger`` (what :mod:`~carr_agent.integrations.verl.agent_loop`
  records), or a reference-format ``history``; otherwise ``solution_str`` is the answer and there is
  no evidence (every citation unsupported).

Unknown, verl's way: verl has no "unknown" reward, so ``score`` is NaN: the ``cgrpo`` estimator
leaves NaN rollouts out of their group's statistics and gives them advantage 0 (no gradient).
Do not use this reward with verl's built-in ``grpo`` estimator, which would spread the NaN over the
group: use ``cgrpo`` (with ``CARR_CGRPO_ALPHA=0`` for outcome-only GRPO).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from carr_agent.errors import CarrError, ConfigError
from carr_agent.integrations.common import group_options_from, load_scorer, scoring_alpha
from carr_agent.rewards.cgrpo import GroupOptions
from carr_agent.types import RewardResult

if TYPE_CHECKING:
    from carr_agent.rewards.scorer import CarrScorer

__all__ = ["ENV_PREFIX", "compute_score", "options_from_env", "score_dict"]

logger = logging.getLogger(__name__)

#: Prefix of the environment variables holding the C-GRPO options.
ENV_PREFIX = "CARR_CGRPO_"
_scorers: dict[tuple[str, bool], CarrScorer] = {}


def options_from_env(env: Mapping[str, str] | None = None) -> GroupOptions:
    """The C-GRPO options of this verl run (``CARR_CGRPO_*``), with α < 0.5 enforced.

    Raises:
        ConfigError: a bad value, or α ≥ 0.5 (the score could not be decoded by the estimator).
    """
    options = group_options_from(os.environ if env is None else env, prefix=ENV_PREFIX)
    if options.alpha >= 0.5:
        raise ConfigError(
            f"{ENV_PREFIX}ALPHA must be < 0.5 with verl (got {options.alpha}): the cgrpo estimator "
            "reads R_o and R_r back from the per-rollout score, which is unique only for α < 0.5"
        )
    return options


def score_dict(result: RewardResult, alpha: float) -> dict[str, Any]:
    """The dict verl receives for one scored rollout (NaN for unknown parts)."""
    nan = float("nan")
    outcome = nan if result.outcome_reward is None else float(result.outcome_reward)
    rubric = nan if result.rubric_reward is None else float(result.rubric_reward)
    score = outcome if alpha <= 0 else (1 - alpha) * outcome + alpha * rubric
    unknown = math.isnan(score)
    return {
        "score": score,
        "outcome_reward": outcome,
        "rubric_reward": rubric,
        "unknown": 1.0 if unknown else 0.0,
        "error": "; ".join(result.errors) if unknown else "",
    }


def _scorer(factory: str | None, connectivity: bool) -> CarrScorer:
    from carr_agent.rewards.judges.deterministic import DeterministicJudge
    from carr_agent.rewards.scorer import CarrScorer, ScoreOptions

    key = (factory or "", connectivity)
    scorer = _scorers.get(key)
    if scorer is None:
        loaded = load_scorer(factory)
        judge = loaded.judge if loaded is not None else DeterministicJudge()
        base = loaded.options if loaded is not None else ScoreOptions()
        scorer = CarrScorer(judge, replace(base, connectivity=connectivity))
        _scorers[key] = scorer
    return scorer


async def _score(
    scorer: CarrScorer, solution_str: str, ground_truth: Any, info: Mapping[str, Any], alpha: float
) -> RewardResult:
    from carr_agent.rewards.run import Trajectory, ledger_records_in, read_history
    from carr_agent.rewards.trl import task_for

    columns = {key: [value] for key, value in info.items()}
    columns["label"] = [ground_truth]
    task = task_for(None, columns, 0)
    if info.get("history") is not None:
        trajectory = read_history(info["history"])
    else:
        answer = info.get("carr_answer")
        answer = answer if isinstance(answer, str) else solution_str
        ledger = ledger_records_in(info.get("carr_ledger") or [])
        trajectory = Trajectory(answer if answer.strip() else None, tuple(ledger))
    from carr_agent.rewards.scorer import score_trajectory

    return await score_trajectory(scorer, task, trajectory, alpha=alpha)


async def compute_score(
    data_source: str | None = None,
    solution_str: str = "",
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    *,
    scorer_factory: str | None = None,
    options: GroupOptions | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl ``custom_reward_function``: the CaRR score of one rollout as a dict.

    Args:
        data_source, solution_str, ground_truth, extra_info: what verl passes.
        scorer_factory: ``reward_kwargs.scorer_factory``: dotted path of a zero-argument function
            returning a ``CarrScorer`` (default: the ``CARR_JUDGE_*`` LLM judge, else the
            deterministic judge for tasks with gold entities).
        options: C-GRPO options (default: :func:`options_from_env`); ``connectivity=False``
            scores the no-connectivity ablation.
        **kwargs: other arguments verl may pass (ignored).
    """
    o = options or options_from_env()
    alpha = scoring_alpha(o)
    info = dict(extra_info or {})
    try:
        result = await _score(_scorer(scorer_factory, o.connectivity), solution_str, ground_truth,
                              info, alpha)
    except CarrError as exc:
        logger.warning("verl rollout not scored: %s", exc)
        result = RewardResult(None, None, None, errors=(f"{type(exc).__name__}: {exc}",))
    return score_dict(result, alpha)
