"""The fully sampled variant: every token of every rollout is sampled by the policy.

1. **Tokenizer.** The teacher strategies of the training tasks (:mod:`carr_agent.training.teacher`:
   thorough cited research, a thin correct answer, a correct answer with no citation, a wrong
   answer) are run through the real graph once; a byte-level BPE is trained on those transcripts
   (system prompt, tool schemas, the pages as shown, the answers), so they are short in tokens.
   A compact system prompt and a small page budget keep the sequences short too.
2. **Warm start.** A small random Qwen2 built from a config (no download) is fine-tuned by masked
   cross-entropy on the completions of those teacher turns (each turn: the prompt the graph gave,
   mask 0; the completion, mask 1), for the same number of epochs for every seed.
3. **RL.** The project's training loop (:func:`carr_agent.training.loop.train`) runs from the
   warm-started weights with sampled rollouts only (no scripts) through the real graph, tools and
   CaRR scorer (deterministic judge), for each arm: C-GRPO, or GRPO on the outcome alone.
4. **Evaluation.** The warm start and the final policy of each run sample rollouts on the
   training tasks and on held-out tasks (never trained on, and not in the tokenizer's corpus).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from learning_common import (
    ARMS,
    COMPACT_PROMPT,
    Episode,
    episode_metrics,
    logger,
    run_graph,
    score_episodes,
    wrong_labels,
)

from carr_agent.types import Task


def compact_chat_template() -> str:
    """The tiny model's Qwen2.5-style template with the tool block cut to one line of signatures
    (``search(query, num) open(id_or_url) find(pattern)``) instead of full JSON schemas."""
    from carr_agent.models.chat_template import QWEN25_CHAT_TEMPLATE as full

    start = full.index('    {{- "\\n\\n# Tools')
    end = full.index("\n{%- else %}") + 1
    compact = (
        '    {{- "\\n\\nTools:" }}\n'
        "    {%- for tool in tools %}\n"
        "        {{- ' ' + tool.function.name + '(' + "
        "(tool.function.parameters.properties | list | join(', ')) + ')' }}\n"
        "    {%- endfor %}\n"
        '    {{- "\\nCall a tool as <tool_call>\\n{\\"name\\": ..., \\"arguments\\": {...}}'
        '\\n</tool_call><|im_end|>\\n" }}\n'
    )
    return full[:start] + compact + full[end:]


def completion_nll(model: Any, batch: Any) -> tuple[Any, float]:
    """Summed cross-entropy of the masked (completion) tokens, and their count.

    The output layer runs only where the mask is 1 (completions are ~10 % of the tokens), which
    makes a warm-start epoch several times cheaper than full-sequence logits.
    """
    import torch

    hidden = model.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                         use_cache=False).last_hidden_state[:, :-1]
    keep = batch.loss_mask.bool()
    logits = model.lm_head(hidden[keep]).float()
    loss = torch.nn.functional.cross_entropy(logits, batch.targets[keep], reduction="sum")
    return loss, float(keep.sum())


class SampledBench:
    """Tokenizer, warm starts and RL runs of the fully sampled variant."""

    def __init__(self, *, train: Sequence[Task], heldout: Sequence[Task], corpus: Any, scorer: Any,
                 args: Any) -> None:
        from carr_agent.training.teacher import strategy_scripts

        self.train, self.heldout = list(train), list(heldout)
        self.corpus, self.scorer, self.args = corpus, scorer, args
        wrong = wrong_labels(self.train)
        self.scripts = [(t, turns) for t in self.train
                        for turns in strategy_scripts(t, wrong_label=wrong[t.id]).values()]
        self.texts: list[tuple[str, str]] = []
        self.tokenizer: Any = None
        self.examples: list[Any] = []

    def prepare(self) -> None:
        """Teacher transcripts, the compact tokenizer and the SFT examples (once, on demand)."""
        if not self.examples:
            self.texts = self._teacher_texts()
            self.tokenizer = self._tokenizer()
            self.examples = self.teacher_examples()

    # ------------------------------------------------------------------ tokenizer & teacher data

    def _teacher_texts(self) -> list[tuple[str, str]]:
        """``(prompt, completion)`` text of every model turn of every teacher script, as the real
        graph renders them (run once with the default tiny model; the text is lossless)."""
        from carr_agent.models.hf_chat import HFChatModel
        from carr_agent.models.tiny import build_tiny_model

        model, tok = build_tiny_model(0)
        tok.chat_template = compact_chat_template()
        chat = HFChatModel(model=model, tokenizer=tok, max_new_tokens=8)
        texts: list[tuple[str, str]] = []
        for task, script in self.scripts:
            with chat.recording() as rec:
                run_graph(chat.scripted(script), task, corpus=self.corpus,
                          max_tool_calls=self.args.max_tool_calls,
                          page_budget=self.args.page_budget)
            texts.extend((tok.decode(t.prompt_ids), tok.decode(t.completion_ids)) for t in rec.turns)
        return texts

    def _tokenizer(self) -> Any:
        from carr_agent.models.tiny import build_tiny_tokenizer

        tok = build_tiny_tokenizer(self.args.vocab, corpus=[p + c for p, c in self.texts],
                                   split_words=self.args.split_words)
        tok.chat_template = compact_chat_template()
        return tok

    def teacher_examples(self) -> list[Any]:
        """One SFT example per teacher turn: the prompt (mask 0) and the completion (mask 1), in
        the compact tokenizer (encoding the rendered text is what the chat model does)."""
        from carr_agent.training.assembly import TokenTrajectory

        def enc(text: str) -> list[int]:
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

        out = []
        for prompt, completion in self.texts:
            p, c = enc(prompt), enc(completion)
            out.append(TokenTrajectory(input_ids=[*p, *c], loss_mask=[0] * len(p) + [1] * len(c),
                                       rollout_logprobs=[0.0] * (len(p) + len(c)),
                                       temperature=1.0, num_turns=1))
        return out

    # ------------------------------------------------------------------ warm start

    def warm_start(self, seed: int, out_dir: Path) -> dict[str, Any]:
        """SFT a fresh random policy on the teacher turns; save it to ``out_dir``; return stats."""
        import torch

        from carr_agent.models.tiny import build_tiny_model
        from carr_agent.training.batching import collate

        self.prepare()
        torch.manual_seed(seed)
        model, tok = build_tiny_model(seed, hidden_size=self.args.hidden,
                                      num_layers=self.args.layers, tokenizer=self.tokenizer)
        examples = sorted(self.examples, key=lambda e: len(e.input_ids))
        batches = [collate(examples[i:i + self.args.sft_batch], int(tok.pad_token_id))
                   for i in range(0, len(examples), self.args.sft_batch)]
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.args.sft_lr, weight_decay=0.0)
        rng = torch.Generator().manual_seed(seed)
        t0, c0 = time.perf_counter(), time.process_time()
        nll = float("nan")
        model.train()
        for epoch in range(1, self.args.sft_epochs + 1):
            total, tokens = 0.0, 0.0
            for i in torch.randperm(len(batches), generator=rng).tolist():
                loss, n = completion_nll(model, batches[i])
                optimizer.zero_grad(set_to_none=True)
                (loss / n).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                total, tokens = total + float(loss.detach()), tokens + n
            nll = total / tokens
            if epoch % 10 == 0:
                logger.info("warm start seed %d epoch %d: NLL %.4f per completion token", seed,
                            epoch, nll)
        model.eval()
        model.save_pretrained(out_dir)
        tok.save_pretrained(out_dir)
        lengths = [len(e.input_ids) for e in examples]
        stats = {"seed": seed, "epochs": self.args.sft_epochs, "final_nll_per_token": round(nll, 4),
                 "examples": len(examples), "tokens": sum(lengths), "max_tokens": max(lengths),
                 "mean_tokens": round(sum(lengths) / len(lengths), 1),
                 "completion_tokens_max": max(int(sum(e.loss_mask)) for e in examples),
                 "parameters": sum(p.numel() for p in model.parameters()),
                 "vocab": len(tok), "seconds": round(time.perf_counter() - t0, 1),
                 "cpu_seconds": round(time.process_time() - c0, 1)}
        logger.info("warm start seed %d: %s", seed, stats)
        return stats

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, policy_dir: Path, tasks: Sequence[Task], *, samples: int,
                 seed: int) -> dict[str, Any]:
        """Sampled rollouts of a saved policy on ``tasks``; a run that raises scores 0."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from carr_agent.errors import CarrError
        from carr_agent.models.hf_chat import HFChatModel

        model = AutoModelForCausalLM.from_pretrained(policy_dir).eval()
        tok = AutoTokenizer.from_pretrained(policy_dir)
        episodes = []
        for i, task in enumerate(tasks):
            for k in range(samples):
                chat = HFChatModel(model=model, tokenizer=tok, temperature=1.0,
                                   max_new_tokens=self.args.max_new_tokens,
                                   seed=seed * 100_000 + i * 100 + k)
                try:
                    episodes.append(run_graph(chat, task, corpus=self.corpus,
                                              max_tool_calls=self.args.max_tool_calls,
                                              page_budget=self.args.page_budget))
                except CarrError as exc:
                    logger.info("eval rollout %s failed (scored as unanswered): %s", task.id, exc)
                    episodes.append(Episode(task=task, answer="", ledger=[], tool_calls=0,
                                            citations=0))
        score_episodes(self.scorer, episodes)
        return {**episode_metrics(episodes), "rollouts": len(episodes)}

    def evaluate_both(self, policy_dir: Path, step: int, seed: int) -> dict[str, Any]:
        n = self.args.eval_samples
        return {"step": step,
                "train": self.evaluate(policy_dir, self.train, samples=n, seed=seed),
                "heldout": self.evaluate(policy_dir, self.heldout, samples=n, seed=seed)}

    # ------------------------------------------------------------------ RL

    def run(self, *, seed: int, arm: str, warm_dir: Path, run_dir: Path,
            warm_eval: dict[str, Any]) -> dict[str, Any]:
        """RL of ``arm`` from the warm start with the project's training loop."""
        from carr_agent.training.checkpoint import latest_checkpoint
        from carr_agent.training.config import (
            CheckpointConfig,
            DataConfig,
            OptimConfig,
            PolicyConfig,
            RewardConfig,
            RolloutConfig,
            TrainConfig,
        )
        from carr_agent.training.loop import train

        a = self.args
        config = TrainConfig(
            output_dir=str(run_dir), max_steps=a.steps, seed=seed,
            policy=PolicyConfig(source=str(warm_dir), device="cpu", cpu_threads=a.threads),
            data=DataConfig(questions_per_step=a.questions, shuffle=True),
            rollout=RolloutConfig(group_size=a.group, max_new_tokens=a.max_new_tokens,
                                  max_tool_calls=a.max_tool_calls, page_budget=a.page_budget,
                                  system_prompt=COMPACT_PROMPT),
            reward=RewardConfig(advantage=ARMS[arm]),
            optim=OptimConfig(lr=a.lr, beta2=0.98, micro_batch_size=4),
            checkpoint=CheckpointConfig(every=a.steps, keep=1, save_trajectories=True),
        )
        t0, c0 = time.perf_counter(), time.process_time()
        logging.getLogger("carr_agent.training.loop").setLevel(logging.INFO)
        result = train(config, tasks=self.train, corpus=self.corpus)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        final = latest_checkpoint(run_dir)
        evals = [warm_eval]
        if final is not None:
            evals.append(self.evaluate_both(final / "policy", a.steps, seed))
        return {"seed": seed, "variant": "sampled", "arm": arm, "steps": result.records,
                "eval": evals, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1)}
