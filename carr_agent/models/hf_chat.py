"""A langchain-core chat model over a local ``transformers`` causal LM, with token recording.

:class:`HFChatModel` lets the agent graph run on a local model (the offline default, SmolLM2 for
CPU training, or the tiny random test model) exactly as it runs on an API model: it renders the
conversation with the tokenizer's chat template (tools included), samples a reply, parses
``<tool_call>`` blocks into ``AIMessage.tool_calls`` and reports malformed ones as
``invalid_tool_calls``.

For training it can record every turn at token level (:mod:`carr_agent.models.recording`). Prompt
ids are built token-in/token-out: a turn that follows one of this model's own turns gets that
turn's prompt ids + its sampled ids + the encoded new messages, so what the policy sampled is
never re-tokenised. It can also be *scripted*: given completions as text, it teacher-forces them — one forward pass scores the
text under the policy — and records them exactly like sampled turns. Tests and the CPU training
check use this to drive real tool calls through a random tiny model.

Sampling is a plain incremental-decoding loop (KV cache, batch 1) rather than
``model.generate``, so the recorded log-probabilities are by construction those of the
distribution the token was drawn from, and a ``seed`` gives a private ``torch.Generator``
without touching global RNG state. One lock per underlying network serialises generation, so
one model object can be shared by concurrent graph runs.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from carr_agent.errors import ConfigError, ContextLengthError, ModelError
from carr_agent.models.chat_template import tools_system_block
from carr_agent.models.recording import Turn, TurnRecorder
from carr_agent.models.sampling import truncated_log_softmax
from carr_agent.models.toolcalls import OPEN_TAG, parse_tool_calls

__all__ = ["HFChatModel", "messages_to_chat_dicts"]

logger = logging.getLogger(__name__)

END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")

# Recorders opened with ``HFChatModel.recording()``: (network, recorder) pairs of this context.
_ACTIVE: contextvars.ContextVar[tuple[tuple[Any, TurnRecorder], ...]] = contextvars.ContextVar(
    "carr_agent_active_recorders", default=()
)
_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class _TurnTokens:
    """What a later turn needs to extend this one token-in/token-out."""

    ids: array[int]  # prompt ids + completion ids
    text: str  # prompt text (with prefill) + completion text (without the end token)
    end_text: str  # the completion's end-of-turn token as text ("" when it hit the length cap)


class _TurnCache:
    """A bounded, thread-safe map ``AIMessage.id`` → :class:`_TurnTokens` (oldest evicted)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, _TurnTokens] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, value: _TurnTokens) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, key: str) -> _TurnTokens | None:
        with self._lock:
            return self._items.get(key)


# Token-in/token-out history: the turns this process made, by message id. A turn evicted from it
# (more than _TURN_CACHE_SIZE turns ago) is re-encoded from text, like a first turn.
_TURN_CACHE_SIZE = 4096
_HISTORY = _TurnCache(_TURN_CACHE_SIZE)


