"""Build the deep-search agent: a compiled LangGraph graph over any tool-calling chat model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from carr_agent.graph import nodes
from carr_agent.graph.config import DEFAULT_PAGE_BUDGET, AgentConfig, AgentContext
from carr_agent.graph.context import RunChoices
from carr_agent.graph.prompts import DEFAULT_SYSTEM_PROMPT
from carr_agent.graph.state import AgentInput, AgentState
from carr_agent.tools.base import PageFetcher, SearchBackend
from carr_agent.tools.browser import Browser
from carr_agent.tools.leakage import LeakageGuard

logger = logging.getLogger(__name__)


def make_browser(
    *,
    search: SearchBackend | None = None,
    fetcher: PageFetcher | None = None,
    page_budget: int = DEFAULT_PAGE_BUDGET,
    forbidden_strs: Sequence[str] = (),
) -> Browser:
    """A :class:`~carr_agent.tools.browser.Browser`; missing backends default to the offline
    example corpus (built into the user cache on first use)."""
    if search is None or fetcher is None:
        from carr_agent.tools.corpus import default_corpus

        corpus = default_corpus()
        search = search if search is not None else corpus
        fetcher = fetcher if fetcher is not None else corpus
    guard = LeakageGuard(list(forbidden_strs)) if forbidden_strs else None
    return Browser(search=search, fetcher=fetcher, guard=guard, page_budget=page_budget)


def build_agent_graph(
    model: BaseChatModel,
    *,
    browser: Browser,
    extra_tools: Sequence[BaseTool] = (),
    system_prompt: str | None = None,
    config: AgentConfig | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """The agent as an uncompiled :class:`~langgraph.graph.StateGraph`, to extend before compiling.

    Nodes: ``agent``, ``tools``, ``force_answer``, ``finalize`` (see
    :mod:`carr_agent.graph.nodes`). To run something after the answer (e.g. a reward node),
    add it and an edge from ``finalize``, or compose the compiled agent as a subgraph. The
    graph's ``context_schema`` is :class:`~carr_agent.graph.config.AgentContext`: a run may
    choose another model, search backend or budgets.
    """
    choices = RunChoices(model, browser, config or AgentConfig())
    prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
    tools_node = nodes.ToolsNode(choices, tuple(extra_tools), prompt)  # builds the tools, once
    tools = tools_node.tools
    graph = StateGraph(AgentState, context_schema=AgentContext, input_schema=AgentInput)
    graph.add_node("agent", nodes.ModelNode(choices, tools, prompt).as_runnable())
    graph.add_node("tools", tools_node.as_runnable())
    graph.add_node("force_answer", nodes.ForceAnswerNode(choices, prompt, tools=tools).as_runnable())
    graph.add_node("finalize", nodes.FinalizeNode().as_runnable())
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", nodes.route_after_model, ["tools", "finalize"])
    graph.add_conditional_edges("tools", nodes.BudgetRouter(choices), ["agent", "force_answer"])
    graph.add_edge("force_answer", "finalize")
    graph.add_edge("finalize", END)
    return graph


def build_agent(
    model: BaseChatModel,
    *,
    search: SearchBackend | None = None,
    fetcher: PageFetcher | None = None,
    extra_tools: Sequence[BaseTool] = (),
    system_prompt: str | None = None,
    max_tool_calls: int | None = None,
    max_context_tokens: int | None = None,
    page_budget: int | None = None,
    forbidden_strs: Sequence[str] = (),
    checkpointer: Any = None,
    min_tool_calls: int | None = None,
    config: AgentConfig | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a compiled deep-search agent: search / open / find tools and a citation ledger.

    The model gets ``search(query, num=10)``, ``open(id_or_url)`` and ``find(pattern)`` plus any
    ``extra_tools``. Every observation adds :class:`~carr_agent.types.LedgerRecord` entries to
    ``state["ledger"]`` (and to the ``ToolMessage.artifact``). Tool failures come back to the
    model as error observations. When the tool-call or context budget is spent, the model is
    asked for its final answer with no tools. The final state's ``answer`` is a
    :class:`~carr_agent.graph.state.FinalAnswer` whose citations are checked against the ledger.

    The result is an ordinary LangGraph graph: ``invoke``/``ainvoke``, ``stream(...,
    stream_mode="updates")``, checkpointers and callbacks all work. Its recursion limit is set
    from the budgets (a config passed to ``invoke`` may override it). A run's ``context``
    (:class:`~carr_agent.graph.config.AgentContext`) may choose another model, search backend
    or budgets; a run raising ``max_tool_calls`` passes ``recursion_limit`` too
    (``AgentConfig(...).recursion_limit``).

    Args:
        model: a chat model that implements ``bind_tools`` (ChatOpenAI, HFChatModel, ...).
        search: the search backend; default: the offline example corpus.
        fetcher: the page fetcher; default: the offline example corpus.
        extra_tools: more LangChain tools for the model (names must differ from the built-ins).
        system_prompt: replaces :data:`~carr_agent.graph.prompts.DEFAULT_SYSTEM_PROMPT`.
        max_tool_calls, max_context_tokens, page_budget, min_tool_calls: the budgets (see
            :class:`~carr_agent.graph.config.AgentConfig`; given ones replace ``config``'s).
        forbidden_strs: hide hits and pages quoting these (usually the question itself).
        checkpointer: a LangGraph checkpointer (e.g. ``SqliteSaver``) to make runs resumable;
            runs then need ``{"configurable": {"thread_id": ...}}``.
        config: the budgets; default :class:`~carr_agent.graph.config.AgentConfig` (30 tool
            calls, at least one before answering, 10,000-character pages).

    Returns:
        The compiled graph. Input ``{"messages": [HumanMessage(q)]}`` or ``{"question": q}``.

    Raises:
        ConfigError: invalid budgets, a model without ``bind_tools``, clashing tool names.

    Example:
        >>> from langchain_openai import ChatOpenAI                      # doctest: +SKIP
        >>> from carr_agent.graph import build_agent
        >>> agent = build_agent(ChatOpenAI(model="gpt-4.1-mini"), max_tool_calls=20)
        >>> state = agent.invoke({"question": "Which lab built the first X?"})
        >>> state["answer"]["exact_answer"], state["answer"]["unseen"], len(state["ledger"])
    """
    config = (config or AgentConfig()).with_context(AgentContext(
        max_tool_calls=max_tool_calls, min_tool_calls=min_tool_calls,
        max_context_tokens=max_context_tokens, page_budget=page_budget,
    ))
    browser = make_browser(
        search=search, fetcher=fetcher, page_budget=config.page_budget, forbidden_strs=forbidden_strs
    )
    graph = build_agent_graph(
        model, browser=browser, extra_tools=extra_tools, system_prompt=system_prompt, config=config,
    )
    compiled = graph.compile(checkpointer=checkpointer, name="carr-agent")
    return compiled.with_config(recursion_limit=config.recursion_limit)


__all__ = ["build_agent", "build_agent_graph", "make_browser"]
