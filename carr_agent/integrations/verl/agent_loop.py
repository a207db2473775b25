"""verl agent loop running this project's LangGraph agent token-in/token-out.

``CarrAgentLoop`` (an ``AgentLoopBase``) runs :func:`carr_agent.graph.build_agent` unchanged, with
a :class:`~carr_agent.integrations.verl.chat_model.ServerChatModel` as its chat model: each model
turn sends the prompt ids to verl's rollout servers and records the returned ids and
log-probabilities. The turns are then assembled into one sequence
(:func:`carr_agent.training.assembly.assemble_turns`): the first turn's prompt is verl's
``prompt_ids``; everything after it is ``response_ids``, with ``response_mask`` 1 on sampled tokens
and 0 on tool outputs and template glue. Nothing is re-tokenised.

The final answer and the citation ledger go to ``extra_fields`` (``carr_answer``,
``carr_ledger``); verl merges them into the ``extra_info`` that
:func:`carr_agent.integrations.verl.reward.compute_score` reads.

A rollout whose turns do not chain token for token (see :mod:`carr_agent.training.assembly`) or
whose graph run failed is returned with ``response_mask`` all 0 (no loss) and the reason in
``extra_fields["carr_exclusion"]``.

Configuration (the agent loop YAML given to ``actor_rollout_ref.rollout.agent.agent_loop_config_path``)::

    - name: carr_agent
      _target_: carr_agent.integrations.verl.agent_loop.CarrAgentLoop
      corpus: /data/corpus_index      # offline corpus (index dir or JSONL); omit with web: true
      web: false
      max_tool_calls: 100     # budgets: carr_agent.graph.config.AgentConfig (default: the paper's)
      min_tool_calls: 0
      page_budget: 10000

Rows of the dataset select it with ``agent_name: carr_agent``. ``CarrAgentLoop`` is created on
first access (module ``__getattr__``), so this module imports without verl.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from carr_agent.errors import CarrError, ConfigError
from carr_agent.graph.config import AgentConfig

__all__ = ["LoopSettings", "RolloutTokens", "run_rollout"]  # and CarrAgentLoop (lazy)

logger = logging.getLogger(__name__)


#: The paper's agent: up to 100 tool calls, never forced to call a tool.
PAPER_BUDGETS = {"max_tool_calls": 100, "min_tool_calls": 0}


def _paper_budgets() -> AgentConfig:
    return AgentConfig(**PAPER_BUDGETS)


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopSettings:
    """How each rollout runs (the agent loop YAML's extra keys).

    Attributes:
        corpus: offline corpus (index directory or JSONL); None with ``web=False``: the shipped
            example corpus.
        web: live web search and pages instead of a corpus.
        system_prompt: replaces the agent's default system prompt.
        agent: the agent's budgets (:class:`~carr_agent.graph.config.AgentConfig`); default: the
            paper's (:data:`PAPER_BUDGETS`), the project's other defaults. In YAML its fields
            (``max_tool_calls``, ``min_tool_calls``, ``max_context_tokens``, ``page_budget``)
            are given flat, beside the keys above.
    """

    corpus: str | None = None
    web: bool = False
    system_prompt: str | None = None
    agent: AgentConfig = field(default_factory=_paper_budgets)

    def __post_init__(self) -> None:
        if self.web and self.corpus:
            raise ConfigError("give either corpus or web: true, not both")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LoopSettings:
        """Settings from the YAML's flat keys.

        Raises:
            ConfigError: an unknown key, or a value the agent config rejects.
        """
        own = {"corpus", "web", "system_prompt"}
        budgets = {f.name for f in fields(AgentConfig)}
        unknown = sorted(set(values) - own - budgets)
        if unknown:
            raise ConfigError(f"unknown carr agent loop setting(s): {', '.join(unknown)}")
        agent = {k: v for k, v in values.items() if k in budgets}
        return cls(**{k: v for k, v in values.items() if k in own},
                   agent=AgentConfig(**{**PAPER_BUDGETS, **agent}))

    @staticmethod
    def keys() -> set[str]:
        """Every key :meth:`from_mapping` accepts."""
        return {"corpus", "web", "system_prompt"} | {f.name for f in fields(AgentConfig)}


@dataclass(kw_only=True)
class RolloutTokens:
    """One rollout as verl's ``AgentLoopOutput`` needs it."""

    prompt_ids: list[int]
    response_ids: list[int]
    response_mask: list[int]
    response_logprobs: list[float] | None
    num_turns: int
    extra_fields: dict[str, Any] = field(default_factory=dict)


def _question(raw_prompt: Sequence[Mapping[str, Any]], info: Mapping[str, Any]) -> str:
    if isinstance(info.get("question"), str) and info["question"]:
        return info["question"]
    env = info.get("remote_env_info")
    forbidden = env.get("search_forbidden_strs") if isinstance(env, Mapping) else None
    if isinstance(forbidden, list) and forbidden and isinstance(forbidden[0], str):
        return forbidden[0]
    for message in reversed(list(raw_prompt)):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str) and content:
                return content
    raise ConfigError("the row has no question: add extra_info.question or a user message")


