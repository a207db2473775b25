"""Rollouts through the real agent graph, recorded at token level and scored with CaRR.

One rollout = one run of the LangGraph agent (:func:`carr_agent.graph.build_agent`) with the
policy as its chat model and the real search/open/find tools. The policy
(:class:`carr_agent.models.hf_chat.HFChatModel`) records each model turn's prompt ids, completion
ids and log-probabilities; after the run they are assembled into one token sequence with its loss
mask (:mod:`carr_agent.training.assembly`). The policy builds each turn's prompt ids
token-in/token-out (the previous ids + the sampled ids + the encoded new messages), so what it
sampled is exactly what it saw next and what the trainer scores. A re-tokenisation of the final
transcript is compared with the assembled ids only as a diagnostic (``retokenization`` on the
rollout, the step's ``retokenization_mismatch`` metric): BPE is not injective, so sampled text
often re-tokenises differently, and that is no reason to drop a trajectory. Only a history that
the graph rewrote (turns that do not extend each other) cannot be one sequence: such a rollout is
scored and logged but excluded from the loss (``token_mismatch``).

The graph does not know it is being trained: nothing here changes its nodes or tools.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from carr_agent.errors import CarrError, ContextLengthError, JudgeError, TimeBudgetError
from carr_agent.rewards.run import Trajectory, read_run
from carr_agent.rewards.scorer import score_trajectory
from carr_agent.training.assembly import (
    TokenMismatchError,
    TokenTrajectory,
    assemble_turns,
    transcript_mismatch,
)
from carr_agent.training.config import RolloutConfig
from carr_agent.types import LedgerRecord, RewardResult, Task

if TYPE_CHECKING:
    from carr_agent.models.recording import RecordingPolicy
    from carr_agent.rewards.scorer import CarrScorer
    from carr_agent.tools.base import PageFetcher, SearchBackend

__all__ = [
    "TERMINATIONS",
    "UNFINISHED",
    "LastCallCapture",
    "Rollout",
    "RolloutRunner",
    "TimeBudget",
]

logger = logging.getLogger(__name__)


#: Why a rollout ended. ``answered``: the agent gave its final answer on its own (well formed);
#: ``tool_budget`` / ``context_budget``: a budget ran out (the graph demanded the answer, or the
#: history outgrew the model's context window); ``time_budget``: ``rollout.time_budget_s`` ran out;
#: ``ill_formed``: the final answer lacks its required sections, or the run hit the graph's step
#: limit; ``error``: a failure not caused by the policy (left out, reward unknown).
TERMINATIONS = ("answered", "tool_budget", "context_budget", "time_budget", "ill_formed", "error")

#: The score of a rollout the policy did not finish (the reference's ``task_unfinished``).
UNFINISHED = RewardResult(outcome_reward=0.0, rubric_reward=0.0, reward=0.0,
                          errors=("task unfinished",))


def _termination(state: dict[str, Any]) -> str:
    reason = state.get("finish_reason")
    if reason in ("tool_budget", "context_budget"):
        return str(reason)
    answer = state.get("answer")
    if isinstance(answer, dict) and answer.get("well_formed") is False:
        return "ill_formed"
    return "answered"


class TimeBudget(BaseCallbackHandler):
    """Stops a rollout at its next model call once ``seconds`` have passed since it started."""

    raise_error = True

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, **kwargs: Any) -> None:
        elapsed = time.perf_counter() - self.start
        if elapsed > self.seconds:
            raise TimeBudgetError(f"the rollout ran {elapsed:.1f} s, its budget is {self.seconds} s")


class LastCallCapture(BaseCallbackHandler):
    """Remembers the messages and tools of the last chat-model call of a run.

    Used to re-render the final transcript exactly as the model saw it (system prompt and tool
    schemas included) for the re-tokenisation check.
    """

    def __init__(self) -> None:
        self.messages: list[BaseMessage] = []
        self.tools: list[dict[str, Any]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.messages = list(messages[0]) if messages else []
        params = kwargs.get("invocation_params") or {}
        self.tools = list(params.get("tools") or [])


@dataclass(kw_only=True)
class Rollout:
    """One finished (or failed) rollout.

    Attributes:
        task: The question it answered.
        slot: Its index within the question's group.
        messages: The final message history (empty when the run failed).
        ledger: The citation ledger.
        answer_text: The final answer text ("" when none).
        turns: The recorded model turns.
        trajectory: The assembled token sequence (None when excluded).
        exclusion: Why it is not trained on (``"token_mismatch: ..."``, ``"failed: ..."``), or None.
        termination: Why it ended, one of :data:`TERMINATIONS`.
        retokenization: Diagnostic only: where a re-tokenisation of the final transcript differs
            from the trained ids (None when it agrees or was not checked).
        result: Its CaRR score (None until scored, or when scoring raised).
        reward: Its C-GRPO reward within the group (None: unknown).
        advantage: Its advantage (None: unknown, not trained on).
        tool_calls: Tool calls made.
        citations: Citations in the final answer body.
        seconds: Wall time of the graph run.
    """

    task: Task
    slot: int
    messages: list[BaseMessage]
    ledger: list[LedgerRecord]
    answer_text: str
    turns: list[Any]
    trajectory: TokenTrajectory | None
    exclusion: str | None
    termination: str = "answered"
    retokenization: str | None = None
    result: RewardResult | None = None
    reward: float | None = None
    advantage: float | None = None
    tool_calls: int = 0
    citations: int = 0
    seconds: float = 0.0

    @property
    def sampled_tokens(self) -> int:
        """Tokens the policy sampled freely in this rollout (teacher-forced turns excluded)."""
        return sum(len(t.completion_ids) for t in self.turns if not t.scripted)

    @property
    def scripted_tokens(self) -> int:
        """Completion tokens that were teacher-forced (scripted turns), not sampled."""
        return sum(len(t.completion_ids) for t in self.turns if t.scripted)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe summary (messages, ledger, scores) for the run's trajectory files."""
        from langchain_core.messages import messages_to_dict

        r = self.result
        return {
            "task_id": self.task.id,
            "slot": self.slot,
            "question": self.task.question,
            "answer": self.answer_text,
            "outcome_reward": None if r is None else r.outcome_reward,
            "rubric_reward": None if r is None else r.rubric_reward,
            "reward": self.reward,
            "advantage": self.advantage,
            "exclusion": self.exclusion,
            "termination": self.termination,
            "retokenization": self.retokenization,
            "tool_calls": self.tool_calls,
            "citations": self.citations,
            "sampled_tokens": self.sampled_tokens,
            "scripted_tokens": self.scripted_tokens,
            "messages": messages_to_dict(self.messages),
            "ledger": list(self.ledger),
        }


