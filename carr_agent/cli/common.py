"""What several commands share: building the agent's chat model and its search backends.

``run`` and ``eval`` (and anything else that runs the agent) take the same ``--model``,
``--base-url``, ``--api-key-env``, ``--temperature``, ``--web`` and ``--corpus`` options and turn
them into objects here, each with a short description for run configurations.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer

SCRIPTED = "scripted:"
DEFAULT_LOCAL_MODEL = "qwen2.5-0.5b"


def make_chat_model(
    name: str, base_url: str | None, api_key_env: str, temperature: float | None = None
) -> tuple[Any, str]:
    """The agent's chat model and its description.

    ``scripted:PATH.json`` replays scripted turns (tests, demos); with ``base_url`` the model is
    served by an OpenAI-compatible endpoint (the server's default temperature unless given);
    otherwise ``name`` is a local model, sampled greedily unless a temperature is given (small
    local models make far fewer malformed tool calls greedily than at T=1).

    Raises:
        ConfigError: unknown local model name (the message says how to use an endpoint).
        ModelError: the local model is not installed (the message names the install command).
    """
    if name.startswith(SCRIPTED):
        from carr_agent.graph.scripted import ScriptedChatModel

        path = Path(name[len(SCRIPTED):])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "?"
        return ScriptedChatModel.from_file(path), f"scripted:{path.name}:{digest}"
    if base_url is not None:
        from carr_agent.models import openai_chat_model

        extra = {} if temperature is None else {"temperature": temperature}
        model = openai_chat_model(name, base_url, os.environ.get(api_key_env), **extra)
        return model, f"{name}@{base_url}" + ("" if temperature is None else f":t={temperature}")
    from carr_agent.errors import ConfigError
    from carr_agent.models import load_local_chat_model

    t = 0.0 if temperature is None else temperature
    try:
        model = load_local_chat_model(name, temperature=t)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (for a model on an OpenAI-compatible server add --base-url URL)"
        ) from exc
    return model, f"local:{name}:t={t}:max_new={model.max_new_tokens}"


def make_backends(web: bool, corpus: Path | None) -> tuple[Any, Any, str]:
    """Search backend, page fetcher and their description.

    ``--web``: DuckDuckGo + live pages. Otherwise an offline corpus: an index directory, a corpus
    JSONL (indexed into the cache on first use), or the shipped example corpus.
    """
    if web:
        from carr_agent.tools.fetch import HttpFetcher
        from carr_agent.tools.web import DuckDuckGoSearch

        return DuckDuckGoSearch(), HttpFetcher(), "web:duckduckgo"
    from carr_agent.tools.corpus import CorpusIndex, default_corpus

    if corpus is None:
        index = default_corpus()
    elif corpus.is_dir():
        index = CorpusIndex.open(corpus)
    else:
        index = default_corpus(corpus)
    digest = str(index.meta.get("source_sha256", ""))[:16] or index.index_dir.name
    return index, index, f"corpus:{digest}"


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
    "--corpus", help="Offline corpus: an index directory (`carr-agent corpus build`) or a corpus "
                     "JSONL (default: the shipped example corpus).",
)]
MaxToolCallsOption = Annotated[int, typer.Option(
    "--max-tool-calls", min=0, help="Tool calls before the answer is demanded.",
)]
MinToolCallsOption = Annotated[int | None, typer.Option(
    "--min-tool-calls", min=0,
    help="Tool calls required before the model may answer (default 1, so the agent looks "
         "things up instead of answering from memory).",
)]


def resolve_min_tool_calls(min_tool_calls: int | None, max_tool_calls: int) -> int:
    """``--min-tool-calls``: one by default (within the tool budget)."""
    return min(1, max_tool_calls) if min_tool_calls is None else min_tool_calls
