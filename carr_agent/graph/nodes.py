"""The nodes and routers of the deep-search agent graph.

    START → agent ─┬─(tool calls)──→ tools ─┬─(budget left)──→ agent
                   │                        └─(budget spent)─→ force_answer → finalize → END
                   └─(no tool calls)───────────────────────────────────────→ finalize → END

* :class:`ModelNode` (``agent``): one model turn with the tools bound.
* :class:`ToolsNode` (``tools``): runs the turn's tool calls in order against the browsing state
  held in graph state; every call gets a ``ToolMessage``. Tool failures become error
  observations (policy below); programming errors and LangGraph control flow propagate.
* :class:`ForceAnswerNode` (``force_answer``): a budget ran out; asks for the final answer with
  no tools bound.
* :class:`FinalizeNode` (``finalize``): parses the final answer and resolves its citations
  against the ledger.

Error policy of the tools node (what the model sees as ``ToolMessage(status="error")``):
a :class:`~carr_agent.errors.ToolError` (search/fetch failures, bad index, no open page, ...),
arguments that fail the tool's schema (pydantic ``ValidationError``), a ``ToolException`` from a
user tool, an unknown tool name, a malformed call the model's output parser could not read
(``AIMessage.invalid_tool_calls``), and calls beyond the tool-call budget. Anything else raises.

Each node is a plain object holding its configuration; ``as_runnable()`` gives the sync+async
runnable the builder adds to the graph, so the nodes can be embedded in a larger graph over a
state that extends :class:`~carr_agent.graph.state.AgentState`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool, ToolException
from pydantic import ValidationError

from carr_agent.errors import ConfigError, ToolError
from carr_agent.graph.answer import parse_answer, resolve_citations
from carr_agent.graph.budget import add_context_tokens, estimate_context_tokens
from carr_agent.graph.config import AgentConfig
from carr_agent.graph.context import RunChoices, run_context
from carr_agent.graph.prompts import (
    BUDGET_EXHAUSTED_MESSAGE,
    DEFAULT_SYSTEM_PROMPT,
    SOURCES_SEEN_HEADING,
)
from carr_agent.graph.state import (
    AgentState,
    FinishReason,
    hits_from_dicts,
    hits_to_dicts,
    page_from_dict,
    page_to_dict,
)
from carr_agent.graph.tools import BROWSER_TOOL_NAMES, SESSION_ARG, BrowsingSession, browser_tools
from carr_agent.types import LedgerRecord

logger = logging.getLogger(__name__)

#: A chat model with its tools bound: a prompt (messages) in, the model's message out.
ChatRunnable = Runnable[LanguageModelInput, AIMessage]
#: A node as LangGraph runs it: the state in, the state update out.
NodeRunnable = Runnable[AgentState, AgentState]

_LEDGER_KEYS = frozenset({"source_id", "url", "title", "kind", "step", "text", "start", "end"})


def exhausted_budget(state: AgentState, budgets: AgentConfig) -> FinishReason | None:
    """Which budget is spent, if any: the tool-call budget first, then the context budget."""
    if state.get("tool_calls", 0) >= budgets.max_tool_calls:
        return "tool_budget"
    limit = budgets.max_context_tokens
    if limit is not None and state.get("context_tokens", 0) >= limit:
        return "context_budget"
    return None


def route_after_model(state: AgentState) -> Literal["tools", "finalize"]:
    """To the tools when the last model turn called any (well-formed or not), else finalize."""
    last = state["messages"][-1] if state.get("messages") else None
    if isinstance(last, AIMessage) and (last.tool_calls or last.invalid_tool_calls):
        return "tools"
    return "finalize"


@dataclass(frozen=True)
class BudgetRouter:
    """Router after the tools: back to the model while budgets last, else force the answer."""

    choices: RunChoices

    def __call__(self, state: AgentState) -> Literal["agent", "force_answer"]:
        budgets = self.choices.config(run_context())
        return "force_answer" if exhausted_budget(state, budgets) else "agent"


def _prompt(system_prompt: str, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    if messages and isinstance(messages[0], SystemMessage):
        return list(messages)
    return [SystemMessage(system_prompt), *messages]


def _question_of(messages: Sequence[BaseMessage]) -> str | None:
    for m in messages:
        if isinstance(m, HumanMessage):
            return m.text
    return None


@dataclass(frozen=True)
class ModelNode:
    """One model turn with the tools bound.

    The system prompt is prepended at call time (not stored in the state) unless the history
    already starts with a system message. A run started with ``{"question": ...}`` and no
    messages gets the question as its first human message.

    Attributes:
        choices: the graph's chat model and budgets, and what a run's context changes (any
            chat model implementing ``bind_tools``).
        tools: the tools (or tool schemas) the model may call.
        system_prompt: the system prompt.

    Until the run has made ``min_tool_calls`` tool calls, the model must call a tool: the first
    call is forced to be a ``search`` (``tool_choice="search"``: a research run starts by
    searching, and naming the tool gets small models past an empty call), later ones any tool
    (``tool_choice="any"``).
    """

    choices: RunChoices
    tools: Sequence[BaseTool | dict[str, Any]]
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    _bindings: dict[tuple[int, str | None], ChatRunnable] = field(
        init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._bound(self.choices.model(), None)  # a model without bind_tools fails at build time

    def _bound(self, model: BaseChatModel, tool_choice: str | None) -> ChatRunnable:
        key = (id(model), tool_choice)
        if key not in self._bindings:
            extra = {} if tool_choice is None else {"tool_choice": tool_choice}
            try:
                self._bindings[key] = model.bind_tools(list(self.tools), **extra)
            except NotImplementedError as exc:
                raise ConfigError(
                    f"{type(model).__name__} does not implement bind_tools; the agent needs a "
                    "tool-calling chat model"
                ) from exc
        return self._bindings[key]

    def _model_for(self, state: AgentState) -> ChatRunnable:
        context = run_context()
        model = self.choices.model(context)
        made = state.get("tool_calls", 0)
        if made < self.choices.config(context).required_tool_calls:
            names = [t.name if isinstance(t, BaseTool) else None for t in self.tools]
            first = "search" if "search" in names else "any"
            return self._bound(model, first if made == 0 else "any")
        return self._bound(model, None)

    def _prepare(self, state: AgentState) -> tuple[list[BaseMessage], AgentState]:
        messages = list(state.get("messages") or [])
        update: AgentState = {"messages": []}
        question = state.get("question")
        if not messages:
            if not question:
                raise ConfigError(
                    "the agent needs a question: start it with {'messages': [HumanMessage(q)]} "
                    "or {'question': q}"
                )
            first = HumanMessage(question)
            messages.append(first)
            update["messages"].append(first)
        if not question:
            question = _question_of(messages)
            if question:
                update["question"] = question
        update["model_calls"] = state.get("model_calls", 0) + 1
        return _prompt(self.system_prompt, messages), update

    def __call__(self, state: AgentState, config: RunnableConfig) -> AgentState:
        prompt, update = self._prepare(state)
        update["messages"].append(self._model_for(state).invoke(prompt, config))
        return update

    async def acall(self, state: AgentState, config: RunnableConfig) -> AgentState:
        """Async twin of ``__call__``."""
        prompt, update = self._prepare(state)
        update["messages"].append(await self._model_for(state).ainvoke(prompt, config))
        return update

    def as_runnable(self) -> NodeRunnable:
        """The node as a sync+async runnable for ``StateGraph.add_node``."""
        return RunnableLambda(self.__call__, afunc=self.acall, name="agent")


def _sources_seen(ledger: Sequence[LedgerRecord], limit: int = 12) -> str:
    """The URLs the run was shown, listed for the forced answer so it can cite real sources."""
    seen: dict[str, str] = {}
    for record in ledger:
        seen.setdefault(record["url"], record.get("title") or "")
    if not seen:
        return ""
    lines = [f"[{i}] {url} ({title})" if title else f"[{i}] {url}"
             for i, (url, title) in enumerate(list(seen.items())[:limit], start=1)]
    return f"\n\n{SOURCES_SEEN_HEADING}\n" + "\n".join(lines)


@dataclass(frozen=True)
class ForceAnswerNode:
    """A budget ran out: ask for the final answer now, with tool calls switched off.

    The tools stay bound with ``tool_choice="none"`` rather than unbound, so the prompt keeps the
    same system/tools block as every earlier turn: for a policy being trained, the forced turn's
    prompt then extends the recorded history token for token. The request is stored in the
    history as a human message (so trajectories show why the agent stopped). If the model still
    calls tools, the finalize node takes what it said anyway.
    """

    choices: RunChoices
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    message: str = BUDGET_EXHAUSTED_MESSAGE
    tools: Sequence[BaseTool | dict[str, Any]] = ()

    def _answer_model(self) -> ChatRunnable:
        model = self.choices.model(run_context())
        if not self.tools:
            return model
        try:
            return model.bind_tools(list(self.tools), tool_choice="none")
        except (NotImplementedError, TypeError, ValueError):
            return model  # a model that cannot switch tools off: ask without them

    def _prepare(self, state: AgentState) -> tuple[list[BaseMessage], AgentState]:
        request = HumanMessage(self.message + _sources_seen(state.get("ledger") or []))
        prompt = _prompt(self.system_prompt, [*state.get("messages", []), request])
        reason = exhausted_budget(state, self.choices.config(run_context())) or "tool_budget"
        logger.info("budget exhausted (%s): asking for the final answer", reason)
        update: AgentState = {
            "messages": [request],
            "finish_reason": reason,
            "model_calls": state.get("model_calls", 0) + 1,
        }
        return prompt, update

    def __call__(self, state: AgentState, config: RunnableConfig) -> AgentState:
        prompt, update = self._prepare(state)
        update["messages"].append(self._answer_model().invoke(prompt, config))
        return update

    async def acall(self, state: AgentState, config: RunnableConfig) -> AgentState:
        """Async twin of ``__call__``."""
        prompt, update = self._prepare(state)
        update["messages"].append(await self._answer_model().ainvoke(prompt, config))
        return update

    def as_runnable(self) -> NodeRunnable:
        """The node as a sync+async runnable for ``StateGraph.add_node``."""
        return RunnableLambda(self.__call__, afunc=self.acall, name="force_answer")


@dataclass
class _ToolStep:
    """Bookkeeping of one tools step."""

    session: BrowsingSession
    tools: dict[str, BaseTool]
    count: int
    limit: int
    messages: list[ToolMessage] = field(default_factory=list)
    ledger: list[LedgerRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ToolsNode:
    """Runs the last model turn's tool calls, in order, against the browsing state.

    Attributes:
        choices: the browser backing the built-in ``search`` / ``open`` / ``find`` and the
            budgets (calls beyond ``max_tool_calls`` are refused with an error observation), and
            what a run's context changes.
        extra_tools: further LangChain tools the model may call. A tool whose artifact is a list
            of ledger-record dicts adds them to the ledger.
        system_prompt: counted in the context-size estimate.
    """

    choices: RunChoices
    extra_tools: Sequence[BaseTool] = ()
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    _tools: dict[str, BaseTool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [t.name for t in self.extra_tools]
        clash = sorted({n for n in names if names.count(n) > 1 or n in BROWSER_TOOL_NAMES})
        if clash:
            raise ConfigError(f"extra tool names must be unique and not search/open/find: {clash}")
        tools = {t.name: t for t in [*browser_tools(), *self.extra_tools]}
        object.__setattr__(self, "_tools", tools)

    @property
    def tools(self) -> list[BaseTool]:
        """All tools, built-in first: what the model is offered (built once per node)."""
        return list(self._tools.values())

    def _tool_call(self, step: _ToolStep, call: ToolCall) -> dict[str, Any]:
        """The tool input: the call, with the step's browsing session for a built-in tool."""
        args = call["args"]
        if call["name"] in BROWSER_TOOL_NAMES:
            args = {**args, SESSION_ARG: step.session}
        return {**call, "id": _call_id(call), "args": args, "type": "tool_call"}

    # -- the step --------------------------------------------------------------------------------

    def _start(self, state: AgentState) -> tuple[_ToolStep, AIMessage]:
        last = state["messages"][-1]
        if not isinstance(last, AIMessage):
            raise ConfigError(f"the tools node runs after a model turn, got {type(last).__name__}")
        context = run_context()
        session = BrowsingSession(
            self.choices.browser(context),
            latest_hits=hits_from_dicts(state.get("latest_hits")),
            page=page_from_dict(state.get("open_page")),
        )
        limit = self.choices.config(context).max_tool_calls
        return _ToolStep(session, self._tools, state.get("tool_calls", 0), limit), last

    def _admit(self, step: _ToolStep, call_id: str, name: str) -> bool:
        """Count a call against the budget; refuse it (with an observation) when none is left."""
        if step.count >= step.limit:
            step.messages.append(_error(
                call_id, name,
                f"not executed: the tool-call budget ({step.limit}) is used up",
            ))
            return False
        step.count += 1
        step.session.step = step.count
        return True

    def _before(self, step: _ToolStep, call: ToolCall) -> BaseTool | None:
        """Admit a call and find its tool; records an error observation when it cannot run."""
        if not self._admit(step, _call_id(call), call["name"]):
            return None
        tool = step.tools.get(call["name"])
        if tool is None:
            step.messages.append(_error(
                _call_id(call), call["name"],
                f"unknown tool {call['name']!r}; available tools: {', '.join(step.tools)}",
            ))
        return tool

    def _after(self, step: _ToolStep, call: ToolCall, result: Any) -> None:
        if not isinstance(result, ToolMessage):
            result = ToolMessage(content=str(result), tool_call_id=_call_id(call), name=call["name"])
        records = _ledger_records(result.artifact)
        if records is not None:
            records = [{**r, "tool_call_id": _call_id(call)} for r in records]
            result.artifact = records
            step.ledger.extend(records)
        step.messages.append(result)

    def _on_error(self, step: _ToolStep, call: ToolCall, exc: Exception) -> None:
        """Turn a tool failure into an error observation; re-raise anything else."""
        if isinstance(exc, ValidationError):
            text = f"invalid arguments for {call['name']}: {_describe_validation(exc)}"
        elif isinstance(exc, (ToolError, ToolException)):
            text = str(exc) or type(exc).__name__
        else:
            raise exc
        logger.debug("tool %s failed: %s", call["name"], text)
        step.messages.append(_error(_call_id(call), call["name"], text))

    def _malformed(self, step: _ToolStep, last: AIMessage) -> None:
        for i, bad in enumerate(last.invalid_tool_calls):
            call_id = bad.get("id") or f"invalid-{uuid.uuid4().hex[:8]}-{i}"
            name = bad.get("name") or "unknown"
            if self._admit(step, call_id, name):
                step.messages.append(_error(
                    call_id, name,
                    f"your tool call could not be read ({bad.get('error') or 'malformed'}); "
                    "call a tool by name with a JSON object of arguments, e.g. search with "
                    '{"query": "..."}',
                ))

    def _context_tokens(self, state: AgentState, observations: Sequence[BaseMessage]) -> int:
        """The history's size after this step: the last estimate plus the model turn this step
        answered and its observations (the whole history is read only on the first step)."""
        history = state.get("messages") or []
        previous = state.get("context_tokens")
        if previous is None or not history:
            return estimate_context_tokens([*history, *observations], system_prompt=self.system_prompt)
        return add_context_tokens(previous, [history[-1], *observations])

    def _finish(self, step: _ToolStep, state: AgentState) -> AgentState:
        update: AgentState = {
            "messages": list(step.messages),
            "ledger": step.ledger,
            "tool_calls": step.count,
            "context_tokens": self._context_tokens(state, step.messages),
        }
        if "latest_hits" in step.session.changed:
            update["latest_hits"] = hits_to_dicts(step.session.latest_hits)
        if "page" in step.session.changed:
            update["open_page"] = page_to_dict(step.session.page)
        return update

    def __call__(self, state: AgentState, config: RunnableConfig) -> AgentState:
        step, last = self._start(state)
        for call in last.tool_calls:
            tool = self._before(step, call)
            if tool is None:
                continue
            try:
                result = tool.invoke(self._tool_call(step, call), config)
            except Exception as exc:
                self._on_error(step, call, exc)
            else:
                self._after(step, call, result)
        self._malformed(step, last)
        return self._finish(step, state)

    async def acall(self, state: AgentState, config: RunnableConfig) -> AgentState:
        """Async twin of ``__call__`` (sync tools run in a worker thread)."""
        step, last = self._start(state)
        for call in last.tool_calls:
            tool = self._before(step, call)
            if tool is None:
                continue
            try:
                result = await tool.ainvoke(self._tool_call(step, call), config)
            except Exception as exc:
                self._on_error(step, call, exc)
            else:
                self._after(step, call, result)
        self._malformed(step, last)
        return self._finish(step, state)

    def as_runnable(self) -> NodeRunnable:
        """The node as a sync+async runnable for ``StateGraph.add_node``."""
        return RunnableLambda(self.__call__, afunc=self.acall, name="tools")