def _lock_for(network: Any) -> threading.Lock:
    """One generation lock per torch module, shared by every wrapper around it."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(network)
        if lock is None:
            lock = _LOCKS[network] = threading.Lock()
        return lock


class HFChatModel(BaseChatModel):
    """Chat model over a ``transformers`` causal LM and its tokenizer.

    Example::

        from carr_agent.models.tiny import build_tiny_model
        net, tok = build_tiny_model()
        llm = HFChatModel(model=net, tokenizer=tok, max_new_tokens=64)
        agent_llm = llm.bind_tools([search, open_page, find])
        with llm.recording() as rec:
            reply = agent_llm.invoke("Who landed on the Moon first?")
        rec.turns[0].completion_ids, rec.turns[0].logprobs

    Attributes:
        model: The causal LM (``PreTrainedModel``); put it in eval mode and on its device first.
        tokenizer: Its tokenizer; must have a chat template.
        model_name: Reported in ``response_metadata`` and tracing.
        temperature: Sampling temperature; ``0`` means greedy decoding.
        top_p: Nucleus sampling mass (1.0 = off).
        top_k: Keep only the k most likely tokens (0 = off).
        max_new_tokens: Cap on completion length; a turn that hits it ends with
            ``finish_reason == "length"``.
        seed: Seeds a private ``torch.Generator`` (global RNG untouched); ``None`` uses torch's
            global RNG.
        recorder: Receives a :class:`Turn` for every turn this object makes.
        script: Completions to teacher-force instead of sampling, consumed one per turn.
        raw_history: Render this model's own earlier turns from their raw completion text
            (``response_metadata["raw_completion"]``) instead of re-serialising ``tool_calls``,
            so a later prompt contains exactly what was generated (prefix-consistent prompts).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Any
    tokenizer: Any
    model_name: str = "local-hf"
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 512
    seed: int | None = None
    recorder: TurnRecorder | None = Field(default=None, exclude=True)
    script: Iterator[str] | None = Field(default=None, exclude=True)
    raw_history: bool = True

    _generator: Any = PrivateAttr(default=None)
    _script_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Checked here, not in a pydantic validator, so callers get a ConfigError.
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ConfigError(f"top_k must be >= 0, got {self.top_k}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError("the tokenizer has no chat template; HFChatModel needs one")

    # ------------------------------------------------------------------ LangChain interface

    @property
    def _llm_type(self) -> str:
        return "carr-agent-hf"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "max_new_tokens": self.max_new_tokens,
        }

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (rendered into the prompt via the chat template's ``tools=``).

        Args:
            tools: LangChain tools, functions, pydantic classes or OpenAI tool dicts.
            tool_choice: ``None``/``"auto"`` (model decides), ``"none"`` (tools stay in the prompt; calls are not parsed),
                ``"any"``/``"required"``/``True`` (a call is forced by prefilling
                ``<tool_call>``), or a tool name / ``{"function": {"name": ...}}`` (that call is
                forced by prefilling its name). Forcing applies to sampled turns only; scripted
                completions are used as given.
            **kwargs: Further generation kwargs bound along (e.g. ``max_new_tokens``).
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        names = [t["function"]["name"] for t in formatted]
        _prefill_for(tool_choice, names)  # validates
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools: list[dict[str, Any]] = list(kwargs.pop("tools", None) or [])
        tool_choice = kwargs.pop("tool_choice", None)
        kwargs.pop("ls_structured_output_format", None)
        temperature = float(kwargs.pop("temperature", self.temperature))
        max_new_tokens = int(kwargs.pop("max_new_tokens", self.max_new_tokens))
        if kwargs:
            raise ConfigError(f"unsupported generation arguments: {sorted(kwargs)}")
        names = [t["function"]["name"] for t in tools]
        if tool_choice == "none":
            names = []  # tools stay in the prompt (it must extend the history), no call forced
        prefill = _prefill_for(tool_choice, names)

        prompt_text = self.render_prompt(messages, tools)
        lock = _lock_for(self.model)
        with lock:
            scripted = self._next_scripted()
            if scripted is not None:
                prefill = ""
            prompt_ids, tito = self._prompt_ids(messages, prompt_text + prefill)
            self._check_length(len(prompt_ids))
            finish: Literal["stop", "length"] = "stop"
            if scripted is not None:
                completion_ids = self._encode_completion(scripted)
                lp_temperature = temperature if temperature > 0 else 1.0
                logprobs = self._score_locked(prompt_ids, completion_ids, lp_temperature)
            else:
                completion_ids, logprobs, finish = self._sample(
                    prompt_ids, temperature, max_new_tokens, stop
                )
                lp_temperature = temperature if temperature > 0 else 1.0
        text = self._decode_completion(completion_ids)
        raw = prefill + text
        parsed = parse_tool_calls(raw, names or None)
        message_id = "msg_" + uuid.uuid4().hex
        _HISTORY.put(message_id, _TurnTokens(
            ids=array("l", [*prompt_ids, *completion_ids]),
            text=prompt_text + raw,
            end_text=self._end_text(completion_ids),
        ))
        run_key = _run_key(run_manager)
        turn = Turn(
            prompt_ids=prompt_ids,
            completion_ids=completion_ids,
            logprobs=logprobs,
            text=text,
            prefill=prefill,
            temperature=lp_temperature,
            finish_reason=finish,
            scripted=scripted is not None,
            run_key=run_key,
            message_id=message_id,
            tito=tito,
            top_p=self.top_p,
            top_k=self.top_k,
        )
        self._record(turn)
        message = AIMessage(
            content=parsed.content,
            tool_calls=parsed.tool_calls,
            invalid_tool_calls=parsed.invalid_tool_calls,
            id=message_id,
            usage_metadata={
                "input_tokens": len(prompt_ids),
                "output_tokens": len(completion_ids),
                "total_tokens": len(prompt_ids) + len(completion_ids),
            },
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": finish,
                "raw_completion": raw,
                "scripted": scripted is not None,
            },
        )
        if parsed.invalid_tool_calls:
            logger.debug("malformed tool call(s): %s", parsed.invalid_tool_calls)
        return ChatResult(generations=[ChatGeneration(message=message)])

    # ------------------------------------------------------------------ recording & scripting

    @contextmanager
    def recording(self, recorder: TurnRecorder | None = None) -> Iterator[TurnRecorder]:
        """Record the turns this network makes in the current context (thread / asyncio task).

        Any wrapper around the same network (``with_recorder``/``scripted`` copies, bound
        runnables) records into it; concurrent runs in other contexts do not.

        Args:
            recorder: Where to record; a new :class:`TurnRecorder` when omitted.

        Yields:
            The recorder.
        """
        rec = recorder if recorder is not None else TurnRecorder()
        token = _ACTIVE.set((*_ACTIVE.get(), (self.model, rec)))
        try:
            yield rec
        finally:
            _ACTIVE.reset(token)

    def with_recorder(self, recorder: TurnRecorder) -> HFChatModel:
        """A copy sharing the weights and lock whose every turn goes to ``recorder``."""
        return self.model_copy(update={"recorder": recorder})

    def scripted(self, completions: Iterable[str]) -> HFChatModel:
        """A copy sharing the weights that teacher-forces ``completions``, one per turn.

        Each completion is the assistant text (e.g. ``'<tool_call>\\n{...}\\n</tool_call>'``);
        the end-of-turn token is appended when missing. The copy raises :class:`ModelError` when
        asked for more turns than were scripted.
        """
        return self.model_copy(update={"script": iter(completions)})

    def _next_scripted(self) -> str | None:
        if self.script is None:
            return None
        with self._script_lock:
            try:
                return next(self.script)
            except StopIteration:
                raise ModelError("the scripted model ran out of completions") from None

    def _record(self, turn: Turn) -> None:
        if self.recorder is not None:
            self.recorder.record(turn)
        for network, rec in _ACTIVE.get():
            if network is self.model and rec is not self.recorder:
                rec.record(turn)

    # ------------------------------------------------------------------ rendering

    def render_prompt(self, messages: Sequence[BaseMessage], tools: Sequence[dict] = ()) -> str:
        """The exact prompt text the model sees for ``messages`` (ending in the assistant header).

        Args:
            messages: The conversation.
            tools: OpenAI-format tool schemas (as produced by ``bind_tools``).
        """
        chat = messages_to_chat_dicts(messages, raw_history=self.raw_history)
        template = self.tokenizer.chat_template
        template_src = template if isinstance(template, str) else str(template)
        if tools and "tools" not in template_src:
            chat = _inject_tools(chat, list(tools))
            tools = ()
        try:
            return self.tokenizer.apply_chat_template(
                chat, tools=list(tools) or None, add_generation_prompt=True, tokenize=False
            )
        except Exception as exc:  # jinja errors: the template cannot render this conversation
            raise ModelError(f"the chat template failed to render the conversation: {exc}") from exc

    # ------------------------------------------------------------------ tokens

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _prompt_ids(self, messages: Sequence[BaseMessage], full_text: str) -> tuple[list[int], bool]:
        """The prompt's token ids, built token-in/token-out when the history allows it.

        When the last assistant message of ``messages`` is a turn this model made (its id is in the
        turn cache) and the rendered prompt still starts with that turn's prompt text + completion
        text, the ids are *that turn's prompt ids + its sampled ids + the encoded new text* (tool
        outputs, template glue, the next assistant header). The sampled ids are never re-tokenised:
        what the policy produced is what it sees next and what the trainer scores. Otherwise (first
        turn, a history rewritten by the caller, a turn made by another model) the rendered text
        is encoded. Returns ``(ids, built_token_in_token_out)``.
        """
        last_ai = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        entry = _HISTORY.get(last_ai.id) if last_ai is not None and last_ai.id else None
        if entry is not None and full_text.startswith(entry.text):
            delta = full_text[len(entry.text):]
            if entry.end_text and delta.startswith(entry.end_text):
                delta = delta[len(entry.end_text):]  # the sampled end token is already in the ids
            return [*entry.ids, *self._encode(delta)], True
        return self._encode(full_text), False

    def _end_text(self, completion_ids: list[int]) -> str:
        if completion_ids and completion_ids[-1] in self._end_ids():
            return str(self.tokenizer.decode(completion_ids[-1:], skip_special_tokens=False))
        return ""

    def _end_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()
        vocab = self.tokenizer.get_vocab()
        ids.update(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        if isinstance(gen_eos, int):
            ids.add(gen_eos)
        elif isinstance(gen_eos, list):
            ids.update(gen_eos)
        return ids

    def _end_token_id(self) -> int:
        vocab = self.tokenizer.get_vocab()
        if "<|im_end|>" in vocab:
            return vocab["<|im_end|>"]
        if self.tokenizer.eos_token_id is None:
            raise ModelError("the tokenizer has no end-of-turn token")
        return int(self.tokenizer.eos_token_id)

    def _encode_completion(self, text: str) -> list[int]:
        ids = self._encode(text)
        if not ids or ids[-1] not in self._end_ids():
            ids.append(self._end_token_id())
        return ids

    def _decode_completion(self, ids: list[int]) -> str:
        body = ids[:-1] if ids and ids[-1] in self._end_ids() else ids
        return self.tokenizer.decode(body, skip_special_tokens=False)

    def _check_length(self, n_prompt: int) -> None:
        limit = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        if isinstance(limit, int) and n_prompt >= limit:
            raise ContextLengthError(
                f"the prompt has {n_prompt} tokens, the model's context is {limit} tokens"
            )

    # ------------------------------------------------------------------ scoring & sampling

    def score(
        self, prompt_ids: Sequence[int], completion_ids: Sequence[int], temperature: float = 1.0
    ) -> list[float]:
        """Log-probability of each completion token under ``softmax(logits / temperature)``,
        restricted to this model's top-k/top-p set (each completion token kept in it).

        One forward pass over ``prompt_ids + completion_ids``; thread-safe.
        """
        with _lock_for(self.model):
            return self._score_locked(list(prompt_ids), list(completion_ids), temperature)

    def _score_locked(
        self, prompt_ids: list[int], completion_ids: list[int], temperature: float
    ) -> list[float]:
        import torch

        if not prompt_ids:
            raise ConfigError("score needs at least one prompt token")
        if not completion_ids:
            return []
        device = _device_of(self.model)
        ids = torch.tensor([prompt_ids + completion_ids], device=device)
        keep = len(completion_ids) + 1  # only the positions that predict completion tokens
        with torch.inference_mode():
            logits = self.model(input_ids=ids, logits_to_keep=keep).logits[0].float()
        step_logits = logits[-keep:-1] / temperature
        target = torch.tensor(completion_ids, dtype=torch.long, device=device)
        logp = truncated_log_softmax(step_logits, self.top_p, self.top_k, always_keep=target)
        return logp.gather(-1, target.unsqueeze(-1)).squeeze(-1).tolist()

    def _sample(
        self,
        prompt_ids: list[int],
        temperature: float,
        max_new_tokens: int,
        stop: list[str] | None,
    ) -> tuple[list[int], list[float], Literal["stop", "length"]]:
        """Sample one completion; the extension point for other samplers (e.g. a vLLM engine).

        Called with the generation lock held. Overrides must return ``(completion_ids,
        logprobs, finish_reason)`` with the conventions of :class:`Turn` (end-of-turn token
        included on ``"stop"``, log-probs under ``softmax(logits / temperature)``).
        """
        import torch

        device = _device_of(self.model)
        end_ids = self._end_ids()
        generator = self._get_generator(device)
        limit = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        if isinstance(limit, int):
            max_new_tokens = min(max_new_tokens, limit - len(prompt_ids))
        ids: list[int] = []
        logprobs: list[float] = []
        finish: Literal["stop", "length"] = "length"
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([prompt_ids], device=device),
                use_cache=True,
                logits_to_keep=1,
            )
            for _ in range(max_new_tokens):
                token, logprob = self._pick(out.logits[0, -1].float(), temperature, generator)
                ids.append(token)
                logprobs.append(logprob)
                if token in end_ids or (stop and _hits_stop(self.tokenizer, ids, stop)):
                    finish = "stop"
                    break
                out = self.model(
                    input_ids=torch.tensor([[token]], device=device),
                    past_key_values=out.past_key_values,
                    use_cache=True,
                )
        return ids, logprobs, finish

    def _pick(self, logits: Any, temperature: float, generator: Any) -> tuple[int, float]:
        import torch

        if temperature == 0:
            token = int(torch.argmax(logits))
            return token, float(torch.log_softmax(logits, dim=-1)[token])
        # The recorded log-prob is the one of the (truncated, renormalised) distribution drawn
        # from: the trainer recomputes exactly that (carr_agent.models.sampling).
        logp = truncated_log_softmax(logits / temperature, self.top_p, self.top_k)
        token = int(torch.multinomial(logp.exp(), 1, generator=generator))
        return token, float(logp[token])

    def _get_generator(self, device: Any) -> Any:
        import torch

        if self.seed is None:
            return None
        if self._generator is None:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator


