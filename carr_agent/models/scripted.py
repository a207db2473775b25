"""A chat model that replays scripted turns: for tests, demos and docs, not for research.

The turn it plays is chosen by the conversation, not by a counter: turn ``i`` answers a prompt
that already holds ``i`` assistant messages. So the model is stateless, one object serves many
runs, and a run resumed from a checkpoint (even in a new process) continues with the right turn.

A script is a JSON list (or ``{"turns": [...]}``); each turn is a string (a plain reply) or::

    {"content": "...", "tool_calls": [{"name": "search", "args": {"query": "..."}}],
     "invalid_tool_calls": [{"name": "open", "args": "{not json", "error": "bad JSON"}],
     "raise": "simulated failure"}     # raise ModelError instead of answering (resume tests)

``carr-agent run --model scripted:PATH.json`` uses one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from carr_agent.errors import ConfigError, ModelError

_TURN_KEYS = frozenset({"content", "tool_calls", "invalid_tool_calls", "raise"})


class ScriptedChatModel(BaseChatModel):
    """Replays ``turns``; turn ``i`` answers a prompt holding ``i`` assistant messages.

    Attributes:
        turns: the script (see the module docstring); validated on construction.
    """

    turns: list[dict[str, Any]]

    def __init__(self, turns: Any, **kwargs: Any) -> None:
        super().__init__(turns=_check_turns(turns), **kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedChatModel:
        """Load a script from a JSON file.

        Raises:
            ConfigError: the file is missing or unreadable, not UTF-8, not JSON (or nested too
                deeply), or a turn is malformed (named by index).
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"script file not found: {p}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read script file {p}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"script file {p} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except RecursionError as exc:
            raise ConfigError(f"script file {p} is not usable JSON: nested too deeply") from exc
        except ValueError as exc:  # JSONDecodeError, or an integer over Python's digit limit
            raise ConfigError(f"script file {p} is not valid JSON: {exc}") from exc
        return cls(turns=data)

    @property
    def _llm_type(self) -> str:
        return "carr-agent-scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        """Accept any tools: the script decides which are called."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        n = sum(isinstance(m, AIMessage) for m in messages)
        if n >= len(self.turns):
            raise ModelError(f"the script has {len(self.turns)} turns; turn {n} was asked for")
        turn = self.turns[n]
        if "raise" in turn:
            raise ModelError(f"scripted failure at turn {n}: {turn['raise']}")
        message = AIMessage(
            content=turn.get("content", ""),
            tool_calls=[
                {"name": c["name"], "args": c.get("args", {}), "id": f"call_{n}_{i}",
                 "type": "tool_call"}
                for i, c in enumerate(turn.get("tool_calls", []))
            ],
            invalid_tool_calls=[
                {"name": c.get("name"), "args": c.get("args"), "id": f"bad_{n}_{i}",
                 "error": c.get("error"), "type": "invalid_tool_call"}
                for i, c in enumerate(turn.get("invalid_tool_calls", []))
            ],
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _check_turns(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and "turns" in value:
        value = value["turns"]
    if not isinstance(value, list) or not value:
        raise ConfigError("a script is a non-empty JSON list of turns (or {'turns': [...]})")
    return [_check_turn(i, t) for i, t in enumerate(value)]


def _check_turn(i: int, turn: Any) -> dict[str, Any]:
    if isinstance(turn, str):
        return {"content": turn}
    if not isinstance(turn, dict):
        raise ConfigError(f"script turn {i}: expected a string or an object, got {type(turn).__name__}")
    unknown = set(turn) - _TURN_KEYS
    if unknown:
        raise ConfigError(f"script turn {i}: unknown keys {sorted(unknown)}; allowed: {sorted(_TURN_KEYS)}")
    if not isinstance(turn.get("content", ""), str):
        raise ConfigError(f"script turn {i}: 'content' must be a string")
    for key in ("tool_calls", "invalid_tool_calls"):
        if not isinstance(turn.get(key, []), list) or not all(
                isinstance(c, dict) for c in turn.get(key, [])):
            raise ConfigError(f"script turn {i}: {key!r} must be a list of objects")
    for j, call in enumerate(turn.get("tool_calls", [])):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) \
                or not isinstance(call.get("args", {}), dict):
            raise ConfigError(
                f"script turn {i}, tool call {j}: expected {{'name': str, 'args': object}}"
            )
    return dict(turn)


__all__ = ["ScriptedChatModel"]
