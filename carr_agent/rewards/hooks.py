"""Attach the CaRR score to a LangGraph app: score a finished state, or add a scoring node.

Works on *any* LangGraph app's state, not only this project's agent. Evidence (what the agent was
shown) is found in this order:

1. ``state["ledger"]``: a list of :class:`~carr_agent.types.LedgerRecord` (this project's graph);
2. ``ToolMessage.artifact`` values that are ledger records (one record, a list of them, or a
   mapping with a ``"records"``/``"ledger"`` list): tools that record their evidence as artifacts;
3. otherwise the messages are converted to the reference ``history`` format and parsed: tool
   outputs must then be in the reference text formats (``[0] Title: …``/``URL Source:``…), and
   tools named ``search``/``open``/``find`` (or ``browser.*``).

The final answer is the last message when it is an AI message with text and no tool calls; a
state without one scores all zeros (as the reference server does for such histories).

Adding the score to a graph (the final state then carries ``reward`` and ``carr``)::

    class State(MessagesState, CarrRewardState): ...
    builder = StateGraph(State); ...                      # the user's own nodes and edges
    add_carr_reward(builder, scorer=scorer, task_key="task")
    graph = builder.compile()
    out = await graph.ainvoke({"messages": [...], "task": task})
    out["reward"], out["carr"]["rubric_scores"]
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any, NotRequired

from typing_extensions import TypedDict

from carr_agent.errors import ConfigError, DataError, TaskFormatError
from carr_agent.rewards.history import parse_history
from carr_agent.rewards.protocol import result_to_response
from carr_agent.types import LedgerRecord, RewardResult, Task

if TYPE_CHECKING:
    from langgraph.graph import StateGraph

    from carr_agent.rewards.scorer import CarrScorer

logger = logging.getLogger(__name__)

#: Tool names understood as the reference browser tools when parsing messages.
TOOL_ALIASES = {
    "search": "browser.search", "web_search": "browser.search", "browser_search": "browser.search",
    "open": "browser.open", "open_page": "browser.open", "browser_open": "browser.open",
    "find": "browser.find", "find_in_page": "browser.find", "browser_find": "browser.find",
}
DEFAULT_NODE_NAME = "carr_reward"


class CarrRewardState(TypedDict):
    """Mix into a graph's state TypedDict so the reward node's outputs are kept.

    ``class State(MessagesState, CarrRewardState): ...`` adds:

    Attributes:
        task: the :class:`Task` (or a task dict) being answered, when the task comes from state.
        reward: the CaRR reward, ``(1 − α)·R_o + α·R_r``; None when judging failed (unknown).
        carr: the breakdown, as the reward server's response (``outcome_reward``,
            ``rubric_reward``, ``rubric_scores`` keyed "0", "1"…) plus ``errors``.
    """

    task: NotRequired[Any]
    reward: NotRequired[float | None]
    carr: NotRequired[dict[str, Any]]


TaskGetter = Callable[[Any], "Task | Mapping[str, Any]"]


# --------------------------------------------------------------------------- reading state


def _get(state: Any, key: str, default: Any = None) -> Any:
    if isinstance(state, Mapping):
        return state.get(key, default)
    return getattr(state, key, default)


def _is_record(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("url"), str) and isinstance(
        value.get("text"), str
    )


def ledger_records_in(value: Any) -> list[LedgerRecord]:
    if _is_record(value):
        return [value]  # type: ignore[list-item]
    if isinstance(value, Mapping):
        for key in ("records", "ledger"):
            if isinstance(value.get(key), list):
                return [r for r in value[key] if _is_record(r)]
        return []
    if isinstance(value, (list, tuple)):
        return [r for r in value if _is_record(r)]
    return []


def _role(message: Any) -> str | None:
    if isinstance(message, Mapping):
        role = message.get("role") or message.get("type")
    else:
        role = getattr(message, "type", None)
    if not isinstance(role, str):
        return None
    return {"ai": "assistant", "human": "user", "AIMessageChunk": "assistant"}.get(role, role)


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p if isinstance(p, str) else p.get("text") for p in content
                 if isinstance(p, str) or (isinstance(p, Mapping) and p.get("type", "text") == "text")]
        if parts and all(isinstance(p, str) for p in parts):
            return "".join(parts)  # type: ignore[arg-type]
    return None


def _tool_calls(message: Any) -> list[dict[str, Any]]:
    """A message's tool calls as ``{"id", "name", "args"}`` (langchain, OpenAI or TRL shape)."""
    raw = message.get("tool_calls") if isinstance(message, Mapping) else getattr(message, "tool_calls", None)
    calls: list[dict[str, Any]] = []
    if not isinstance(raw, (list, tuple)):
        return calls
    for call in raw:
        if not isinstance(call, Mapping):
            continue
        function = call.get("function") if isinstance(call.get("function"), Mapping) else None
        name = call.get("name") or (function or {}).get("name")
        args = call.get("args", call.get("arguments", (function or {}).get("arguments", {})))
        calls.append({"id": call.get("id") or call.get("tool_call_id"), "name": name, "args": args})
    return calls


