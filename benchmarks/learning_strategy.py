"""The strategy-level variant: the policy samples ONE token that picks its research strategy.

At the first model turn of every rollout the policy (a tiny random Qwen2, no download) reads the
real first prompt (system prompt, tool schemas, question) and samples one token from its full
vocabulary at temperature 1; the token id modulo 4 picks one of the strategies of
:mod:`carr_agent.training.teacher` (thorough / thin / uncited / wrong). The rest of the rollout
is that strategy's scripted completions, run through the real agent graph, tools, citation ledger
and CaRR scorer. Only the sampled token is trained, with the log-probability it was sampled with
(a one-token trajectory: prompt mask 0, the token mask 1), by the project's ``update_policy``.

This isolates the credit-assignment question of the paper: with a correct answer, thorough,
thin and uncited strategies all earn outcome reward 1; only the rubric reward separates them.
The class probabilities P(strategy | prompt) are computed exactly (a softmax summed per class),
so the expected rewards on train and held-out prompts are reported without sampling noise.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from learning_common import (
    ARMS,
    Episode,
    episode_metrics,
    logger,
    run_graph,
    score_episodes,
    wrong_labels,
)
from pydantic import ConfigDict

from carr_agent.training.teacher import STRATEGIES
from carr_agent.types import Task

K = len(STRATEGIES)


def strategy_of(token_id: int) -> str:
    """The strategy a sampled token picks (its id modulo the number of strategies)."""
    return STRATEGIES[token_id % K]


def last_logits(model: Any, prompt_ids: Sequence[int]) -> Any:
    """The policy's next-token logits after ``prompt_ids`` (no grad)."""
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.tensor([list(prompt_ids)]), logits_to_keep=1)
    return out.logits[0, -1].float()


def strategy_probs(model: Any, prompt_ids: Sequence[int]) -> dict[str, float]:
    """Exact P(strategy | prompt): the softmax summed over each token class."""
    import torch

    p = torch.softmax(last_logits(model, prompt_ids), dim=-1)
    sums = torch.zeros(K).index_add_(0, torch.arange(p.shape[0]) % K, p)
    return {s: float(v) for s, v in zip(STRATEGIES, sums, strict=True)}


