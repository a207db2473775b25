"""The agent for LangGraph Studio and ``langgraph dev`` (the repository's ``langgraph.json``).

``langgraph dev`` (``pip install "langgraph-cli[inmem]"``) serves :func:`make_graph`; Studio then
shows the input form (``question`` or ``messages``) and the run configuration form
(:class:`~carr_agent.graph.config.AgentContext`: model, base URL, search backend, budgets).

The graph's own model and search backend, used by runs whose context names none, come from the
environment: ``CARR_AGENT_MODEL`` (default: the embedded local model), ``CARR_AGENT_BASE_URL``
(an OpenAI-compatible endpoint serving it), ``CARR_AGENT_API_KEY_ENV`` (the variable holding its
key) and ``CARR_AGENT_SEARCH`` (``web``, ``corpus`` or a corpus path; default: the example corpus).
"""

from __future__ import annotations

import os
from typing import Any

from carr_agent.models.spec import DEFAULT_API_KEY_ENV, DEFAULT_LOCAL_MODEL

ENV_MODEL = "CARR_AGENT_MODEL"
ENV_BASE_URL = "CARR_AGENT_BASE_URL"
ENV_API_KEY_ENV = "CARR_AGENT_API_KEY_ENV"
ENV_SEARCH = "CARR_AGENT_SEARCH"


def make_graph(config: Any = None) -> Any:
    """The compiled agent, its model and search backend read from the environment.

    Args:
        config: the server's run configuration (unused: each run's ``context`` configures it).
    """
    from carr_agent.graph.builder import build_agent
    from carr_agent.models.spec import chat_model_from_spec
    from carr_agent.tools.backends import backends_from_spec

    env = os.environ
    model, _ = chat_model_from_spec(env.get(ENV_MODEL, DEFAULT_LOCAL_MODEL), env.get(ENV_BASE_URL),
                                    env.get(ENV_API_KEY_ENV, DEFAULT_API_KEY_ENV))
    search, fetcher, _ = backends_from_spec(env.get(ENV_SEARCH))
    return build_agent(model, search=search, fetcher=fetcher)


__all__ = ["ENV_API_KEY_ENV", "ENV_BASE_URL", "ENV_MODEL", "ENV_SEARCH", "make_graph"]
