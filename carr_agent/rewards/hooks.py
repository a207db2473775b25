"""Attach the CaRR score to a LangGraph app: score a finished state, or add a scoring node.

Works on *any* LangGraph app's state, not only this project's agent. The final answer and the
evidence (what the agent was shown) are read by :mod:`carr_agent.rewards.run`, the one reader of a
finished run shared by every entry point: ``state["answer"]["text"]`` or the last AI message with
text (a budget-forced answer counts), and ``state["ledger"]``, ledger records in
``ToolMessage.artifact``, or else the messages parsed as a reference history. A state without a
final answer scores all zeros (as the reference server does for such histories).

Scoring a graph's runs (the result carries ``reward`` and ``carr``)::

    graph = add_carr_reward(builder, scorer=scorer).compile()   # builder: the user's graph
    out = graph.invoke({"messages": [...], "task": task})        # or await graph.ainvoke(...)
    out["reward"], out["carr"]["rubric_scores"]

Tool results that gave no evidence (not a browsing tool, no ledger artifact) are named in
``carr["errors"]``; see :func:`ignored_tool_results`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass, replace
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    NamedTuple,
    NotRequired,
    Required,
    get_args,
    get_origin,
)

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.channels import BinaryOperatorAggregate, DeltaChannel
from langgraph.types import Overwrite
from typing_extensions import (
    TypedDict,
    get_type_hints,
    is_typeddict,
)

from carr_agent.aio import run_sync
from carr_agent.errors import ConfigError, DataError, TaskFormatError
from carr_agent.rewards.protocol import result_to_response
from carr_agent.rewards.run import (
    TOOL_ALIASES,
    final_answer,
    get_key,
    ledger_from_messages,
    ledger_from_state,
    ledger_records_in,
    messages_to_history,
    read_run,
    role_of,
    tool_calls_of,
)
from carr_agent.rewards.scorer import score_trajectory
from carr_agent.types import RewardResult, Task

if TYPE_CHECKING:
    from langgraph.graph import StateGraph
    from langgraph.graph.state import CompiledStateGraph

    from carr_agent.rewards.scorer import CarrScorer

logger = logging.getLogger(__name__)

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


def ignored_tool_results(messages: Sequence[Any]) -> list[str]:
    """Say which tool results gave no evidence because their tool is not a browsing tool.

    A result counts as evidence when its ``artifact`` holds ledger records or its tool is one of
    the browsing tools (:data:`TOOL_ALIASES`, parsed from the reference text formats). Error
    results are not counted. One line per tool, e.g. ``"3 tool results ignored: tool
    'wiki_lookup' is not a browsing tool and has no ledger artifact"``.
    """
    names: dict[str, str] = {}
    ignored: dict[str, int] = {}
    for message in messages:
        role = role_of(message)
        if role == "assistant":
            names.update({str(c["id"]): str(c["name"]) for c in tool_calls_of(message) if c["id"]})
        if role != "tool" or get_key(message, "status") == "error":
            continue
        name = get_key(message, "name") or names.get(str(get_key(message, "tool_call_id")), "unknown")
        browsing = TOOL_ALIASES.get(name, name) in TOOL_ALIASES.values()
        if not browsing and not ledger_records_in(get_key(message, "artifact")):
            ignored[name] = ignored.get(name, 0) + 1
    return [f"{n} tool result{'s' if n != 1 else ''} ignored: tool {name!r} is not a browsing tool "
            "and has no ledger artifact" for name, n in ignored.items()]


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
        The reward; all zeros when the state has no final answer. Its ``errors`` name the tool
        results that gave no evidence (:func:`ignored_tool_results`).

    Raises:
        TaskFormatError: ``task`` is unusable. HistoryFormatError: messages cannot be parsed.
    """
    the_task = task_from(task)
    ignored = ignored_tool_results(list(get_key(state, "messages") or []))
    for line in ignored:
        logger.warning("%s", line)
    trajectory = read_run(state)
    if trajectory.answer is None:
        logger.info("state has no final answer; scored 0")
    result = await score_trajectory(scorer, the_task, trajectory, alpha=alpha)
    return replace(result, errors=(*result.errors, *ignored)) if ignored else result


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


