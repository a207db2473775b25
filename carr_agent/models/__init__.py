"""Chat models the agent runs on, and the token recording training builds on.

- :mod:`~carr_agent.models.toolcalls` — parse ``<tool_call>`` text into tool calls (pure).
- :mod:`~carr_agent.models.hf_chat` — :class:`HFChatModel`, a LangChain chat model over a local
  ``transformers`` model; samples or teacher-forces turns and records their tokens/log-probs.
- :mod:`~carr_agent.models.recording` — :class:`Turn` and :class:`TurnRecorder`.
- :mod:`~carr_agent.models.tiny` — a tiny random Qwen2 + tokenizer for tests (no download).
- :mod:`~carr_agent.models.registry` / :mod:`~carr_agent.models.offline` — the embedded offline
  models (installed from hash-pinned packages, verified, cached) and ``load_local_chat_model``.
- :mod:`~carr_agent.models.openai_compat` — OpenAI-compatible servers (vLLM, DeepSeek, OpenAI).
- :mod:`~carr_agent.models.spec` — a chat model from a one-line description (CLI, run context).
- :mod:`~carr_agent.models.scripted` — :class:`ScriptedChatModel`, replays scripted turns
  (tests and demos: ``--model scripted:PATH.json``).

Heavy modules are imported on first attribute access, so ``import carr_agent.models`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HFChatModel": "carr_agent.models.hf_chat",
    "messages_to_chat_dicts": "carr_agent.models.hf_chat",
    "Turn": "carr_agent.models.recording",
    "TurnRecorder": "carr_agent.models.recording",
    "ParsedToolCalls": "carr_agent.models.toolcalls",
    "parse_tool_calls": "carr_agent.models.toolcalls",
    "build_tiny_model": "carr_agent.models.tiny",
    "build_tiny_tokenizer": "carr_agent.models.tiny",
    "ModelSpec": "carr_agent.models.registry",
    "MODELS": "carr_agent.models.registry",
    "get_spec": "carr_agent.models.registry",
    "ensure_installed": "carr_agent.models.offline",
    "load_local_chat_model": "carr_agent.models.offline",
    "load_local_model": "carr_agent.models.offline",
    "openai_chat_model": "carr_agent.models.openai_compat",
    "ScriptedChatModel": "carr_agent.models.scripted",
    "chat_model_from_spec": "carr_agent.models.spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'carr_agent.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