class RolloutRunner:
    """Runs groups of rollouts of one policy through the agent graph and scores them.

    Args:
        policy: The policy as a recording chat model (``HFChatModel`` or a subclass).
        search: Search backend for the graph's tools.
        fetcher: Page fetcher for the graph's tools.
        scorer: A :class:`~carr_agent.rewards.scorer.CarrScorer`.
        config: Rollout settings.
        build_agent: The graph factory (default :func:`carr_agent.graph.build_agent`).
    """

    def __init__(
        self,
        *,
        policy: RecordingPolicy,
        search: SearchBackend,
        fetcher: PageFetcher,
        scorer: CarrScorer,
        config: RolloutConfig,
        build_agent: Callable[..., Any] | None = None,
    ) -> None:
        if build_agent is None:
            from carr_agent.graph.builder import build_agent as default_build_agent

            build_agent = default_build_agent
        self.policy = policy
        self.search = search
        self.fetcher = fetcher
        self.scorer = scorer
        self.config = config
        self._build_agent = build_agent

    # ------------------------------------------------------------------ running

    def run_group(
        self, task: Task, *, scripts: Sequence[Sequence[str] | None] | None = None
    ) -> list[Rollout]:
        """G rollouts of one question (``config.group_size``), assembled and scored.

        Args:
            task: The question.
            scripts: Optional teacher-forced completions per slot (``None`` entries sample).
        """
        g = self.config.group_size
        if scripts is not None and len(scripts) != g:
            raise CarrError(f"got {len(scripts)} scripts for a group of {g} rollouts")
        slots = list(range(g))
        jobs = [(task, i, None if scripts is None else scripts[i]) for i in slots]
        if self.config.concurrency > 1:
            with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
                rollouts = list(pool.map(lambda j: self.run_one(*j), jobs))
        else:
            rollouts = [self.run_one(*j) for j in jobs]
        self.score(rollouts)
        return rollouts

    def run_one(self, task: Task, slot: int, script: Sequence[str] | None = None) -> Rollout:
        """Run the graph once and assemble the recorded turns (not scored yet).

        Every rollout ends with a :data:`TERMINATIONS` reason. Policy-caused failures (the
        history outgrew the context window, the time budget ran out, the graph's step limit was
        hit) are *unfinished*: the turns made so far are kept and the rollout scores 0 when scored.
        Only ``error`` (a failure not caused by the policy, e.g. a broken tool backend) is left
        out of the loss with an unknown reward.
        """
        from langgraph.errors import GraphRecursionError

        # the policy is also the agent's chat model (a BaseChatModel implementing RecordingPolicy)
        model: Any = self.policy.scripted(list(script)) if script is not None else self.policy
        graph = self._build_agent(
            model,
            search=self.search,
            fetcher=self.fetcher,
            config=self.config.agent,
            forbidden_strs=tuple(task.forbidden_strs) or (task.question,),
            system_prompt=self.config.system_prompt,
        )
        capture = LastCallCapture()
        callbacks: list[BaseCallbackHandler] = [capture]
        if self.config.time_budget_s is not None:
            callbacks.append(TimeBudget(self.config.time_budget_s))
        run_config: RunnableConfig = {
            "callbacks": callbacks,
            "configurable": {"thread_id": f"rollout-{uuid.uuid4().hex[:12]}"},
        }  # the recursion limit is the graph's own (AgentConfig.recursion_limit)
        prompt = task.prompt or task.question
        start = time.perf_counter()
        with self.policy.recording() as recorder:
            try:
                state = graph.invoke(
                    {"messages": [HumanMessage(prompt)], "question": task.question}, run_config
                )
            except (ContextLengthError, TimeBudgetError, GraphRecursionError) as exc:
                return self._unfinished(task, slot, recorder.turns, exc, time.perf_counter() - start)
            except CarrError as exc:
                logger.warning("rollout %s/%d failed: %s", task.id, slot, exc)
                return Rollout(
                    task=task, slot=slot, messages=[], ledger=[], answer_text="",
                    turns=recorder.turns, trajectory=None, exclusion=f"failed: {exc}",
                    termination="error", seconds=time.perf_counter() - start,
                )
        seconds = time.perf_counter() - start
        turns = recorder.turns
        trajectory, exclusion = self._assemble(turns)
        retokenization = (
            self._retokenization(trajectory, turns, state, capture) if trajectory else None
        )
        read = read_run(state)
        answer_text = read.answer or ""
        answer = state.get("answer") or {}
        citations = answer.get("citations") if isinstance(answer, dict) else None
        if citations is None:
            from carr_agent.rewards.citations import extract_citations

            citations = extract_citations(answer_text)
        return Rollout(
            task=task,
            slot=slot,
            messages=list(state.get("messages") or []),
            ledger=list(read.ledger),
            answer_text=answer_text,
            turns=turns,
            trajectory=trajectory,
            exclusion=exclusion,
            retokenization=retokenization,
            termination=_termination(state),
            tool_calls=int(state.get("tool_calls") or 0),
            citations=len(citations),
            seconds=seconds,
        )

    def _unfinished(
        self, task: Task, slot: int, turns: list[Any], exc: BaseException, seconds: float
    ) -> Rollout:
        """A rollout the policy did not finish: its turns so far, scored 0 (task unfinished)."""
        from langgraph.errors import GraphRecursionError

        if isinstance(exc, ContextLengthError):
            termination = "context_budget"
        elif isinstance(exc, TimeBudgetError):
            termination = "time_budget"
        else:
            assert isinstance(exc, GraphRecursionError)
            termination = "ill_formed"
        logger.info("rollout %s/%d unfinished (%s): %s", task.id, slot, termination, exc)
        trajectory, exclusion = self._assemble(turns) if turns else (None, None)
        return Rollout(
            task=task, slot=slot, messages=[], ledger=[], answer_text="", turns=turns,
            trajectory=trajectory, exclusion=exclusion, termination=termination,
            result=UNFINISHED, seconds=seconds,
        )

    @staticmethod
    def _assemble(turns: Sequence[Any]) -> tuple[TokenTrajectory | None, str | None]:
        try:
            return assemble_turns(turns), None
        except TokenMismatchError as exc:
            return None, f"token_mismatch: {exc}"
        except CarrError as exc:
            return None, f"failed: {exc}"

    def _retokenization(
        self,
        trajectory: TokenTrajectory,
        turns: Sequence[Any],
        state: dict[str, Any],
        capture: LastCallCapture,
    ) -> str | None:
        """Diagnostic: does the final transcript, rendered and re-tokenised, give the same ids?"""
        last = turns[-1]
        final_ai = next(
            (m for m in state.get("messages") or [] if getattr(m, "id", None) == last.message_id),
            None,
        )
        if final_ai is None:
            return "the last recorded turn's message is not in the final state"
        text = self.policy.render_prompt([*capture.messages, final_ai], capture.tools)
        transcript = self.policy.tokenizer(text, add_special_tokens=False)["input_ids"]
        return transcript_mismatch(trajectory, transcript)

    # ------------------------------------------------------------------ scoring

    def score(self, rollouts: Sequence[Rollout]) -> None:
        """Score the rollouts with CaRR (concurrently); judge failures leave ``result`` unknown."""

        async def one(r: Rollout) -> RewardResult | None:
            if r.termination == "error":
                return None
            if r.result is not None:  # unfinished: already scored 0
                return r.result
            try:
                trajectory = Trajectory(r.answer_text or None, tuple(r.ledger))
                return await score_trajectory(self.scorer, r.task, trajectory)
            except JudgeError as exc:
                logger.warning("scoring %s/%d failed (reward unknown): %s", r.task.id, r.slot, exc)
                return None

        async def all_() -> list[RewardResult | None]:
            return await asyncio.gather(*(one(r) for r in rollouts))

        for r, result in zip(rollouts, asyncio.run(all_()), strict=True):
            r.result = result