class CarrRewardNode:
    """The scoring node: ``{"reward": float | None, "carr": {...}}`` from a finished state.

    Runs from both ``graph.invoke`` and ``graph.ainvoke`` (like LangGraph's ``ToolNode``): use
    :meth:`as_runnable` as the node. The task is ``task`` if given, else ``task_getter(state)``,
    else ``state[task_key]``. A judge failure gives ``reward: None`` with the reason in
    ``carr["errors"]`` (never 0).

    Raises:
        ConfigError: both ``task`` and ``task_getter`` given.
        TaskFormatError: (when called) the state has no task and none was given.
    """

    def __init__(
        self,
        scorer: CarrScorer,
        *,
        task: Task | Mapping[str, Any] | None = None,
        task_key: str = "task",
        task_getter: TaskGetter | None = None,
        alpha: float | None = None,
    ) -> None:
        if task is not None and task_getter is not None:
            raise ConfigError("pass either task or task_getter, not both")
        self.scorer = scorer
        self.fixed = task_from(task) if task is not None else None
        self.task_key = task_key
        self.task_getter = task_getter
        self.alpha = alpha

    def _task(self, state: Any) -> Task | Mapping[str, Any]:
        if self.fixed is not None:
            return self.fixed
        if self.task_getter is not None:
            return self.task_getter(state)
        the_task = get_key(state, self.task_key)
        if the_task is None:
            raise TaskFormatError(
                f"the state has no {self.task_key!r}: pass the task in the graph input "
                f"(e.g. {{'messages': [...], {self.task_key!r}: task}}) or give task=/task_getter="
            )
        return the_task

    def _update(self, result: RewardResult) -> dict[str, Any]:
        return {"reward": result.reward, "carr": breakdown(result, alpha=self.alpha)}

    async def acall(self, state: Any) -> dict[str, Any]:
        """Score ``state`` (async)."""
        the_task = self._task(state)
        try:
            result = await ascore_state(state, the_task, self.scorer, alpha=self.alpha)
        except DataError as exc:
            logger.warning("CaRR reward unknown: %s", exc)
            result = RewardResult(None, None, None, errors=(f"{type(exc).__name__}: {exc}",))
        return self._update(result)

    def __call__(self, state: Any) -> dict[str, Any]:
        """Score ``state`` from synchronous code (a worker thread when a loop is running here)."""
        return run_sync(self.acall(state))

    def as_runnable(self, name: str = DEFAULT_NODE_NAME) -> Runnable[Any, dict[str, Any]]:
        """The node as a sync+async runnable for ``StateGraph.add_node``."""
        return RunnableLambda(self.__call__, afunc=self.acall, name=name)


def carr_reward_node(
    scorer: CarrScorer,
    *,
    task: Task | Mapping[str, Any] | None = None,
    task_key: str = "task",
    task_getter: TaskGetter | None = None,
    alpha: float | None = None,
) -> Runnable[Any, dict[str, Any]]:
    """A LangGraph node (sync and async) writing ``{"reward": float | None, "carr": {...}}``.

    Add it to your own graph where the run ends, e.g. ``builder.add_node("carr_reward",
    carr_reward_node(scorer))``; see :class:`CarrRewardNode`.
    """
    return CarrRewardNode(scorer, task=task, task_key=task_key, task_getter=task_getter,
                          alpha=alpha).as_runnable()