@dataclass(frozen=True)
class FinalizeNode:
    """Parse the last model turn as the final answer and resolve its citations."""

    def __call__(self, state: AgentState) -> AgentState:
        text = ""
        for m in reversed(state.get("messages", [])):
            if isinstance(m, AIMessage):
                text = m.text
                break
        reason = state.get("finish_reason") or "answered"
        answer = parse_answer(text, forced=reason != "answered")
        return {
            "answer": resolve_citations(answer, state.get("ledger", [])),
            "finish_reason": reason,
        }

    def as_runnable(self) -> NodeRunnable:
        """The node as a runnable for ``StateGraph.add_node``."""
        return RunnableLambda(self.__call__, name="finalize")


def _call_id(call: ToolCall) -> str:
    """A call's id; a parser that gave none gets one made from the call's content."""
    return call["id"] or f"call-{uuid.uuid5(uuid.NAMESPACE_OID, repr(sorted(call.items()))).hex[:12]}"


def _error(call_id: str, name: str, text: str) -> ToolMessage:
    return ToolMessage(
        content=f"Error: {text}", tool_call_id=call_id, name=name, status="error", artifact=[]
    )


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ())) or "arguments"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _ledger_records(artifact: Any) -> list[LedgerRecord] | None:
    if isinstance(artifact, list) and all(
        isinstance(r, dict) and r.keys() >= _LEDGER_KEYS for r in artifact
    ):
        return list(artifact)
    return None


__all__ = [
    "BudgetRouter",
    "FinalizeNode",
    "ForceAnswerNode",
    "ModelNode",
    "ToolsNode",
    "exhausted_budget",
    "route_after_model",
]
