"""What a run's context selects: its budgets, its chat model and its browser.

A graph is built with a model, a browser and an :class:`~carr_agent.graph.config.AgentConfig`;
a run may change any of them through its LangGraph context
(:class:`~carr_agent.graph.config.AgentContext`). :class:`RunChoices` is shared by the nodes of
one graph and resolves a run's choices, building each model and browser a context names once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from carr_agent.graph.config import AgentConfig, AgentContext
from carr_agent.models.spec import DEFAULT_API_KEY_ENV

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from carr_agent.tools.browser import Browser

logger = logging.getLogger(__name__)
_CONTEXT_KEYS = frozenset(f.name for f in fields(AgentContext))


def run_context() -> AgentContext | None:
    """The current run's :class:`AgentContext`, or None (no context, or outside a graph run).

    A mapping context (a graph embedding these nodes with its own context schema) contributes
    the keys :class:`AgentContext` knows; other context types are not ours and are ignored.
    """
    from langgraph.runtime import get_runtime

    try:
        runtime = get_runtime()
    except RuntimeError:  # not inside a runnable
        return None
    context = getattr(runtime, "context", None)
    if context is None or isinstance(context, AgentContext):
        return context
    if isinstance(context, Mapping):
        return AgentContext(**{k: v for k, v in context.items() if k in _CONTEXT_KEYS})
    return None


class RunChoices:
    """The graph's model, browser and configuration, and what each run's context changes.

    Args:
        model: the chat model runs use unless their context names another.
        browser: the browser runs use unless their context names a search backend or page budget.
        config: the budgets runs use unless their context changes them.
    """

    def __init__(self, model: BaseChatModel, browser: Browser, config: AgentConfig) -> None:
        self._model = model
        self._browser = browser
        self._config = config
        self._models: dict[tuple[str, str | None, str], BaseChatModel] = {}
        self._browsers: dict[tuple[str | None, int], Browser] = {}
        self._lock = threading.Lock()

    def config(self, context: AgentContext | None = None) -> AgentConfig:
        """The budgets of a run with ``context``."""
        return self._config.with_context(context)

    def model(self, context: AgentContext | None = None) -> BaseChatModel:
        """The chat model of a run with ``context`` (built once per distinct description)."""
        if context is None or context.model is None:
            return self._model
        from carr_agent.models.spec import chat_model_from_spec

        key = (context.model, context.base_url, context.api_key_env or DEFAULT_API_KEY_ENV)
        with self._lock:
            if key not in self._models:
                self._models[key], description = chat_model_from_spec(*key)
                logger.info("run context: model %s", description)
            return self._models[key]

    def browser(self, context: AgentContext | None = None) -> Browser:
        """The browser of a run with ``context`` (the graph's leakage guard is kept)."""
        if context is None or (context.search is None and context.page_budget is None):
            return self._browser
        from carr_agent.tools.backends import backends_from_spec
        from carr_agent.tools.browser import Browser

        page_budget = self.config(context).page_budget
        key = (context.search, page_budget)
        with self._lock:
            if key not in self._browsers:
                if context.search is None:
                    search: Any = self._browser.search_backend
                    fetcher: Any = self._browser.fetcher
                else:
                    search, fetcher, description = backends_from_spec(context.search)
                    logger.info("run context: search %s", description)
                old = self._browser
                self._browsers[key] = Browser(
                    search=search, fetcher=fetcher, guard=old.guard, page_budget=page_budget,
                    find_context=old.find_context, max_find_matches=old.max_find_matches,
                    default_k=old.default_k,
                )
            return self._browsers[key]


__all__ = ["RunChoices", "run_context"]
