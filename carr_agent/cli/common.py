"""What several commands share: building the agent's chat model and its search backends.

``run`` and ``eval`` (and anything else that runs the agent) take the same ``--model``,
``--base-url``, ``--api-key-env``, ``--temperature``, ``--web`` and ``--corpus`` options and turn
them into objects here, each with a short description for run configurations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from carr_agent.graph.config import DEFAULT_MAX_TOOL_CALLS as DEFAULT_MAX_TOOL_CALLS
from carr_agent.graph.config import DEFAULT_PAGE_BUDGET as DEFAULT_PAGE_BUDGET
from carr_agent.graph.config import AgentConfig
from carr_agent.models.spec import DEFAULT_LOCAL_MODEL as DEFAULT_LOCAL_MODEL


def make_chat_model(
    name: str, base_url: str | None, api_key_env: str, temperature: float | None = None,
    *, engine: str = "auto", cite_only_seen: bool = False,
) -> tuple[Any, str]:
    """The agent's chat model and its description (see :func:`chat_model_from_spec`)."""
    from carr_agent.models.spec import chat_model_from_spec

    return chat_model_from_spec(name, base_url, api_key_env, temperature, engine=engine,
                                cite_only_seen=cite_only_seen)


def make_backends(web: bool, corpus: Path | None) -> tuple[Any, Any, str]:
    """Search backend, page fetcher and their description (see :func:`backends_from_spec`)."""
    from carr_agent.tools.backends import WEB, backends_from_spec

    return backends_from_spec(WEB if web else corpus)


# -- the shared options, declared once ---------------------------------------------------------

ModelOption = Annotated[str, typer.Option(
    "--model",
    help="A local model name (default), a model name on --base-url, or scripted:PATH.json "
         "(replays scripted turns from a file: for tests and demos).",
)]
BaseUrlOption = Annotated[str | None, typer.Option(
    "--base-url",
    help="OpenAI-compatible endpoint of the agent model, e.g. http://127.0.0.1:8000/v1 (vLLM).",
)]
ApiKeyEnvOption = Annotated[str, typer.Option(
    "--api-key-env", help="Environment variable holding the agent endpoint's API key.",
)]
TemperatureOption = Annotated[float | None, typer.Option(
    "--temperature", min=0.0,
    help="Sampling temperature (0 = greedy). Default: greedy for a local model, the server's "
         "default for an endpoint.",
)]
WebOption = Annotated[bool, typer.Option(
    "--web", help="Search the web (DuckDuckGo) and fetch live pages (needs internet).",
)]
CorpusOption = Annotated[Path | None, typer.Option(
    "--corpus", metavar="INDEX|JSONL|example",
    help="Offline corpus: an index directory (`carr-agent corpus build`), a corpus JSONL, or "
         "'example' (the shipped example corpus; the default).",
)]
EngineOption = Annotated[str, typer.Option(
    "--engine", metavar="auto|llama|hf",
    help="Engine of a local model: llama (llama.cpp, the GGUF as shipped: fast), hf "
         "(transformers, float32: slow) or auto (llama when llama-cpp-python is installed).",
)]
CiteOnlySeenOption = Annotated[bool, typer.Option(
    "--cite-only-seen",
    help="Constrain the answer's citations to pages the run was shown (llama engine; an "
         "inference-time guard, not something a trained policy relies on).",
)]
MaxToolCallsOption = Annotated[int, typer.Option(
    "--max-tool-calls", min=0, help="Tool calls before the answer is demanded.",
)]
MinToolCallsOption = Annotated[int | None, typer.Option(
    "--min-tool-calls", min=0,
    help="Tool calls required before the model may answer (default 1, so the agent looks "
         "things up instead of answering from memory).",
)]


MaxContextTokensOption = Annotated[int | None, typer.Option(
    "--max-context-tokens", min=1, help="Approximate history size at which the answer is demanded.",
)]
PageBudgetOption = Annotated[int, typer.Option(
    "--page-budget", min=1, help="Characters of an opened page shown to the model.",
)]


def agent_config(max_tool_calls: int, min_tool_calls: int | None, max_context_tokens: int | None,
                 page_budget: int) -> AgentConfig:
    """The agent's budgets from the shared options (``--min-tool-calls`` defaults to one).

    Raises:
        ConfigError: inconsistent budgets (e.g. more required tool calls than allowed).
    """
    return AgentConfig(max_tool_calls=max_tool_calls, min_tool_calls=min_tool_calls,
                       max_context_tokens=max_context_tokens, page_budget=page_budget)
