"""A chat model from a one-line description: what the CLI's ``--model``/``--base-url`` and a run's
:class:`~carr_agent.graph.config.AgentContext` name.

* ``scripted:PATH.json`` — replays scripted turns from a file (tests, demos);
* ``NAME`` with a ``base_url`` — ``NAME`` on that OpenAI-compatible endpoint (vLLM, OpenAI, ...);
* ``NAME`` alone — an embedded local model (see :mod:`carr_agent.models.registry`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from carr_agent.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

#: Prefix of a scripted model's description.
SCRIPTED = "scripted:"
#: The local model used when none is named.
DEFAULT_LOCAL_MODEL = "qwen2.5-0.5b"
#: Environment variable holding an endpoint's API key unless another is named.
DEFAULT_API_KEY_ENV = "CARR_API_KEY"


def chat_model_from_spec(
    name: str,
    base_url: str | None = None,
    api_key_env: str = DEFAULT_API_KEY_ENV,
    temperature: float | None = None,
    *,
    engine: str = "auto",
    cite_only_seen: bool = False,
) -> tuple[BaseChatModel, str]:
    """The chat model ``name`` describes, and a description of it for run records.

    An endpoint model keeps the server's default temperature unless one is given; a local model
    samples greedily unless a temperature is given (small local models make far fewer malformed
    tool calls greedily than at T=1) and runs on ``engine``: ``llama`` (llama.cpp, the GGUF as
    shipped), ``hf`` (transformers, float32) or ``auto`` (llama when llama-cpp-python is
    installed). ``cite_only_seen`` (llama engine) constrains the answer's citations to pages the
    run was shown.

    Raises:
        ConfigError: unknown local model name (the message says how to use an endpoint).
        ModelError: the local model is not installed (the message names the install command).
    """
    if name.startswith(SCRIPTED):
        from carr_agent.models.scripted import ScriptedChatModel

        path = Path(name[len(SCRIPTED):])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "?"
        return ScriptedChatModel.from_file(path), f"scripted:{path.name}:{digest}"
    if base_url is not None:
        from carr_agent.models.openai_compat import openai_chat_model

        extra = {} if temperature is None else {"temperature": temperature}
        model = openai_chat_model(name, base_url, os.environ.get(api_key_env), **extra)
        return model, f"{name}@{base_url}" + ("" if temperature is None else f":t={temperature}")
    from carr_agent.models.offline import (
        load_llama_chat_model,
        load_local_chat_model,
        resolve_engine,
    )
    from carr_agent.models.registry import get_spec

    t = 0.0 if temperature is None else temperature
    try:
        get_spec(name)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (for a model on an OpenAI-compatible server add --base-url URL)"
        ) from exc
    chosen = resolve_engine(engine)
    if cite_only_seen and chosen != "llama":
        raise ConfigError("--cite-only-seen needs the llama engine (llama-cpp-python)")
    if chosen == "llama":
        llama = load_llama_chat_model(name, temperature=t, cite_only_seen=cite_only_seen)
        cite = ":cite_only_seen" if cite_only_seen else ""
        return llama, f"local:{name}:llama:t={t}:max_new={llama.max_new_tokens}{cite}"
    local = load_local_chat_model(name, temperature=t)
    return local, f"local:{name}:t={t}:max_new={local.max_new_tokens}"

__all__ = ["DEFAULT_API_KEY_ENV", "DEFAULT_LOCAL_MODEL", "SCRIPTED", "chat_model_from_spec"]
