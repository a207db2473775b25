"""The agent's options, declared once: :class:`AgentConfig` (what a graph is built with) and
:class:`AgentContext` (what one run may change: the graph's LangGraph ``context_schema``).

The CLI (``run``, ``eval``), the evaluation runner, training rollouts and LangGraph Studio all
describe an agent with these two classes; the budgets, their validation, the default of
``min_tool_calls`` and the recursion limit they imply live here and nowhere else.

Run-time configuration::

    agent = build_agent(model)                                    # built once
    agent.invoke({"question": q}, context={"max_tool_calls": 5})  # this run: 5 tool calls
    agent.invoke({"question": q}, context={"model": "gpt-4.1-mini",
                                           "base_url": "https://api.openai.com/v1"})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from carr_agent.errors import ConfigError

#: Page characters shown to the model by ``open`` unless configured.
DEFAULT_PAGE_BUDGET = 10_000
#: Tool calls a run may make unless configured.
DEFAULT_MAX_TOOL_CALLS = 30


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """The agent's budgets and page size (validated; frozen).

    Attributes:
        max_tool_calls: tool calls allowed; each call counts, malformed and failed ones too (so a
            model stuck emitting broken calls still stops). Then the answer is demanded.
        min_tool_calls: tool calls the model must make before it may answer: until then a tool
            call is forced (a ``search`` first; small local models otherwise tend to answer from
            memory without looking anything up). ``None`` (the default) means one, or none when
            ``max_tool_calls`` is 0.
        max_context_tokens: approximate history size at which the agent must answer; ``None``
            means no limit.
        page_budget: characters of an opened page shown to the model (``find`` sees all of it).

    Raises:
        ConfigError: a value out of range, naming the field.
    """

    max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS
    min_tool_calls: int | None = None
    max_context_tokens: int | None = None
    page_budget: int = DEFAULT_PAGE_BUDGET

    def __post_init__(self) -> None:
        if not _is_int(self.max_tool_calls) or self.max_tool_calls < 0:
            raise ConfigError(f"max_tool_calls must be an integer >= 0, got {self.max_tool_calls!r}")
        if self.max_context_tokens is not None and (
            not _is_int(self.max_context_tokens) or self.max_context_tokens < 1
        ):
            raise ConfigError(
                f"max_context_tokens must be a positive integer or None, got {self.max_context_tokens!r}"
            )
        if self.min_tool_calls is None:
            object.__setattr__(self, "min_tool_calls", min(1, self.max_tool_calls))
        elif not _is_int(self.min_tool_calls) or not 0 <= self.min_tool_calls <= self.max_tool_calls:
            raise ConfigError(
                f"min_tool_calls must be an integer from 0 to max_tool_calls ({self.max_tool_calls}), "
                f"got {self.min_tool_calls!r}"
            )
        if not _is_int(self.page_budget) or self.page_budget < 1:
            raise ConfigError(f"page_budget must be an integer >= 1, got {self.page_budget!r}")

    @property
    def required_tool_calls(self) -> int:
        """``min_tool_calls`` with its default resolved."""
        return int(self.min_tool_calls or 0)

    @property
    def recursion_limit(self) -> int:
        """Supersteps a run may take: two per tool round (model, tools; every round spends at
        least one tool call), plus the forced answer, finalize and some slack."""
        return 2 * self.max_tool_calls + 8

    def with_context(self, context: AgentContext | Mapping[str, Any] | None) -> AgentConfig:
        """This configuration with a run's overrides applied (``None`` fields keep this value)."""
        if context is None:
            return self
        ctx = context if isinstance(context, AgentContext) else AgentContext.from_mapping(context)
        changes = {f.name: getattr(ctx, f.name) for f in fields(AgentConfig)
                   if getattr(ctx, f.name) is not None}
        if not changes:
            return self
        if "max_tool_calls" in changes and "min_tool_calls" not in changes:
            changes["min_tool_calls"] = min(self.required_tool_calls, changes["max_tool_calls"])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields (for run records)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class AgentContext:
    """What one run may change (the graph's ``context_schema``); ``None`` keeps the graph's value.

    Attributes:
        model: the chat model for this run: a local model name, a model on ``base_url``, or
            ``scripted:PATH.json`` (see :func:`carr_agent.models.chat_model_from_spec`).
        base_url: OpenAI-compatible endpoint serving ``model``.
        api_key_env: environment variable holding that endpoint's key.
        search: the search backend: ``"web"`` (DuckDuckGo and live pages), ``"corpus"`` (the
            shipped example corpus), or a corpus JSONL file / index directory.
        max_tool_calls, min_tool_calls, max_context_tokens, page_budget: as in
            :class:`AgentConfig`.
    """

    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    search: str | None = None
    max_tool_calls: int | None = None
    min_tool_calls: int | None = None
    max_context_tokens: int | None = None
    page_budget: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AgentContext:
        """From a dict; unknown keys are a :class:`ConfigError` naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown agent context keys {unknown}; known: {sorted(names)}")
        return cls(**dict(data))


__all__ = ["DEFAULT_MAX_TOOL_CALLS", "DEFAULT_PAGE_BUDGET", "AgentConfig", "AgentContext"]
