"""A LangChain chat model over llama.cpp (``llama-cpp-python``): the local inference engine.

:class:`LlamaCppChatModel` runs a GGUF file as it is (quantized), where
:class:`~carr_agent.models.hf_chat.HFChatModel` dequantizes it to float32 and decodes token by
token in Python. Measured on 2 CPU cores with the 0.5B default model: see
``benchmarks/bench_first_ten.py``. Training keeps HF (it records token ids and log-probs); this
engine serves inference (``run``, ``eval``, ``models serve``).

What it adds over plain generation:

* **Prefix reuse.** Each turn's prompt extends the previous one (the model's own turns are
  rendered from their raw text), so llama.cpp keeps the KV cache of the shared prefix and only
  the new observation is processed.
* **Tool calls that always parse.** A turn that calls a tool (forced by ``tool_choice``, or
  because the model opened with ``<tool_call>``) is decoded under a JSON-schema grammar of the
  bound tools (:func:`~carr_agent.models.grammars.tool_call_schema`).
* **A well-formed answer.** When tools are bound and the turn is an answer (``tool_choice="none"``
  or the model did not open a tool call), it is decoded under the three-section answer grammar
  (``constrain_answer``). With ``cite_only_seen`` its citations may only use URLs the
  conversation's tool observations showed: an inference-time option, never for training.
* **Streaming.** Every token goes to ``on_llm_new_token`` callbacks as it is generated.

One lock per ``Llama`` object serialises generation, so concurrent graph runs can share it.
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

from carr_agent.errors import ConfigError, ModelError
from carr_agent.models.chat_template import tools_system_block
from carr_agent.models.grammars import answer_grammar, seen_urls, tool_call_schema
from carr_agent.models.hf_chat import messages_to_chat_dicts
from carr_agent.models.toolcalls import CLOSE_TAG, OPEN_TAG, parse_tool_calls

__all__ = ["LlamaCppChatModel", "llama_cpp_available"]

logger = logging.getLogger(__name__)

END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")
#: Token cap of a constrained tool call (the JSON object).
TOOL_CALL_MAX_TOKENS = 160

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()

Mode = Literal["free", "tool", "answer", "auto"]


def llama_cpp_available() -> bool:
    """Whether ``llama_cpp`` (the llama-cpp-python package) can be imported here."""
    import importlib.util

    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):
        return False


def _lock_for(llama: Any) -> threading.Lock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(llama)
        if lock is None:
            lock = _LOCKS[llama] = threading.Lock()
        return lock


class LlamaCppChatModel(BaseChatModel):
    """Chat model over a ``llama_cpp.Llama`` (see the module docstring).

    Attributes:
        llama: The loaded ``llama_cpp.Llama``.
        model_name: Reported in ``response_metadata``.
        temperature: 0 = greedy.
        top_p: Nucleus mass (1.0 = off).
        top_k: Keep the k most likely tokens (0 = off).
        max_new_tokens: Cap on a turn's length.
        constrain_tool_calls: Decode tool calls under the tools' JSON-schema grammar.
        constrain_answer: Decode an answer (tools bound, no call) under the answer grammar.
        cite_only_seen: With ``constrain_answer``: citations may only use URLs shown by tool
            observations of the conversation (inference only).
        restate_question: In an answer turn (tools bound), end the prompt with a reminder of the
            question (the conversation's first human message): after a long observation the
            0.5B model answered with an intermediate entity (the composer, asked for the town).
        int_arg_values: Integer tool arguments fixed to a value in constrained calls; default:
            5 search results (``num``), as each result costs ~110 prompt tokens, i.e. seconds on
            a CPU, and given a choice the 0.5B model asked for a single result.
        chat_template: Jinja chat template; default: the GGUF's own.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llama: Any
    model_name: str = "local-llama"
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 512
    constrain_tool_calls: bool = True
    constrain_answer: bool = True
    cite_only_seen: bool = False
    chat_template: str | None = None
    int_arg_values: dict[str, int] = Field(default_factory=lambda: {"num": 5})
    restate_question: bool = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0 or self.max_new_tokens < 1:
            raise ConfigError("top_k must be >= 0 and max_new_tokens >= 1")
        if self.chat_template is None:
            meta = getattr(self.llama, "metadata", None) or {}
            template = meta.get("tokenizer.chat_template")
            if not template:
                raise ConfigError("the GGUF has no chat template; pass chat_template=")
            self.chat_template = template

    # ------------------------------------------------------------------ LangChain interface

    @property
    def _llm_type(self) -> str:
        return "carr-agent-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature,
                "top_p": self.top_p, "top_k": self.top_k, "max_new_tokens": self.max_new_tokens}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; ``tool_choice`` as for :class:`~carr_agent.models.hf_chat.HFChatModel`
        (``None``/``"auto"``, ``"none"``, ``"any"``/``"required"``/``True``, or a tool name)."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        _forced_name(tool_choice, [t["function"]["name"] for t in formatted])  # validates
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
        max_new = int(kwargs.pop("max_new_tokens", self.max_new_tokens))
        if kwargs:
            raise ConfigError(f"unsupported generation arguments: {sorted(kwargs)}")
        names = [t["function"]["name"] for t in tools]
        prompt = self.render_prompt(messages, tools)
        mode: Mode = "free"
        only: str | None = None
        if tools and tool_choice != "none":
            only = _forced_name(tool_choice, names)
            forced = tool_choice in ("any", "required", True) or only is not None
            mode = "tool" if forced else "auto"
        elif tools:
            mode = "answer"
        urls = None
        if self.cite_only_seen:
            urls = seen_urls(m.text for m in messages if isinstance(m, ToolMessage)) or None

        answer_prompt = prompt
        question = next((m.text for m in messages if isinstance(m, HumanMessage)), None)
        if tools and self.restate_question and question and mode in ("answer", "auto"):
            reminder = HumanMessage(
                f"Write your final answer now, in the required format. The question is: "
                f"{question}\nUnder '## Exact Answer' write only the name, number or date that "
                "answers this question, in one to four words: not a sentence."
            )
            answer_prompt = self.render_prompt([*messages, reminder], tools)
        emit = _emitter(run_manager)
        with _lock_for(self.llama):
            raw, n_prompt, n_out, finish = self._turn(
                prompt, mode, tools, only, urls, temperature, max_new, stop, emit,
                answer_prompt=answer_prompt,
            )
        parsed = parse_tool_calls(raw, names or None) if tools and tool_choice != "none" else None
        message = AIMessage(
            content=parsed.content if parsed else raw,
            tool_calls=parsed.tool_calls if parsed else [],
            invalid_tool_calls=parsed.invalid_tool_calls if parsed else [],
            id="msg_" + uuid.uuid4().hex,
            usage_metadata={"input_tokens": n_prompt, "output_tokens": n_out,
                            "total_tokens": n_prompt + n_out},
            response_metadata={"model_name": self.model_name, "finish_reason": finish,
                               "raw_completion": raw},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    # ------------------------------------------------------------------ rendering

    def render_prompt(self, messages: Sequence[BaseMessage], tools: Sequence[dict] = ()) -> str:
        """The prompt text for ``messages`` (ending with the assistant header).

        The template runs in a sandboxed Jinja environment: it comes from the GGUF file.
        """
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        chat = messages_to_chat_dicts(messages)
        template = self.chat_template or ""
        if tools and "tools" not in template:
            block = tools_system_block(list(tools))
            if chat and chat[0]["role"] == "system":
                chat = [{**chat[0], "content": chat[0]["content"] + "\n\n" + block}, *chat[1:]]
            else:
                chat = [{"role": "system", "content": block}, *chat]
            tools = ()
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        try:
            return env.from_string(template).render(
                messages=chat, tools=list(tools) or None, add_generation_prompt=True
            )
        except Exception as exc:  # jinja errors: the template cannot render this conversation
            raise ModelError(f"the chat template failed to render the conversation: {exc}") from exc

    # ------------------------------------------------------------------ decoding

    def _turn(self, prompt: str, mode: Mode, tools: list[dict[str, Any]], only: str | None,
              urls: list[str] | None, temperature: float, max_new: int,
              stop: list[str] | None, emit: Callable[[str], None], *,
              answer_prompt: str | None = None) -> tuple[str, int, int, str]:
        """One assistant turn; returns ``(raw_text, prompt_tokens, output_tokens, finish)``."""
        n_prompt = len(self._tokens(prompt))
        if mode == "auto":
            # Let the model open the turn; a tool call starts with <tool_call>.
            probe, _, _ = self._decode(prompt, None, temperature, len(OPEN_TAG) + 2,
                                       stop_when=_decided)
            mode = "tool" if probe.lstrip().startswith(OPEN_TAG) else "answer"
        if mode == "tool" and self.constrain_tool_calls:
            prefill = OPEN_TAG + "\n"
            emit(prefill)
            schema = tool_call_schema(tools, only, int_fixed=self.int_arg_values)
            body, n_out, finish = self._decode(prompt + prefill, ("json", schema), temperature,
                                               TOOL_CALL_MAX_TOKENS, emit=emit)
            emit("\n" + CLOSE_TAG)
            return prefill + body.strip() + "\n" + CLOSE_TAG, n_prompt, n_out, finish
        grammar = None
        if mode == "answer":
            prompt = answer_prompt or prompt
            if self.constrain_answer:
                grammar = ("gbnf", answer_grammar(urls))
        text, n_out, finish = self._decode(prompt, grammar, temperature, max_new, emit=emit,
                                           stop_strings=stop)
        return text, n_prompt, n_out, finish

    def _tokens(self, text: str) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _end_ids(self) -> set[int]:
        ids = {int(self.llama.token_eos())}
        for piece in END_OF_TURN:
            toks = self._tokens(piece)
            if len(toks) == 1:
                ids.add(toks[0])
        return ids

    def _decode(self, prompt: str, grammar: tuple[str, Any] | None, temperature: float,
                max_new: int, *, emit: Callable[[str], None] | None = None,
                stop_when: Callable[[str], bool] | None = None,
                stop_strings: Sequence[str] | None = None) -> tuple[str, int, str]:
        """Decode from ``prompt``; returns ``(text, tokens, finish_reason)``."""
        prompt_ids = self._tokens(prompt)
        n_ctx = int(self.llama.n_ctx())
        if len(prompt_ids) >= n_ctx - 8:
            raise ModelError(
                f"the prompt has {len(prompt_ids)} tokens, the model's context is {n_ctx} tokens"
            )
        max_new = min(max_new, n_ctx - len(prompt_ids) - 1)
        end_ids = self._end_ids()
        out: list[int] = []
        data = b""
        shown = 0
        finish = "length"
        gen = self.llama.generate(
            prompt_ids, temp=temperature, top_k=self.top_k if temperature > 0 else 1,
            top_p=self.top_p, min_p=0.0, repeat_penalty=1.0, grammar=_grammar(grammar),
        )
        try:
            for token in gen:
                if token in end_ids:
                    finish = "stop"
                    break
                out.append(token)
                data += self.llama.detokenize([token], special=True)
                text = data.decode("utf-8", errors="ignore")
                if emit is not None and len(text) > shown:
                    emit(text[shown:])
                    shown = len(text)
                if stop_when is not None and stop_when(text):
                    finish = "stop"
                    break
                if stop_strings and any(s in text for s in stop_strings):
                    finish = "stop"
                    break
                if len(out) >= max_new:
                    break
        finally:
            gen.close()
        return data.decode("utf-8", errors="replace"), len(out), finish


# ---------------------------------------------------------------------- helpers


def _forced_name(tool_choice: Any, names: Sequence[str]) -> str | None:
    """The tool a ``tool_choice`` forces by name (``None`` for auto/none/any); validates."""
    if tool_choice in (None, "auto", "none", False):
        return None
    if tool_choice in ("any", "required", True):
        if not names:
            raise ConfigError(f"tool_choice={tool_choice!r} needs at least one bound tool")
        return None
    name: Any = tool_choice
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    if not isinstance(name, str) or name not in names:
        raise ConfigError(f"tool_choice {tool_choice!r} names no bound tool (bound: {list(names)})")
    return name


def _decided(text: str) -> bool:
    """Whether the opening of a turn tells a tool call from an answer."""
    head = text.lstrip()
    return bool(head) and (head.startswith(OPEN_TAG) or not OPEN_TAG.startswith(head))


_GRAMMARS: dict[tuple[str, str], Any] = {}


def _grammar(spec: tuple[str, Any] | None) -> Any:
    """A ``LlamaGrammar`` for ``("json", schema)`` or ``("gbnf", text)``, cached by source."""
    if spec is None:
        return None
    import json

    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    kind, value = spec
    source = json.dumps(value, sort_keys=True) if kind == "json" else str(value)
    key = (kind, source)
    if key not in _GRAMMARS:
        if len(_GRAMMARS) > 64:
            _GRAMMARS.clear()
        # "name" before "arguments", as the chat template writes tool calls: the model picks
        # the tool first (the converter's default order is alphabetical)
        text = json_schema_to_gbnf(source, prop_order=["name", "arguments"]) if kind == "json" \
            else source
        _GRAMMARS[key] = LlamaGrammar.from_string(text, verbose=False)
    return _GRAMMARS[key]


def _emitter(run_manager: CallbackManagerForLLMRun | None) -> Callable[[str], None]:
    def emit(piece: str) -> None:
        if run_manager is not None and piece:
            run_manager.on_llm_new_token(
                piece, chunk=ChatGenerationChunk(message=AIMessageChunk(content=piece))
            )

    return emit


def _tojson(value: Any, indent: int | None = None, **_: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=indent)


def _raise_exception(message: str) -> None:
    raise ModelError(f"the chat template refused the conversation: {message}")