def final_answer(messages: Sequence[Any]) -> str | None:
    """The final answer: the last message if it is an AI message with text and no tool calls."""
    if not messages:
        return None
    last = messages[-1]
    if _role(last) != "assistant" or _tool_calls(last):
        return None
    content = last.get("content") if isinstance(last, Mapping) else getattr(last, "content", None)
    text = _text(content)
    return text if text and text.strip() else None


def messages_to_history(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Convert langchain messages, OpenAI-style dicts or TRL completions to the reference history.

    Tool results without a ``tool_call_id`` (TRL's tool messages) are matched to the earliest
    pending call of the same name. Tool names are mapped with :data:`TOOL_ALIASES`.
    """
    history: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (call id, original name) awaiting a result
    counter = 0
    for message in messages:
        role = _role(message)
        content = message.get("content") if isinstance(message, Mapping) else getattr(message, "content", None)
        if role in ("user", "system", "developer"):
            history.append({"role": role, "content": _text(content) or ""})
        elif role == "assistant":
            entry: dict[str, Any] = {"role": "assistant"}
            text = _text(content)
            if text:
                entry["content"] = text
            calls = []
            for call in _tool_calls(message):
                counter += 1
                call_id = str(call["id"] or f"call-{counter}")
                name = str(call["name"])
                args = call["args"]
                pending.append((call_id, name))
                calls.append({"tool_call_id": call_id, "name": TOOL_ALIASES.get(name, name),
                              "arguments": args if isinstance(args, str) else json.dumps(args, default=str)})
            if calls:
                entry["tool_calls"] = calls
            history.append(entry)
        elif role == "tool":
            call_id = message.get("tool_call_id") if isinstance(message, Mapping) else getattr(
                message, "tool_call_id", None)
            name = message.get("name") if isinstance(message, Mapping) else getattr(message, "name", None)
            if call_id is None:
                match = next((p for p in pending if p[1] == name), pending[0] if pending else None)
                call_id = match[0] if match else None
            pending = [p for p in pending if p[0] != call_id]
            output = _text(content)
            if output is None:
                output = json.dumps(content, default=str) if not isinstance(content, str) else content
            history.append({"role": "tool", "content": [{"tool_call_id": call_id, "output": output}]})
    return history


def ledger_from_state(state: Any) -> list[LedgerRecord]:
    """The evidence of a finished state (see the module docstring for the order of sources)."""
    ledger = _get(state, "ledger")
    if isinstance(ledger, (list, tuple)) and ledger:
        return [r for r in ledger if _is_record(r)]
    messages = list(_get(state, "messages") or [])
    return ledger_from_messages(messages)


def ledger_from_messages(messages: Sequence[Any]) -> list[LedgerRecord]:
    """Evidence from tool-message artifacts, else by parsing the messages as a reference history.

    Raises:
        HistoryFormatError: the messages cannot be parsed as a history.
    """
    records: list[LedgerRecord] = []
    for message in messages:
        if _role(message) == "tool":
            artifact = message.get("artifact") if isinstance(message, Mapping) else getattr(
                message, "artifact", None)
            records.extend(ledger_records_in(artifact))
    if records:
        return records
    history = messages_to_history(messages)
    if not history or history[-1].get("role") != "assistant" or "content" not in history[-1]:
        history.append({"role": "assistant", "content": ""})  # parse tool outputs only
    return list(parse_history(history).records)


def task_from(value: Task | Mapping[str, Any]) -> Task:
    """A :class:`Task` from a Task or a task dict (``id`` defaults to ``"task"``).

    Raises:
        TaskFormatError: the dict lacks ``question`` or ``label``.
    """
    if isinstance(value, Task):
        return value
    if not isinstance(value, Mapping):
        raise TaskFormatError(f"a task must be a Task or a mapping, got {type(value).__name__}")
    missing = [k for k in ("question", "label") if not isinstance(value.get(k), str)]
    if missing:
        raise TaskFormatError(f"task is missing {', '.join(missing)}")
    names = {f.name for f in dataclass_fields(Task)}
    kwargs = {k: v for k, v in value.items() if k in names}
    kwargs.setdefault("id", "task")
    for key in ("rubrics", "forbidden_strs"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key] or ())
    return Task(**kwargs)


# --------------------------------------------------------------------------- scoring


async def ascore_state(
    state: Any, task: Task | Mapping[str, Any], scorer: CarrScorer, *, alpha: float | None = None
) -> RewardResult:
    """Score a finished graph state (``messages`` + optional ``ledger``) for ``task``.

    Returns:
        The reward; all zeros when the state has no final answer.

    Raises:
        TaskFormatError: ``task`` is unusable. HistoryFormatError: messages cannot be parsed.
    """
    the_task = task_from(task)
    messages = list(_get(state, "messages") or [])
    answer = final_answer(messages)
    if answer is None:
        logger.info("state has no final answer; scored 0")
        return RewardResult(0.0, 0.0, 0.0, errors=("no final answer",))
    return await scorer.ascore(the_task, answer, ledger_from_state(state), alpha=alpha)


def score_state(
    state: Any, task: Task | Mapping[str, Any], scorer: CarrScorer, *, alpha: float | None = None
) -> RewardResult:
    """Synchronous :func:`ascore_state` (not from inside a running event loop).

    Raises:
        RuntimeError: called from inside a running event loop (await :func:`ascore_state`).
    """
    coro = ascore_state(state, task, scorer, alpha=alpha)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("score_state cannot run inside an event loop; await ascore_state(...) instead")


def breakdown(result: RewardResult, *, alpha: float | None = None) -> dict[str, Any]:
    """The ``carr`` state value: the reward server's response shape plus ``errors``."""
    out = result_to_response(result, alpha=alpha)
    out["errors"] = list(result.errors)
    return out


def carr_reward_node(
    scorer: CarrScorer,
    *,
    task: Task | Mapping[str, Any] | None = None,
    task_key: str = "task",
    task_getter: TaskGetter | None = None,
    alpha: float | None = None,
) -> Callable[[Any], Awaitable[dict[str, Any]]]:
    """An async LangGraph node writing ``{"reward": float | None, "carr": {...}}``.

    The task is ``task`` if given, else ``task_getter(state)``, else ``state[task_key]``.
    A judge failure gives ``reward: None`` with the reason in ``carr["errors"]`` (never 0).
    """
    if task is not None and task_getter is not None:
        raise ConfigError("pass either task or task_getter, not both")
    fixed = task_from(task) if task is not None else None

    async def carr_reward(state: Any) -> dict[str, Any]:
        if fixed is not None:
            the_task: Task | Mapping[str, Any] = fixed
        elif task_getter is not None:
            the_task = task_getter(state)
        else:
            the_task = _get(state, task_key)
            if the_task is None:
                raise TaskFormatError(
                    f"the state has no {task_key!r}: pass the task in the graph input "
                    f"(e.g. {{'messages': [...], {task_key!r}: task}}) or give task=/task_getter="
                )
        try:
            result = await ascore_state(state, the_task, scorer, alpha=alpha)
        except DataError as exc:
            logger.warning("CaRR reward unknown: %s", exc)
            result = RewardResult(None, None, None, errors=(f"{type(exc).__name__}: {exc}",))
        return {"reward": result.reward, "carr": breakdown(result, alpha=alpha)}

    return carr_reward


def add_carr_reward(
    builder: StateGraph,
    *,
    scorer: CarrScorer,
    task: Task | Mapping[str, Any] | None = None,
    task_key: str = "task",
    task_getter: TaskGetter | None = None,
    alpha: float | None = None,
    name: str = DEFAULT_NODE_NAME,
    after: str | None = None,
) -> StateGraph:
    """Insert a CaRR scoring node before ``END`` in an (uncompiled) graph builder.

    Every edge into ``END`` (plain edges, ``set_finish_point``, conditional edges with a path map,
    and routers without one, e.g. ``tools_condition``) is redirected to the new node, which then
    goes to ``END``; with ``after="agent"`` only the edges leaving that node are. Nodes that jump
    to END with ``Command(goto=END)`` are not redirected; add :func:`carr_reward_node` yourself
    for those.

    A TypedDict state without ``reward``/``carr`` is extended with them (see
    :func:`_ensure_reward_keys`); mixing in :class:`CarrRewardState` is the explicit way.

    Raises:
        ConfigError: a non-TypedDict state lacks ``reward``/``carr``, the node name is taken,
            ``after`` names no node, or nothing leads to END.
    """
    from langgraph.graph import END

    _ensure_reward_keys(builder)
    if name in builder.nodes:
        raise ConfigError(f"the graph already has a node named {name!r}")
    if after is not None and after not in builder.nodes:
        raise ConfigError(f"after={after!r}: the graph has no such node")
    redirected = _redirect_end(builder, name, END, after)
    if not redirected:
        where = f" from {after!r}" if after else ""
        raise ConfigError(f"no edge leads{where} to END; add the scoring node with carr_reward_node()")
    builder.add_node(name, carr_reward_node(scorer, task=task, task_key=task_key,
                                            task_getter=task_getter, alpha=alpha))
    builder.add_edge(name, END)
    return builder


def add_reward_node(
    builder: StateGraph,
    *,
    scorer: CarrScorer,
    task_from_state: TaskGetter | None = None,
    **kwargs: Any,
) -> StateGraph:
    """:func:`add_carr_reward` under the name used in ``interfaces.md`` (``task_from_state`` is
    ``task_getter``)."""
    return add_carr_reward(builder, scorer=scorer, task_getter=task_from_state, **kwargs)


def _ensure_reward_keys(builder: StateGraph) -> None:
    """Make sure ``reward`` and ``carr`` are state channels and part of the graph's output.

    With the :class:`CarrRewardState` mixin nothing is needed. A TypedDict state without it (e.g.
    a graph you cannot edit, such as this project's agent) is extended: the two keys are added
    as plain channels and to a copy of the output schema.

    Raises:
        ConfigError: the keys are missing and the output schema is not a TypedDict.
    """
    from typing_extensions import TypedDict as TypedDictType
    from typing_extensions import is_typeddict

    keys = ("reward", "carr")
    output = builder.output_schema
    output_keys = set(builder.schemas.get(output, {}))
    if all(k in builder.channels for k in keys) and all(k in output_keys for k in keys):
        return
    if not is_typeddict(output):
        raise ConfigError(
            "the graph state has no reward/carr keys: add CarrRewardState to the state schema, "
            "e.g. `class State(MessagesState, CarrRewardState): ...`"
        )
    fields = {key: Any for key in output_keys | set(keys)}
    extended = TypedDictType(f"{output.__name__}WithCarrReward", fields, total=False)  # type: ignore[operator]
    try:
        builder._add_schema(extended, allow_managed=False)
    except ValueError as exc:  # a schema LangGraph cannot merge: ask for the mixin instead
        raise ConfigError(
            f"cannot add reward/carr to the graph state ({exc}); add CarrRewardState to the state "
            "schema instead"
        ) from exc
    builder.output_schema = extended


def _redirect_end(builder: StateGraph, target: str, end: str, after: str | None = None) -> int:
    from langchain_core.runnables import RunnableLambda

    count = 0
    for start, stop in list(builder.edges):
        if stop == end and after in (None, start):
            builder.edges.discard((start, stop))
            builder.edges.add((start, target))
            count += 1
    for starts, stop in list(builder.waiting_edges):
        if stop == end and (after is None or after in starts):
            builder.waiting_edges.discard((starts, stop))
            builder.waiting_edges.add((starts, target))
            count += 1
    for source, branches in builder.branches.items():
        if after is not None and source != after:
            continue
        for branch_name, spec in list(branches.items()):
            if spec.ends is not None:
                if end in spec.ends.values():
                    ends = {k: (target if v == end else v) for k, v in spec.ends.items()}
                    branches[branch_name] = spec._replace(ends=ends)
                    count += 1
            else:
                def reroute(result: Any) -> Any:
                    if isinstance(result, (list, tuple)):
                        return [target if r == end else r for r in result]
                    return target if isinstance(result, Hashable) and result == end else result

                branches[branch_name] = spec._replace(path=spec.path | RunnableLambda(reroute))
                count += 1
    return count


__all__ = [
    "TOOL_ALIASES",
    "CarrRewardState",
    "add_carr_reward",
    "add_reward_node",
    "ascore_state",
    "breakdown",
    "carr_reward_node",
    "final_answer",
    "ledger_from_messages",
    "ledger_from_state",
    "ledger_records_in",
    "messages_to_history",
    "score_state",
    "task_from",
]
