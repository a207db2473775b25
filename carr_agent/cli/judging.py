"""The judge options every judging command takes (``score``, ``serve-reward``, ``eval``), declared
once, and their translation into a :class:`~carr_agent.rewards.judges.JudgeConfig`.

Flags override the ``CARR_JUDGE_*`` environment variables, which override the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from carr_agent.rewards.judges import JudgeConfig

JudgeOption = Annotated[str, typer.Option(
    "--judge", metavar="auto|llm|deterministic",
    help="Which judge: auto (an LLM judge when one is configured, else the deterministic judge "
         "for tasks with gold entities), llm, or deterministic.",
)]
JudgeBaseUrlOption = Annotated[str | None, typer.Option(
    "--judge-base-url", metavar="URL",
    help="OpenAI-compatible endpoint of the LLM judge (default: $CARR_JUDGE_BASE_URL).",
)]
JudgeModelOption = Annotated[str | None, typer.Option(
    "--judge-model", metavar="NAME", help="Judge model name (default: $CARR_JUDGE_MODEL).",
)]
JudgeApiKeyOption = Annotated[str | None, typer.Option(
    "--judge-api-key", metavar="KEY", envvar="CARR_JUDGE_API_KEY",
    help="Judge API key (prefer the CARR_JUDGE_API_KEY variable; local servers: none needed).",
)]
JudgeCacheOption = Annotated[str | None, typer.Option(
    "--judge-cache", metavar="FILE|off",
    help="SQLite file caching judge calls, or 'off' (default: $CARR_JUDGE_CACHE, else the user "
         "cache dir).",
)]
JudgeConcurrencyOption = Annotated[int | None, typer.Option(
    "--judge-concurrency", metavar="N", min=1,
    help="Judge calls in flight at once (default: $CARR_JUDGE_CONCURRENCY, else 128).",
)]
JudgeRpmOption = Annotated[float | None, typer.Option(
    "--judge-rpm", metavar="N", min=0.001,
    help="Judge calls started per minute at most (default: $CARR_JUDGE_RPM, else no limit).",
)]
JudgeTpmOption = Annotated[float | None, typer.Option(
    "--judge-tpm", metavar="N", min=1.0,
    help="Judge tokens (prompt + completion) per minute at most (default: $CARR_JUDGE_TPM, else "
         "no limit).",
)]
JudgeTemperatureOption = Annotated[float | None, typer.Option(
    "--judge-temperature", metavar="T", min=0.0, max=2.0,
    help="Judge sampling temperature (default: none sent, the provider's default).",
)]
PromptsOption = Annotated[Path | None, typer.Option(
    "--prompts", metavar="DIR",
    help="Directory of judge prompt templates (identify_entity.txt, judge_rubric.txt, "
         "get_outcome_reward.txt; the reference server's prompts/ folder works as it is).",
)]
PromptStyleOption = Annotated[str | None, typer.Option(
    "--prompt-style", metavar="analysis|compact",
    help="Built-in judge prompts: analysis (reasoning, then the JSON; default) or compact (the "
         "JSON only: fewer output tokens).",
)]


def judge_config(
    *,
    judge: str = "auto",
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    cache: str | None = None,
    concurrency: int | None = None,
    temperature: float | None = None,
    prompts: Path | None = None,
    prompt_style: str | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
) -> JudgeConfig:
    """The judge configuration from the flags on top of the environment.

    Raises:
        ConfigError: a flag or variable is invalid, or the LLM judge is only partly given.
    """
    from carr_agent.rewards.judges import JudgeConfig

    overrides: dict[str, Any] = {
        "kind": judge, "base_url": base_url, "model": model, "api_key": api_key,
        "concurrency": concurrency, "temperature": temperature, "prompts_dir": prompts,
        "prompt_style": prompt_style, "requests_per_minute": rpm, "tokens_per_minute": tpm,
    }
    if cache is not None and cache.strip().lower() in {"off", "0", "none", "false", "no"}:
        overrides["cache_enabled"] = False
    elif cache is not None:
        overrides["cache_path"] = Path(cache).expanduser()
    if base_url is not None and api_key is None:
        overrides["api_key"] = "EMPTY"  # a judge named by flags may be a local server without auth
    return JudgeConfig.from_env(None, **overrides)
