"""JudgeConfig: every judge option in one place, and :func:`build_judge`, the one way to make a
judge from it.

The command line, the environment (``CARR_JUDGE_*``) and library callers all fill the same frozen
object; nothing else reads those variables. Precedence: explicit values (flags, keyword arguments)
over the environment over the defaults.

Environment variables read by :meth:`JudgeConfig.from_env`:

=========================== ==================================================================
``CARR_JUDGE_BASE_URL``     OpenAI-compatible endpoint of the LLM judge
``CARR_JUDGE_MODEL``        its model name
``CARR_JUDGE_API_KEY``      its key (any string, e.g. ``EMPTY``, for a local server)
``CARR_JUDGE_CONCURRENCY``  judge calls in flight at once
``CARR_JUDGE_RPM``          judge calls started per minute at most (unset: no limit)
``CARR_JUDGE_TPM``          judge tokens (prompt + completion) per minute at most
``CARR_JUDGE_TEMPERATURE``  sampling temperature (unset: the provider's default)
``CARR_JUDGE_PROMPTS``      a directory of prompt templates (see :class:`PromptSet`)
``CARR_JUDGE_PROMPT_STYLE`` ``analysis`` (default) or ``compact``
``CARR_JUDGE_CACHE``        SQLite judge cache file, or ``off``
=========================== ==================================================================
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from carr_agent.errors import ConfigError
from carr_agent.rewards.judges.prompts import PROMPT_STYLES, PromptSet, builtin_prompts

if TYPE_CHECKING:
    from carr_agent.rewards.judges.base import Judge

JudgeKind = Literal["auto", "llm", "deterministic"]
_OFF = {"off", "0", "none", "false", "no"}


@dataclass(frozen=True, kw_only=True)
class JudgeConfig:
    """Which judge scores rewards, and how it is called.

    Attributes:
        kind: ``auto`` (an LLM judge when one is configured, else the deterministic judge for tasks
            with gold entity values), ``llm`` or ``deterministic``.
        base_url: OpenAI-compatible endpoint of the LLM judge.
        model: the judge model's name.
        api_key: its key; None: ``EMPTY`` (local servers need none). Never shown in ``repr``.
        temperature: sampling temperature; None sends none, so the provider's default applies
            (as the reference reward server does).
        max_retries: retries after the first attempt, on a transport error or invalid output. A
            retry after invalid output shows the judge its reply and what was wrong with it.
        concurrency: judge calls in flight at once (the judge's limit, not a request cap).
        requests_per_minute: judge calls started per minute at most (None: no limit).
        tokens_per_minute: judge tokens per minute at most (prompt tokens estimated as
            characters / 4, completion tokens from the reply; None: no limit).
        timeout_s: seconds per judge call (None: the client's own limit).
        prompts_dir: a directory of prompt templates (the reference server's ``prompts/`` folder
            works unmodified); None: the built-in ``prompt_style``.
        prompt_style: ``analysis`` (reasoning, then the JSON; the default) or ``compact`` (the
            JSON only: fewer output tokens).
        cache_path: the SQLite judge cache; None: the default file in the user cache directory.
        cache_enabled: False disables the judge cache.
    """

    kind: JudgeKind = "auto"
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float | None = None
    max_retries: int = 3
    concurrency: int = 128
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    timeout_s: float | None = 180.0
    prompts_dir: Path | None = None
    prompt_style: str = "analysis"
    cache_path: Path | None = None
    cache_enabled: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("auto", "llm", "deterministic"):
            raise ConfigError(f"judge must be auto, llm or deterministic, got {self.kind!r}")
        if bool(self.base_url) != bool(self.model):
            missing = "the judge model" if self.base_url else "the judge base URL"
            raise ConfigError(f"LLM judge partly configured: give {missing} as well")
        if self.kind == "llm" and not self.base_url:
            raise ConfigError("judge 'llm' needs a base URL and a model (--judge-base-url, "
                              "--judge-model or CARR_JUDGE_BASE_URL, CARR_JUDGE_MODEL)")
        if self.temperature is not None and not (math.isfinite(self.temperature)
                                                 and 0 <= self.temperature <= 2):
            raise ConfigError(f"judge temperature must be in [0, 2], got {self.temperature}")
        if self.max_retries < 0:
            raise ConfigError(f"judge max_retries must be >= 0, got {self.max_retries}")
        if self.concurrency < 1:
            raise ConfigError(f"judge concurrency must be >= 1, got {self.concurrency}")
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"judge {name} must be > 0, got {value}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ConfigError(f"judge timeout must be > 0 seconds, got {self.timeout_s}")
        if self.prompt_style not in PROMPT_STYLES:
            raise ConfigError(f"unknown prompt style {self.prompt_style!r}; "
                              f"choose one of {', '.join(PROMPT_STYLES)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> JudgeConfig:
        """The configuration the environment gives, with ``overrides`` (None values ignored) on top.

        Raises:
            ConfigError: a variable is malformed, or the LLM judge is only partly configured.
        """
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        values: dict[str, Any] = {
            "base_url": get("CARR_JUDGE_BASE_URL"),
            "model": get("CARR_JUDGE_MODEL"),
            "api_key": get("CARR_JUDGE_API_KEY"),
            "concurrency": _number(get("CARR_JUDGE_CONCURRENCY"), int, "CARR_JUDGE_CONCURRENCY"),
            "temperature": _number(get("CARR_JUDGE_TEMPERATURE"), float, "CARR_JUDGE_TEMPERATURE"),
            "requests_per_minute": _number(get("CARR_JUDGE_RPM"), float, "CARR_JUDGE_RPM"),
            "tokens_per_minute": _number(get("CARR_JUDGE_TPM"), float, "CARR_JUDGE_TPM"),
            "prompt_style": get("CARR_JUDGE_PROMPT_STYLE"),
            "prompts_dir": Path(p).expanduser() if (p := get("CARR_JUDGE_PROMPTS")) else None,
        }
        cache = get("CARR_JUDGE_CACHE")
        if cache is not None and cache.lower() in _OFF:
            values["cache_enabled"] = False
        elif cache is not None:
            values["cache_path"] = Path(cache).expanduser()
        if values["base_url"] and values["model"] and not values["api_key"] and not overrides.get("api_key"):
            # the environment names a judge: its key must be named too (any string for none)
            raise ConfigError("LLM judge partly configured: set CARR_JUDGE_API_KEY as well "
                              "(any string, e.g. EMPTY, for a local server)")
        values.update(overrides)
        return cls(**{k: v for k, v in values.items() if v is not None})

    def replace(self, **changes: Any) -> JudgeConfig:
        """A copy with the given fields changed; None values leave a field as it is."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def has_llm(self) -> bool:
        """Whether an LLM judge is configured."""
        return bool(self.base_url and self.model) and self.kind != "deterministic"

    def prompts(self) -> PromptSet:
        """The prompt templates this configuration selects."""
        if self.prompts_dir is not None:
            return PromptSet.from_dir(self.prompts_dir, fallback=self.prompt_style)
        return builtin_prompts(self.prompt_style)

    def describe(self) -> str:
        """A short label for logs and result records (never the key)."""
        if not self.has_llm:
            return "deterministic"
        return f"llm:{self.model}@{self.base_url}"

    def resolved_cache_path(self) -> Path | None:
        """The judge cache file, or None when caching is off."""
        if not self.cache_enabled:
            return None
        if self.cache_path is not None:
            return self.cache_path
        from carr_agent.rewards.judges.cache import default_cache_path

        return default_cache_path()


def build_judge(config: JudgeConfig, *, task_has_gold: bool = False) -> Judge:
    """The judge ``config`` selects.

    ``auto``: the LLM judge when one is configured, else the deterministic judge when the tasks
    carry gold entity values. Raises :class:`ConfigError` when no judge fits.
    """
    from carr_agent.rewards.judges.deterministic import DeterministicJudge

    if config.kind == "deterministic":
        return DeterministicJudge()
    if config.has_llm:
        return build_llm_judge(config)
    if task_has_gold:
        return DeterministicJudge()
    raise ConfigError(
        "no judge available: give an OpenAI-compatible judge (--judge-base-url and --judge-model, "
        "or CARR_JUDGE_BASE_URL, CARR_JUDGE_MODEL and CARR_JUDGE_API_KEY); tasks without gold "
        "entity values need an LLM judge"
    )


def build_llm_judge(config: JudgeConfig) -> Judge:
    """The LLM judge over the configured OpenAI-compatible endpoint."""
    if not config.has_llm or config.base_url is None or config.model is None:
        raise ConfigError("no LLM judge configured (base URL and model)")
    from carr_agent.rewards.judges.cache import JudgeCache
    from carr_agent.rewards.judges.llm import LLMJudge
    from carr_agent.rewards.judges.openai_http import JudgeLimits, OpenAIChatClient

    # the lean client: a judge call costs ~0.2 ms of CPU instead of ~5 ms through ChatOpenAI
    model = OpenAIChatClient(
        base_url=config.base_url, model=config.model, api_key=config.api_key or "EMPTY",
        temperature=config.temperature, timeout_s=config.timeout_s or 180.0,
        limits=JudgeLimits(max_in_flight=config.concurrency,
                           requests_per_minute=config.requests_per_minute,
                           tokens_per_minute=config.tokens_per_minute),
    )
    path = config.resolved_cache_path()
    return LLMJudge(model, cache=JudgeCache(path) if path else None, concurrency=config.concurrency,
                    max_retries=config.max_retries, timeout=config.timeout_s,
                    model_id=config.model, prompts=config.prompts())


def _number(text: str | None, kind: type[int] | type[float], name: str) -> Any:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {text!r}") from exc
