"""LLMJudge: the CaRR judges over any LangChain chat model (``ainvoke``).

Each question is one user message (prompts in :mod:`prompts`). An attempt fails on a transport
error (anything the model client raises, or a timeout) or on output that violates the contract;
both are retried with backoff (:func:`carr_agent.retry.retry_async`) up to ``max_retries`` times,
then :class:`~carr_agent.errors.JudgeError` is raised, and the scorer reports the component as
unknown. Calls are limited by a semaphore (``concurrency``) and answered from a
:class:`~carr_agent.rewards.judges.cache.JudgeCache` when one is given: only valid outputs are
stored, and a cached output is validated again on use.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from carr_agent.errors import ConfigError, JudgeError
from carr_agent.retry import Backoff, retry_async
from carr_agent.rewards.judges.base import ChatModel, OutcomeVerdict
from carr_agent.rewards.judges.cache import JudgeCache
from carr_agent.rewards.judges.prompts import (
    PromptSet,
    builtin_prompts,
    parse_entities_output,
    parse_outcome_output,
    parse_support_output,
)
from carr_agent.rewards.rubrics import all_entity_labels
from carr_agent.types import Task

logger = logging.getLogger(__name__)
T = TypeVar("T")
#: Errors that are bugs in the caller, not judge failures: never retried, never wrapped.
_PROGRAMMING_ERRORS = (TypeError, AttributeError, NotImplementedError, AssertionError)


class LLMJudge:
    """CaRR judge backed by a chat model.

    Args:
        chat_model: any LangChain chat model (e.g. ``ChatOpenAI`` at temperature 0).
        cache: a judge-output cache; None disables caching.
        max_retries: retries after the first attempt (transport errors and invalid output).
        concurrency: judge calls in flight at once, per event loop.
        timeout: seconds per model call (None: no limit beyond the client's own).
        backoff: delays between attempts (its ``attempts`` is replaced by ``max_retries + 1``).
        model_id: the model's name in cache keys (default: read from the chat model).
        prompts: the prompt templates (default: the built-in ``analysis`` style).
    """

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        cache: JudgeCache | None = None,
        max_retries: int = 3,
        concurrency: int = 8,
        timeout: float | None = 180.0,
        backoff: Backoff | None = None,
        model_id: str | None = None,
        prompts: PromptSet | None = None,
    ) -> None:
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        base = backoff or Backoff()
        self.chat_model = chat_model
        self.cache = cache
        self.timeout = timeout
        self.concurrency = concurrency
        self.backoff = Backoff(attempts=max_retries + 1, base_delay=base.base_delay,
                               factor=base.factor, max_delay=base.max_delay, jitter=base.jitter)
        self.model_id = model_id or _model_id(chat_model)
        self.prompts = prompts or builtin_prompts()
        self.calls = 0  # model invocations made (cache hits excluded)
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()

    async def identify_entities(
        self, question: str, rubrics: Sequence[str], answer: str, *, task: Task | None = None
    ) -> dict[str, str | None]:
        """Entity label → identity stated in the answer (None when not stated)."""
        labels = all_entity_labels(rubrics)
        if not labels:
            return {}
        prompt = self.prompts.entities_prompt(question, rubrics, answer)
        return await self._ask("entities", prompt, lambda t: parse_entities_output(t, labels))

    async def judge_support(
        self, evidence: str, statements: Sequence[str], *, task: Task | None = None
    ) -> list[bool]:
        """One support verdict per statement."""
        if not statements:
            return []
        prompt = self.prompts.support_prompt(evidence, statements)
        return await self._ask("support", prompt, lambda t: parse_support_output(t, len(statements)))

    async def judge_outcome(
        self, question: str, answer: str, label: str, *, task: Task | None = None
    ) -> OutcomeVerdict:
        """BrowseComp-style grading of the answer against the gold label."""
        prompt = self.prompts.outcome_prompt(question, answer, label)
        return await self._ask("outcome", prompt, parse_outcome_output)

    async def _ask(self, kind: str, prompt: str, parse: Callable[[str], T]) -> T:
        key = JudgeCache.key(self.model_id, prompt)
        if self.cache is not None:
            cached = await self.cache.aget(key)
            if cached is not None:
                try:
                    return parse(cached)
                except JudgeError:
                    logger.warning("cached %s judge output no longer valid; asking again", kind)

        conversation: list[BaseMessage] = [HumanMessage(content=prompt)]

        async def attempt() -> tuple[str, T]:
            text = await self._invoke(conversation)
            try:
                return text, parse(text)
            except JudgeError as exc:
                # The next attempt shows the judge its invalid output and what is wrong with it,
                # so a retry can differ even at temperature 0 (a bare repeat usually does not).
                del conversation[1:]
                conversation.extend([AIMessage(content=text), HumanMessage(content=_repair(exc))])
                raise

        try:
            text, value = await retry_async(
                attempt, backoff=self.backoff, retry_on=(JudgeError,), describe=f"{kind} judge"
            )
        except JudgeError as exc:
            raise JudgeError(
                f"{kind} judge gave no valid answer in {self.backoff.attempts} attempt(s): {exc}"
            ) from exc
        if self.cache is not None:
            await self.cache.aput(key, text, model_id=self.model_id, kind=kind)
        return value

    async def _invoke(self, messages: Sequence[BaseMessage]) -> str:
        async with self._semaphore():
            self.calls += 1
            try:
                message = await asyncio.wait_for(self.chat_model.ainvoke(list(messages)), self.timeout)
            except _PROGRAMMING_ERRORS:
                raise
            except TimeoutError as exc:
                raise JudgeError(f"judge model call timed out after {self.timeout}s") from exc
            except Exception as exc:  # the model client's transport/API errors, mapped at the seam
                raise JudgeError(f"judge model call failed: {type(exc).__name__}: {exc}") from exc
        return _message_text(message)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return sem


def _repair(error: JudgeError) -> str:
    return (f"Your reply could not be used: {error}. Reply again in full, following the required "
            "output format exactly.")


def _message_text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
        )
    return str(content)


def _model_id(model: Any) -> str:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__