# ---------------------------------------------------------------------- helpers


def messages_to_chat_dicts(
    messages: Sequence[BaseMessage], *, raw_history: bool = True
) -> list[dict[str, Any]]:
    """Convert LangChain messages to the ``{"role", "content", ...}`` dicts chat templates take.

    Args:
        messages: System, human, AI (with ``tool_calls``) and tool messages.
        raw_history: Render an ``AIMessage`` that carries ``response_metadata["raw_completion"]``
            (one produced by :class:`HFChatModel`) as exactly that text, so the prompt shows what
            the model really wrote, malformed calls included.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.text})
        elif isinstance(m, HumanMessage):
            out.append({"role": "user", "content": m.text})
        elif isinstance(m, AIMessage):
            raw = m.response_metadata.get("raw_completion") if raw_history else None
            if isinstance(raw, str):
                out.append({"role": "assistant", "content": raw})
                continue
            entry: dict[str, Any] = {"role": "assistant", "content": m.text}
            if m.tool_calls:
                entry["tool_calls"] = [
                    {
                        "type": "function",
                        "id": tc.get("id"),
                        "function": {"name": tc["name"], "arguments": tc["args"]},
                    }
                    for tc in m.tool_calls
                ]
            out.append(entry)
        elif isinstance(m, ToolMessage):
            out.append(
                {"role": "tool", "content": m.text, "tool_call_id": m.tool_call_id, "name": m.name}
            )
        elif isinstance(m, ChatMessage):
            out.append({"role": m.role, "content": m.text})
        else:
            raise ConfigError(f"cannot render a {type(m).__name__} for a chat template")
    return out


def _inject_tools(chat: list[dict[str, Any]], tools: list[dict]) -> list[dict[str, Any]]:
    block = tools_system_block(tools)
    if chat and chat[0]["role"] == "system":
        return [{**chat[0], "content": chat[0]["content"] + "\n\n" + block}, *chat[1:]]
    return [{"role": "system", "content": block}, *chat]


def _prefill_for(tool_choice: Any, names: Sequence[str]) -> str:
    if tool_choice in (None, "auto", "none", False):
        return ""
    if tool_choice in ("any", "required", True):
        if not names:
            raise ConfigError(f"tool_choice={tool_choice!r} needs at least one bound tool")
        return OPEN_TAG + "\n"
    name: Any = tool_choice
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    if not isinstance(name, str) or name not in names:
        raise ConfigError(f"tool_choice {tool_choice!r} names no bound tool (bound: {list(names)})")
    # End on the opening brace: a trailing space would split the BPE token ' {' the model expects.
    return OPEN_TAG + '\n{"name": "' + name + '", "arguments": {'


def _run_key(run_manager: CallbackManagerForLLMRun | None) -> str | None:
    if run_manager is None:
        return None
    key = (run_manager.metadata or {}).get("thread_id")
    return None if key is None else str(key)


def _hits_stop(tokenizer: Any, ids: list[int], stop: list[str]) -> bool:
    tail = tokenizer.decode(ids[-16:], skip_special_tokens=False)
    return any(s in tail for s in stop)


def _device_of(model: Any) -> Any:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return "cpu"