class StrategyChat(BaseChatModel):
    """A chat model whose first turn samples a strategy token; every turn replays that strategy.

    Attributes:
        policy: ``HFChatModel`` over the policy network (renders and encodes the prompt).
        scripts: The task's completions per strategy.
        generator: ``torch.Generator`` the strategy token is drawn with.
        choice: A dict (kept by reference) filled at the first turn: ``prompt_ids``, ``token``, ``logprob``, ``strategy``.
            When it already names a ``strategy``, the first turn only records the prompt ids
            (a forced strategy, used to score each strategy once).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    policy: Any
    scripts: dict[str, list[str]]
    generator: Any
    choice: Any

    @property
    def _llm_type(self) -> str:
        return "carr-agent-strategy"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        from carr_agent.models.toolcalls import parse_tool_calls

        turn = sum(isinstance(m, AIMessage) for m in messages)
        if turn == 0:
            self._choose(self.policy.render_prompt(messages, kwargs.get("tools") or []))
        script = self.scripts[self.choice["strategy"]]
        parsed = parse_tool_calls(script[min(turn, len(script) - 1)])
        message = AIMessage(content=parsed.content, tool_calls=parsed.tool_calls,
                            invalid_tool_calls=parsed.invalid_tool_calls,
                            id="msg_" + uuid.uuid4().hex)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _choose(self, prompt_text: str) -> None:
        import torch

        ids = list(self.policy.tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
        self.choice["prompt_ids"] = ids
        if "strategy" in self.choice:
            return
        logp = torch.log_softmax(last_logits(self.policy.model, ids), dim=-1)
        token = int(torch.multinomial(logp.exp(), 1, generator=self.generator))
        self.choice.update(token=token, logprob=float(logp[token]),
                         strategy=strategy_of(token))


class StrategyBench:
    """Scripts, scores and prompts of every (task, strategy), then runs of either arm."""

    def __init__(self, *, policy: Any, train: Sequence[Task], heldout: Sequence[Task], corpus: Any,
                 scorer: Any, max_tool_calls: int, page_budget: int) -> None:
        from carr_agent.training.teacher import strategy_scripts

        self.train, self.heldout = list(train), list(heldout)
        self.corpus, self.scorer = corpus, scorer
        self.max_tool_calls, self.page_budget = max_tool_calls, page_budget
        every = [*self.train, *self.heldout]
        wrong = wrong_labels(every)
        self.scripts = {t.id: strategy_scripts(t, wrong_label=wrong[t.id]) for t in every}
        self.prompt_ids: dict[str, list[int]] = {}
        self.table = self._strategy_table(policy, every)

    def _strategy_table(self, policy: Any, tasks: Sequence[Task]) -> dict[str, dict[str, dict[str, Any]]]:
        """Each strategy's outcome, rubric, citations and tool calls on each task (one real run),
        and each task's first prompt (it does not depend on the weights)."""
        table: dict[str, dict[str, dict[str, Any]]] = {}
        for task in tasks:
            runs = {}
            for s in STRATEGIES:
                pick: dict[str, Any] = {"strategy": s}
                chat = StrategyChat(policy=policy, scripts=self.scripts[task.id], generator=None,
                                    choice=pick)
                runs[s] = run_graph(chat, task, corpus=self.corpus,
                                    max_tool_calls=self.max_tool_calls, page_budget=self.page_budget)
                self.prompt_ids[task.id] = pick["prompt_ids"]
            score_episodes(self.scorer, list(runs.values()))
            table[task.id] = {s: episode_metrics([e]) for s, e in runs.items()}
        return table

    def expected(self, model: Any, tasks: Sequence[Task]) -> dict[str, Any]:
        """Rewards expected under the policy's exact strategy distribution, averaged over tasks."""
        keys = ("outcome_reward", "rubric_reward", "citations_per_trajectory",
                "tool_calls_per_trajectory")
        out = {k: 0.0 for k in keys}
        probs = {s: 0.0 for s in STRATEGIES}
        for task in tasks:
            p = strategy_probs(model, self.prompt_ids[task.id])
            for s in STRATEGIES:
                probs[s] += p[s] / len(tasks)
                for k in keys:
                    out[k] += p[s] * float(self.table[task.id][s][k] or 0.0) / len(tasks)
        return {**out, "p_strategy": probs}

    def rollout(self, policy: Any, task: Task, generator: Any) -> tuple[Episode, dict[str, Any]]:
        """One rollout: sample the strategy token, replay the strategy through the real graph."""
        pick: dict[str, Any] = {}
        chat = StrategyChat(policy=policy, scripts=self.scripts[task.id], generator=generator,
                            choice=pick)
        episode = run_graph(chat, task, corpus=self.corpus, max_tool_calls=self.max_tool_calls,
                            page_budget=self.page_budget)
        episode.strategy = pick["strategy"]
        return episode, pick

    def run(self, *, seed: int, arm: str, steps: int, questions: int, group: int, lr: float,
            eval_every: int) -> dict[str, Any]:
        """One RL run of ``arm`` from the seed's initial policy; returns the run record."""
        import torch

        from carr_agent.models.hf_chat import HFChatModel
        from carr_agent.models.tiny import build_tiny_model
        from carr_agent.training.config import LossConfig, OptimConfig
        from carr_agent.training.data import TaskSampler
        from carr_agent.training.update import build_optimizer

        model, tok = build_tiny_model(seed)
        policy = HFChatModel(model=model, tokenizer=tok)
        optim = OptimConfig(lr=lr, beta2=0.98)
        optimizer = build_optimizer(model, optim)
        sampler = TaskSampler(self.train, seed=seed, shuffle=True)
        generator = torch.Generator().manual_seed(seed)
        t_run, c_run = time.perf_counter(), time.process_time()
        evals = [self._evaluate(0, model)]
        records = []
        for step in range(1, steps + 1):
            t0 = time.perf_counter()
            groups = [[self.rollout(policy, task, generator) for _ in range(group)]
                      for task in sampler.next_batch(questions)]
            score_episodes(self.scorer, [e for g in groups for e, _ in g])
            rollout_s = time.perf_counter() - t0
            record = self._update(step, groups, arm, model, optimizer, optim, LossConfig(),
                                  int(tok.pad_token_id))
            record["rollout_seconds"] = round(rollout_s, 2)
            records.append(record)
            logger.info("strategy %s seed %d step %d: outcome %.3f rubric %.3f picks %s "
                        "(rollouts %.1f s, update %.1f s)", arm, seed, step,
                        record["outcome_reward"] or 0, record["rubric_reward"] or 0,
                        record["strategy_counts"], rollout_s, record["train_seconds"])
            if step % eval_every == 0 or step == steps:
                evals.append(self._evaluate(step, model))
                logger.info("eval step %d: P(strategy | train prompts) %s", step,
                            {k: round(v, 3) for k, v in evals[-1]["train"]["p_strategy"].items()})
        return {"seed": seed, "variant": "strategy", "arm": arm, "steps": records, "eval": evals,
                "seconds": round(time.perf_counter() - t_run, 1),
                "cpu_seconds": round(time.process_time() - c_run, 1)}

    def _update(self, step: int, groups: Sequence[Sequence[tuple[Episode, dict[str, Any]]]],
                arm: str, model: Any, optimizer: Any, optim: Any, loss: Any,
                pad_id: int) -> dict[str, Any]:
        from carr_agent.training.assembly import TokenTrajectory
        from carr_agent.training.config import RewardConfig
        from carr_agent.training.losses import ADVANTAGES
        from carr_agent.training.update import Sample, update_policy
        from carr_agent.types import RewardResult

        unknown = RewardResult(outcome_reward=None, rubric_reward=None, reward=None)
        samples = []
        for group in groups:
            results = [e.result if e.result is not None else unknown for e, _ in group]
            _, advantages = ADVANTAGES[ARMS[arm]](results, RewardConfig())
            for (_, pick), adv in zip(group, advantages, strict=True):
                if adv is None:
                    continue
                n = len(pick["prompt_ids"])
                samples.append(Sample(advantage=adv, trajectory=TokenTrajectory(
                    input_ids=[*pick["prompt_ids"], pick["token"]], loss_mask=[0] * n + [1],
                    rollout_logprobs=[0.0] * n + [pick["logprob"]], temperature=1.0, num_turns=1)))
        t0 = time.perf_counter()
        # update_policy skips (and counts) the optimiser step when every advantage is 0.
        stats = update_policy(model=model, optimizer=optimizer, samples=samples,
                              loss_config=loss, optim_config=optim, pad_id=pad_id)
        episodes = [e for g in groups for e, _ in g]
        counts = {s: sum(e.strategy == s for e in episodes) for s in STRATEGIES}
        return {"step": step, **episode_metrics(episodes), "token_mismatch": 0,
                "trained_trajectories": len(samples),
                "optimizer_step_skipped": bool(stats.skipped_updates) or not samples,
                "strategy_counts": counts,
                "mismatch_masked_fraction": stats.mismatch_fraction,
                "train_seconds": round(time.perf_counter() - t0, 2)}

    def _evaluate(self, step: int, model: Any) -> dict[str, Any]:
        return {"step": step, "train": self.expected(model, self.train),
                "heldout": self.expected(model, self.heldout)}