def _prompt_text(raw_prompt: Sequence[Mapping[str, Any]], question: str) -> str:
    users = [m.get("content") for m in raw_prompt if isinstance(m, Mapping) and m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else question


def _excluded(turns: Sequence[Any], reason: str, extra: dict[str, Any]) -> RolloutTokens:
    first = turns[0] if turns else None
    prompt = list(first.prompt_ids) if first is not None else []
    response = list(first.completion_ids) if first is not None else []
    extra["carr_exclusion"] = reason
    return RolloutTokens(prompt_ids=prompt, response_ids=response, response_mask=[0] * len(response),
                         response_logprobs=None, num_turns=len(turns), extra_fields=extra)


async def run_rollout(
    *,
    server: Any,
    tokenizer: Any,
    sampling_params: Mapping[str, Any],
    raw_prompt: Sequence[Mapping[str, Any]],
    extra_info: Mapping[str, Any] | None,
    settings: LoopSettings,
    backends: tuple[Any, Any],
    response_length: int | None = None,
) -> RolloutTokens:
    """Run the agent graph once over ``server`` and return its token sequence.

    Args:
        server: verl's server manager (``async generate(request_id, *, prompt_ids, sampling_params)``).
        tokenizer: the policy's tokenizer (with its chat template).
        sampling_params: verl's sampling parameters (temperature, top_p, ``logprobs``...).
        raw_prompt: the dataset row's chat messages.
        extra_info: the row's ``extra_info`` (question, ``remote_env_info``...).
        settings: see :class:`LoopSettings`.
        backends: ``(search, fetcher)`` for the graph's tools.
        response_length: verl's ``rollout.response_length``: longer responses are cut.
    """
    from langchain_core.messages import HumanMessage

    from carr_agent.graph.builder import build_agent
    from carr_agent.integrations.verl.chat_model import RemotePolicy, ServerChatModel
    from carr_agent.models.recording import TurnRecorder
    from carr_agent.training.assembly import assemble_turns

    info = dict(extra_info or {})
    question = _question(raw_prompt, info)
    env = info.get("remote_env_info")
    forbidden = env.get("search_forbidden_strs") if isinstance(env, Mapping) else None
    recorder = TurnRecorder()
    model = ServerChatModel(
        model=RemotePolicy(), tokenizer=tokenizer, server=server, loop=asyncio.get_running_loop(),
        request_id=uuid.uuid4().hex, sampling_params=dict(sampling_params),
        temperature=float(sampling_params.get("temperature", 1.0)), recorder=recorder,
    )
    search, fetcher = backends
    graph = build_agent(
        model, search=search, fetcher=fetcher, config=settings.agent,
        forbidden_strs=tuple(forbidden or (question,)), system_prompt=settings.system_prompt,
    )
    extra: dict[str, Any] = {"carr_answer": "", "carr_ledger": []}
    try:
        state = await graph.ainvoke(
            {"messages": [HumanMessage(_prompt_text(raw_prompt, question))], "question": question},
            {"recursion_limit": settings.agent.recursion_limit},
        )
    except CarrError as exc:
        logger.warning("carr agent rollout failed: %s", exc)
        return _excluded(recorder.turns, f"failed: {exc}", extra)
    answer = state.get("answer") or {}
    extra["carr_answer"] = answer.get("text", "") if isinstance(answer, Mapping) else ""
    extra["carr_ledger"] = [dict(r) for r in state.get("ledger") or []]
    extra["carr_tool_calls"] = int(state.get("tool_calls") or 0)
    turns = recorder.turns
    try:
        trajectory = assemble_turns(turns)
    except CarrError as exc:
        return _excluded(turns, f"token_mismatch: {exc}", extra)
    start = len(turns[0].prompt_ids)
    limit = response_length if response_length is not None else len(trajectory.input_ids)
    response = trajectory.input_ids[start:][:limit]
    return RolloutTokens(
        prompt_ids=list(trajectory.input_ids[:start]),
        response_ids=response,
        response_mask=trajectory.loss_mask[start:][:limit],
        response_logprobs=None if model.missing_logprobs else trajectory.rollout_logprobs[start:][:limit],
        num_turns=trajectory.num_turns,
        extra_fields=extra,
    )


def _make_backends(settings: LoopSettings) -> tuple[Any, Any]:
    from carr_agent.cli.common import make_backends

    search, fetcher, _ = make_backends(settings.web, Path(settings.corpus) if settings.corpus else None)
    return search, fetcher


def _build_class() -> type:
    from verl.experimental.agent_loop.agent_loop import (
        AgentLoopBase,
        AgentLoopMetrics,
        AgentLoopOutput,
    )

    class CarrAgentLoop(AgentLoopBase):
        """verl agent loop running the carr_agent LangGraph deep-search agent."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            names = LoopSettings.keys()
            settings = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            super().__init__(*args, **kwargs)
            self.settings = LoopSettings.from_mapping(settings)
            self._backends: tuple[Any, Any] | None = None

        async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
            if self._backends is None:
                self._backends = _make_backends(self.settings)
            tokens = await run_rollout(
                server=self.server_manager, tokenizer=self.tokenizer,
                sampling_params=sampling_params, raw_prompt=list(kwargs.get("raw_prompt") or []),
                extra_info=kwargs.get("extra_info") or {}, settings=self.settings,
                backends=self._backends,
                response_length=int(self.rollout_config.response_length),
            )
            return AgentLoopOutput(
                prompt_ids=tokens.prompt_ids, response_ids=tokens.response_ids,
                response_mask=tokens.response_mask, response_logprobs=tokens.response_logprobs,
                num_turns=tokens.num_turns, metrics=AgentLoopMetrics(),
                extra_fields=tokens.extra_fields,
            )

    CarrAgentLoop.__module__ = __name__
    CarrAgentLoop.__qualname__ = "CarrAgentLoop"
    return CarrAgentLoop


_classes: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name == "CarrAgentLoop":
        if name not in _classes:
            _classes[name] = _build_class()
        return _classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
