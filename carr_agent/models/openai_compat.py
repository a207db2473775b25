"""Chat models behind OpenAI-compatible HTTP APIs: vLLM, DeepSeek, OpenAI, any local server.

Examples::

    # A local vLLM server (tool calls need the two flags):
    #   vllm serve Qwen/Qwen2.5-7B-Instruct --host 127.0.0.1 --port 8000 \\
    #       --enable-auto-tool-choice --tool-call-parser hermes
    llm = openai_chat_model("Qwen/Qwen2.5-7B-Instruct", base_url="http://127.0.0.1:8000/v1")

    # DeepSeek (key in $CARR_API_KEY or $OPENAI_API_KEY, or api_key=...):
    llm = openai_chat_model("deepseek-chat", base_url="https://api.deepseek.com/v1")

    # OpenAI:
    llm = openai_chat_model("gpt-4o-mini")

The Chat Completions API is always used (``use_responses_api=False``): vLLM and most compatible
servers do not implement OpenAI's Responses API, and langchain-openai switches to it implicitly
for some arguments and model names.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from carr_agent.errors import ConfigError

__all__ = ["API_KEY_ENV_VARS", "openai_chat_model", "resolve_api_key"]

#: Environment variables searched for an API key, first match wins.
API_KEY_ENV_VARS = ("CARR_API_KEY", "OPENAI_API_KEY")


def resolve_api_key(base_url: str | None, api_key: str | None = None) -> str:
    """The API key to send: explicit, else from the environment, else ``"EMPTY"`` for local servers.

    Raises:
        ConfigError: A remote endpoint and no key anywhere (names the variables to set).
    """
    if api_key:
        return api_key
    for var in API_KEY_ENV_VARS:
        value = os.environ.get(var)
        if value:
            return value
    if base_url is not None and _is_local(base_url):
        return "EMPTY"  # vLLM and llama.cpp servers accept any key unless started with --api-key
    where = base_url or "the OpenAI API"
    raise ConfigError(
        f"no API key for {where}: pass api_key=... or set {' or '.join(API_KEY_ENV_VARS)}"
    )


def openai_chat_model(
    model: str,
    base_url: str | None = None,
    api_key: str | None = None,
    **kwargs: Any,
) -> Any:
    """A ``ChatOpenAI`` on the Chat Completions API, for any OpenAI-compatible endpoint.

    Args:
        model: Model name as the server knows it.
        base_url: Endpoint root including ``/v1`` (``None`` = api.openai.com).
        api_key: Key; defaults to ``$CARR_API_KEY`` / ``$OPENAI_API_KEY``, or ``"EMPTY"`` for a
            server on localhost / a private address.
        **kwargs: Further ``ChatOpenAI`` fields (``temperature``, ``max_tokens``, ``timeout``,
            ``max_retries``, ``extra_body={"return_token_ids": True}`` for vLLM token ids, ...).

    Returns:
        A ``langchain_openai.ChatOpenAI`` (supports ``bind_tools`` and structured output).
    """
    if not model or not model.strip():
        raise ConfigError("openai_chat_model needs a model name")
    if kwargs.get("use_responses_api"):
        raise ConfigError(
            "carr_agent uses the Chat Completions API; use_responses_api must be False"
        )
    kwargs.pop("use_responses_api", None)
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key=SecretStr(resolve_api_key(base_url, api_key)),
        use_responses_api=False,
        **kwargs,
    )


def _is_local(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    if host in ("localhost", "host.docker.internal") or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private