def add_carr_reward(
    graph: StateGraph[Any, Any, Any, Any] | CompiledStateGraph[Any, Any, Any, Any],
    *,
    scorer: CarrScorer,
    task: Task | Mapping[str, Any] | None = None,
    task_key: str = "task",
    task_getter: TaskGetter | None = None,
    alpha: float | None = None,
    name: str = DEFAULT_NODE_NAME,
    after: str | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """A graph that runs ``graph`` and then scores its final state: compile and run it.

    Composition, not surgery: ``graph`` (a builder, compiled here, or an already compiled graph)
    becomes the ``graph`` node of a new two-node graph, followed by the scoring node ``name``
    (:class:`CarrRewardNode`). The new graph takes ``graph``'s input (plus ``task_key`` when the
    task comes from the state) and returns its output plus ``reward`` and ``carr``; its state keys
    keep ``graph``'s types and reducers, so JSON schemas, checkpointers, ``interrupt()`` and
    multi-turn threads work as for ``graph`` itself. Compile the result with your checkpointer::

        rewarded = add_carr_reward(builder, scorer=scorer).compile(checkpointer=saver)
        out = rewarded.invoke({"messages": [...], "task": task})   # or ainvoke
        out["reward"], out["carr"]["rubric_scores"]

    Args:
        graph: the user's graph; any state schema LangGraph accepts (TypedDict, dataclass, pydantic).
        scorer: scores the final state.
        task, task_key, task_getter: where the task comes from (see :class:`CarrRewardNode`).
        alpha: overrides the scorer's α.
        name: the scoring node's name.
        after: score only runs whose last step was this node of ``graph`` (others end unscored).

    Raises:
        ConfigError: ``after`` names no node of ``graph``; both ``task`` and ``task_getter``.
    """
    from langgraph.graph import END, START
    from langgraph.graph import StateGraph as StateGraphType

    builder = graph if isinstance(graph, StateGraphType) else graph.builder
    if after is not None and after not in builder.nodes:
        raise ConfigError(f"after={after!r}: the graph has no such node")
    compiled = graph.compile() if isinstance(graph, StateGraphType) else graph
    inner = GRAPH_NODE_NAME if name != GRAPH_NODE_NAME else f"{GRAPH_NODE_NAME}_run"
    reward_node = CarrRewardNode(scorer, task=task, task_key=task_key,
                                 task_getter=task_getter, alpha=alpha)
    extra_input = {} if task is not None or task_getter is not None else {task_key: Any}
    schemas = _rewarded_schemas(compiled, extra_input)
    wrapper = StateGraphType(schemas.state, input_schema=schemas.input, output_schema=schemas.output)
    wrapper.add_node(inner, _run_graph_node(compiled, after))
    wrapper.add_node(name, reward_node.as_runnable(name))
    wrapper.add_edge(START, inner)

    def score_or_end(state: Mapping[str, Any]) -> str:
        return name if state.get(_ENDED_AT_AFTER, True) else END

    wrapper.add_conditional_edges(inner, score_or_end, [name, END])
    wrapper.add_edge(name, END)
    return wrapper


def add_reward_node(
    graph: StateGraph[Any, Any, Any, Any] | CompiledStateGraph[Any, Any, Any, Any],
    *,
    scorer: CarrScorer,
    task_from_state: TaskGetter | None = None,
    **kwargs: Any,
) -> StateGraph[Any, Any, Any, Any]:
    """:func:`add_carr_reward` under another name (``task_from_state`` is ``task_getter``)."""
    return add_carr_reward(graph, scorer=scorer, task_getter=task_from_state, **kwargs)


# --------------------------------------------------------------------------- composition

#: Name of the node running the user's graph inside :func:`add_carr_reward`'s graph.
GRAPH_NODE_NAME = "graph"
#: Private state key: whether the user's graph ended at ``after`` (absent when ``after`` is None).
_ENDED_AT_AFTER = "carr_ended_at_after"


#: Channels with a reducer (the rest keep the last value written).
_REDUCER_CHANNELS = (BinaryOperatorAggregate, DeltaChannel)


class _Schemas(NamedTuple):
    state: type[Any]
    input: type[Any]
    output: type[Any]


def _rewarded_schemas(compiled: CompiledStateGraph[Any, Any, Any, Any],
                      extra_input: Mapping[str, Any]) -> _Schemas:
    """TypedDict schemas of the wrapper graph, built from the user graph's input/output schemas."""
    builder = compiled.builder
    inputs = {**_fields(builder.input_schema), **{k: NotRequired[v] for k, v in extra_input.items()}}
    outputs = {**_fields(builder.output_schema), "reward": NotRequired[float | None],
               "carr": NotRequired[dict[str, Any]]}
    private = {_ENDED_AT_AFTER: NotRequired[bool]}
    base = getattr(builder.state_schema, "__name__", "State")
    return _Schemas(
        state=TypedDict(f"{base}WithCarrReward", {**inputs, **outputs, **private}),  # type: ignore[operator]
        input=TypedDict(f"{base}WithCarrRewardInput", inputs),  # type: ignore[operator]
        output=TypedDict(f"{base}WithCarrRewardOutput", outputs),  # type: ignore[operator]
    )


def _fields(schema: type[Any]) -> dict[str, Any]:
    """A state schema's keys and their types (reducers kept), each marked required or not."""
    if is_typeddict(schema):
        hints = get_type_hints(schema, include_extras=True)
        required: frozenset[str] = getattr(schema, "__required_keys__", frozenset())
        return {k: (Required if k in required else NotRequired)[_unqualified(t)]
                for k, t in hints.items()}
    model_fields = getattr(schema, "model_fields", None)
    if isinstance(model_fields, Mapping):  # pydantic
        return {k: NotRequired[Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation]
                for k, f in model_fields.items()}
    if is_dataclass(schema):
        return {k: NotRequired[t] for k, t in get_type_hints(schema, include_extras=True).items()}
    raise ConfigError(f"unsupported state schema {schema!r}: use a TypedDict, dataclass or pydantic model")


def _unqualified(hint: Any) -> Any:
    while get_origin(hint) in (Required, NotRequired):
        hint = get_args(hint)[0]
    return hint


def _run_graph_node(compiled: CompiledStateGraph[Any, Any, Any, Any],
                    after: str | None) -> Runnable[Any, dict[str, Any]]:
    """The node running the user's graph; its final state replaces the keys it returns.

    Written back with ``Overwrite`` where a key has a reducer: the user's graph got the whole
    state as input, so its output already contains what was there (a list with ``operator.add``
    would otherwise be doubled).
    """
    channels = compiled.channels

    def written(values: Mapping[str, Any], last: str | None) -> dict[str, Any]:
        update = {k: Overwrite(v) if isinstance(channels.get(k), _REDUCER_CHANNELS) else v
                  for k, v in values.items()}
        if after is not None:
            update[_ENDED_AT_AFTER] = last == after
        return update

    def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tail = _RunTail()
        for mode, chunk in compiled.stream(state, config, stream_mode=["updates", "values"]):
            tail.feed(mode, chunk)
        return written(tail.values, tail.last)

    async def arun(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        tail = _RunTail()
        async for mode, chunk in compiled.astream(state, config, stream_mode=["updates", "values"]):
            tail.feed(mode, chunk)
        return written(tail.values, tail.last)

    return RunnableLambda(run, afunc=arun, name=GRAPH_NODE_NAME)


class _RunTail:
    """What a streamed run ends with: its last state values and the last node that updated it."""

    def __init__(self) -> None:
        self.values: Mapping[str, Any] = {}
        self.last: str | None = None

    def feed(self, mode: str, chunk: Any) -> None:
        if mode == "values":
            self.values = chunk
            return
        nodes = [k for k in chunk if not k.startswith("__")]
        self.last = nodes[-1] if nodes else self.last


__all__ = [
    "GRAPH_NODE_NAME",
    "TOOL_ALIASES",
    "CarrRewardNode",
    "CarrRewardState",
    "add_carr_reward",
    "add_reward_node",
    "ascore_state",
    "breakdown",
    "carr_reward_node",
    "final_answer",
    "ignored_tool_results",
    "ledger_from_messages",
    "ledger_from_state",
    "ledger_records_in",
    "messages_to_history",
    "score_state",
    "task_from",
]
