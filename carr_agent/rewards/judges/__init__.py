"""Judges for CaRR: the :class:`Judge` Protocol, the LLM judge, the deterministic judge, and
:func:`judge_from_env` to pick one from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from carr_agent.errors import ConfigError
from carr_agent.rewards.judges.base import Judge, OutcomeVerdict
from carr_agent.rewards.judges.cache import JudgeCache
from carr_agent.rewards.judges.deterministic import DeterministicJudge
from carr_agent.rewards.judges.llm import LLMJudge

JUDGE_ENV = ("CARR_JUDGE_BASE_URL", "CARR_JUDGE_MODEL", "CARR_JUDGE_API_KEY")


def default_cache_path(env: Mapping[str, str] | None = None) -> Path:
    """``$CARR_JUDGE_CACHE``, else ``judge-cache.sqlite`` in the carr_agent cache directory
    (``$CARR_AGENT_CACHE`` or the platform's user cache dir)."""
    env = os.environ if env is None else env
    if env.get("CARR_JUDGE_CACHE"):
        return Path(env["CARR_JUDGE_CACHE"]).expanduser()
    if env.get("CARR_AGENT_CACHE"):
        return Path(env["CARR_AGENT_CACHE"]).expanduser() / "judge-cache.sqlite"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("carr-agent")) / "judge-cache.sqlite"


def judge_from_env(task_has_gold: bool = False, *, env: Mapping[str, str] | None = None) -> Judge:
    """The judge the environment configures.

    ``CARR_JUDGE_BASE_URL``, ``CARR_JUDGE_MODEL`` and ``CARR_JUDGE_API_KEY`` (all three; use any
    string such as ``EMPTY`` for a local server without auth) give an :class:`LLMJudge` over
    ``ChatOpenAI(..., use_responses_api=False, temperature=0)`` with the persistent cache at
    :func:`default_cache_path` (``CARR_JUDGE_CACHE=off`` disables it) and
    ``CARR_JUDGE_CONCURRENCY`` calls at once (default 8). Without them, tasks with gold entity
    values get the :class:`DeterministicJudge`.

    Raises:
        ConfigError: only some of the three variables are set, or none are and the tasks have no
            gold entity values.
    """
    env = os.environ if env is None else env
    present = {name: env.get(name, "").strip() for name in JUDGE_ENV}
    if all(present.values()):
        return _llm_judge_from(present, env)
    if any(present.values()):
        missing = [name for name, value in present.items() if not value]
        raise ConfigError(f"LLM judge partly configured: set {', '.join(missing)} as well")
    if task_has_gold:
        return DeterministicJudge()
    raise ConfigError(
        "no judge available: set CARR_JUDGE_BASE_URL, CARR_JUDGE_MODEL and CARR_JUDGE_API_KEY for "
        "an OpenAI-compatible judge (tasks without gold entity values need an LLM judge)"
    )


def _llm_judge_from(values: Mapping[str, str], env: Mapping[str, str]) -> LLMJudge:
    from langchain_openai import ChatOpenAI

    try:
        concurrency = int(env.get("CARR_JUDGE_CONCURRENCY", "8"))
    except ValueError as exc:
        raise ConfigError("CARR_JUDGE_CONCURRENCY must be an integer") from exc
    model = ChatOpenAI(
        base_url=values["CARR_JUDGE_BASE_URL"], model=values["CARR_JUDGE_MODEL"],
        api_key=values["CARR_JUDGE_API_KEY"], use_responses_api=False, temperature=0,
        max_retries=0,  # LLMJudge retries (one retry policy, not two stacked)
    )
    off = env.get("CARR_JUDGE_CACHE", "").strip().lower() in {"off", "0", "none", "false"}
    cache = None if off else JudgeCache(default_cache_path(env))
    return LLMJudge(model, cache=cache, concurrency=concurrency)


__all__ = [
    "DeterministicJudge",
    "Judge",
    "JudgeCache",
    "LLMJudge",
    "OutcomeVerdict",
    "default_cache_path",
    "judge_from_env",
]
