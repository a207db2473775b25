"""A local chat model behind an OpenAI-compatible endpoint (``carr-agent models serve``).

``POST /v1/chat/completions`` (messages, ``tools``, ``tool_choice``, ``temperature``,
``max_tokens``; no streaming) and ``GET /v1/models``, so ``carr-agent run/eval --base-url`` and
the LLM judge (``serve-reward --judge llm``) can use the offline model like any server. Requests
are served one at a time (the model is one process's CPU); the model's own lock serialises
generation anyway.

Bad requests are a 4xx naming the problem (400 bad JSON or fields, 404 unknown model, 413 a body
over the limit, 422 a conversation the chat template cannot render), never a 500; a model
failure is a 502.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from carr_agent.errors import CarrError, ConfigError, ModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from starlette.applications import Starlette

__all__ = ["create_model_app", "parse_chat_request"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 << 20
_ROLES = {"system", "user", "assistant", "tool"}


class RequestProblem(ValueError):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_chat_request(body: Any, model_name: str) -> dict[str, Any]:
    """Check an OpenAI chat-completions body; returns ``messages`` (LangChain), ``tools``,
    ``tool_choice`` and generation settings.

    Raises:
        RequestProblem: naming the first problem (status 400, or 404 for another model).
    """
    from langchain_core.messages import convert_to_messages

    if not isinstance(body, dict):
        raise RequestProblem("the body must be a JSON object")
    if body.get("stream"):
        raise RequestProblem("streaming is not supported: send stream=false")
    model = body.get("model", model_name)
    if model not in (model_name, None, ""):
        raise RequestProblem(f"unknown model {model!r}; this server serves {model_name!r}", 404)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestProblem("'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise RequestProblem(f"messages[{i}] must be an object with a role in {sorted(_ROLES)}")
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise RequestProblem(f"messages[{i}].content must be a string or a list of parts")
    try:
        converted = convert_to_messages(messages)
    except (ValueError, TypeError, KeyError, NotImplementedError) as exc:
        raise RequestProblem(f"messages could not be read: {exc}") from exc
    tools = body.get("tools") or []
    if not isinstance(tools, list) or not all(
        isinstance(t, dict) and isinstance((t.get("function") or {}).get("name"), str)
        for t in tools
    ):
        raise RequestProblem("'tools' must be a list of {type: function, function: {name, ...}}")
    out: dict[str, Any] = {"messages": converted, "tools": tools,
                           "tool_choice": body.get("tool_choice")}
    for key, kind in (("temperature", (int, float)), ("max_tokens", int)):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind) or value < 0:
            raise RequestProblem(f"'{key}' must be a non-negative number")
        out[key] = value
    return out


def create_model_app(model: BaseChatModel, model_name: str) -> Starlette:
    """The Starlette app serving ``model`` under ``model_name``."""
    from langchain_core.messages import convert_to_openai_messages
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    lock = asyncio.Lock()

    def generate(req: dict[str, Any]) -> Any:
        runnable: Any = model
        if req["tools"]:
            choice = req["tool_choice"]
            if isinstance(choice, dict):
                choice = (choice.get("function") or {}).get("name")
            runnable = model.bind_tools(req["tools"], tool_choice=choice)
        settings = {}
        if "temperature" in req:
            settings["temperature"] = float(req["temperature"])
        if req.get("max_tokens"):
            settings["max_new_tokens"] = int(req["max_tokens"])
        return runnable.invoke(req["messages"], **settings)

    async def completions(request: Request) -> JSONResponse:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _error(f"body over {MAX_BODY_BYTES} bytes", 413)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(f"the body is not JSON: {exc}", 400)
        try:
            req = parse_chat_request(body, model_name)
        except RequestProblem as exc:
            return _error(str(exc), exc.status)
        async with lock:
            try:
                reply = await asyncio.to_thread(generate, req)
            except ConfigError as exc:
                return _error(str(exc), 400)
            except ModelError as exc:
                return _error(str(exc), 422 if "template" in str(exc) else 502)
            except CarrError as exc:
                return _error(str(exc), 502)
        message = convert_to_openai_messages(reply)
        message.setdefault("content", reply.text or None)
        finish = "tool_calls" if reply.tool_calls else "stop"
        if (reply.response_metadata or {}).get("finish_reason") == "length":
            finish = "length"
        usage = reply.usage_metadata or {}
        return JSONResponse({
            "id": "chatcmpl-" + uuid.uuid4().hex,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": usage.get("input_tokens", 0),
                      "completion_tokens": usage.get("output_tokens", 0),
                      "total_tokens": usage.get("total_tokens", 0)},
        })

    async def models(_: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [
            {"id": model_name, "object": "model", "owned_by": "carr-agent"}]})

    return Starlette(routes=[
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ])


def _error(message: str, status: int) -> Any:
    from starlette.responses import JSONResponse

    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)
