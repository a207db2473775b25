"""Judges for CaRR: the :class:`Judge` Protocol, the LLM judge, the deterministic judge, their
configuration (:class:`JudgeConfig`) and :func:`build_judge`."""

from __future__ import annotations

from collections.abc import Mapping

from carr_agent.rewards.judges.base import Judge, OutcomeVerdict
from carr_agent.rewards.judges.cache import JudgeCache, default_cache_path
from carr_agent.rewards.judges.config import JudgeConfig, build_judge, build_llm_judge
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.judges.llm import LLMJudge
from carr_agent.rewards.judges.prompts import PROMPT_STYLES, PromptSet

JUDGE_ENV = ("CARR_JUDGE_BASE_URL", "CARR_JUDGE_MODEL", "CARR_JUDGE_API_KEY")


def judge_from_env(task_has_gold: bool = False, *, env: Mapping[str, str] | None = None) -> Judge:
    """The judge the environment configures (:meth:`JudgeConfig.from_env`, then
    :func:`build_judge`): an LLM judge when ``CARR_JUDGE_BASE_URL``, ``CARR_JUDGE_MODEL`` and
    ``CARR_JUDGE_API_KEY`` are set, else the deterministic judge for tasks with gold entity values.

    Raises:
        ConfigError: the LLM judge is only partly configured, or none is and the tasks have no
            gold entity values.
    """
    return build_judge(JudgeConfig.from_env(env), task_has_gold=task_has_gold)


__all__ = [
    "JUDGE_ENV",
    "PROMPT_STYLES",
    "DeterministicJudge",
    "Judge",
    "JudgeCache",
    "JudgeConfig",
    "LLMJudge",
    "OutcomeVerdict",
    "PromptSet",
    "build_judge",
    "build_llm_judge",
    "default_cache_path",
    "judge_from_env",
]
