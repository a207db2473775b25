"""The deep-search agent as a LangGraph state machine.

* :func:`build_agent` — a compiled agent over any tool-calling chat model (the usual entry).
* :func:`build_agent_graph` — the same as an uncompiled ``StateGraph`` to extend.
* :class:`AgentConfig` / :class:`AgentContext` — the budgets, and what one run may change
  (model, search backend, budgets) through its LangGraph ``context``.
* :class:`AgentState` and the nodes (:mod:`carr_agent.graph.nodes`) — to embed in your own graph.
* :func:`parse_answer` / :func:`resolve_citations` — the final answer and its citations.
* :func:`trajectory_to_dict` / :func:`to_reference_history` — finished runs as JSON.
"""

from carr_agent.graph.answer import parse_answer, resolve_citations
from carr_agent.graph.budget import Budgets, estimate_context_tokens
from carr_agent.graph.builder import build_agent, build_agent_graph, make_browser
from carr_agent.graph.config import AgentConfig, AgentContext
from carr_agent.graph.nodes import (
    BudgetRouter,
    FinalizeNode,
    ForceAnswerNode,
    ModelNode,
    ToolsNode,
    route_after_model,
)
from carr_agent.graph.prompts import (
    BUDGET_EXHAUSTED_MESSAGE,
    DEFAULT_SYSTEM_PROMPT,
    answer_format_instructions,
)
from carr_agent.graph.state import AgentInput, AgentState, FinalAnswer, ResolvedCitation
from carr_agent.graph.tools import BrowsingSession, browser_tools
from carr_agent.graph.trajectory import (
    messages_from_trajectory,
    to_reference_history,
    trajectory_to_dict,
)

__all__ = [
    "BUDGET_EXHAUSTED_MESSAGE",
    "DEFAULT_SYSTEM_PROMPT",
    "AgentConfig",
    "AgentContext",
    "AgentInput",
    "AgentState",
    "BrowsingSession",
    "BudgetRouter",
    "Budgets",
    "FinalAnswer",
    "FinalizeNode",
    "ForceAnswerNode",
    "ModelNode",
    "ResolvedCitation",
    "ToolsNode",
    "answer_format_instructions",
    "browser_tools",
    "build_agent",
    "build_agent_graph",
    "estimate_context_tokens",
    "make_browser",
    "messages_from_trajectory",
    "parse_answer",
    "resolve_citations",
    "route_after_model",
    "to_reference_history",
    "trajectory_to_dict",
]
