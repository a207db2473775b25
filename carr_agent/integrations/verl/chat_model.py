"""A chat model whose sampling step is a call to verl's rollout servers (token in, token out).

:class:`ServerChatModel` is an :class:`~carr_agent.models.hf_chat.HFChatModel`: rendering the chat
template (tools included), parsing tool calls and recording each turn's exact prompt ids,
completion ids and log-probabilities are the same code as for local training; only the sampler
differs. It sends the prompt *ids* to ``server_manager.generate(request_id=, prompt_ids=,
sampling_params=)`` (verl's ``LLMServerClient``/``AsyncLLMServerManager``) and records the ids the
server returns, so nothing is re-tokenised.

The graph calls the model from a worker thread (LangChain runs synchronous chat models in an
executor); the server call is a coroutine, so it is scheduled on the agent loop's event loop
with ``asyncio.run_coroutine_threadsafe`` and awaited there.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field

from carr_agent.errors import ModelError
from carr_agent.models.hf_chat import HFChatModel

__all__ = ["RemotePolicy", "ServerChatModel"]


class RemotePolicy:
    """Stands for the network behind a server: one per rollout, so turns are not serialised
    across rollouts (``HFChatModel`` locks per network object)."""

    config = None
    generation_config = None


class ServerChatModel(HFChatModel):
    """:class:`HFChatModel` sampling through verl's server manager.

    Attributes:
        server: verl's server manager (anything with ``async generate(request_id, *, prompt_ids,
            sampling_params)`` returning an object with ``token_ids`` and ``log_probs``).
        loop: the event loop the server manager lives on (the agent loop's).
        request_id: sticky-session id: every turn of one rollout goes to the same server.
        sampling_params: verl's sampling parameters for this rollout.
        call_timeout_s: limit on one server call.
    """

    server: Any = Field(default=None, exclude=True)
    loop: Any = Field(default=None, exclude=True)
    request_id: str = ""
    sampling_params: dict[str, Any] = Field(default_factory=dict)
    call_timeout_s: float = 3600.0
    missing_logprobs: bool = False

    def _check_length(self, n_prompt: int) -> None:
        return None  # the server enforces its own context length

    def _sample(
        self,
        prompt_ids: list[int],
        temperature: float,
        max_new_tokens: int,
        stop: list[str] | None,
    ) -> tuple[list[int], list[float], Literal["stop", "length"]]:
        if self.server is None or self.loop is None:
            raise ModelError("ServerChatModel needs a server manager and its event loop")
        call = self.server.generate(
            request_id=self.request_id, prompt_ids=list(prompt_ids),
            sampling_params=dict(self.sampling_params),
        )
        try:
            output = asyncio.run_coroutine_threadsafe(call, self.loop).result(self.call_timeout_s)
        except TimeoutError as exc:
            raise ModelError(f"the rollout server did not answer within {self.call_timeout_s} s") from exc
        ids = [int(t) for t in output.token_ids]
        logprobs = getattr(output, "log_probs", None)
        if logprobs is None or len(logprobs) != len(ids):
            self.missing_logprobs = True
            logprobs = [0.0] * len(ids)
        finish: Literal["stop", "length"] = "stop" if ids and ids[-1] in self._end_ids() else "length"
        return ids, [float(x) for x in logprobs], finish
