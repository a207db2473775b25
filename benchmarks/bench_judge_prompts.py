"""Judge prompt styles: what the JSON-only (`compact`) prompts save against the default
(`analysis`: reasoning per entity / statement, then the JSON).

On the same trajectories (generated through the real ``Browser`` over the example corpus, as in
``bench_judge_cost.py``) this script measures, per scored trajectory and per style:

* the prompt size of the entity-identification and support questions (characters, and tokens
  when a local tokenizer is installed: ``carr-agent models install qwen2.5-0.5b``);
* with a real judge (``--judge-base-url URL --judge-model NAME``, any OpenAI-compatible server):
  prompt and completion tokens as the server reports them, latency, the share of replies that
  meet the output contract first time, and how often the two styles agree.

Without a judge only the input side is measured; the output side (where the saving is) needs a
model, and the script says so rather than guess.

    python benchmarks/bench_judge_prompts.py --trajectories 48
    python benchmarks/bench_judge_prompts.py --trajectories 8 \\
        --judge-base-url http://127.0.0.1:8000/v1 --judge-model Qwen/Qwen3-8B
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from bench_judge_cost import Trajectory, build_trajectories, load_tokenizer, project_context
from harness import markdown_table, write_results

from carr_agent.citations import answer_body
from carr_agent.errors import JudgeOutputError
from carr_agent.rewards.judges import PROMPT_STYLES, PromptSet
from carr_agent.rewards.judges.prompts import parse_entities_output, parse_support_output
from carr_agent.rewards.rubrics import all_entity_labels

KINDS = ("entities", "support")


def prompts_for(t: Trajectory, prompts: PromptSet) -> dict[str, tuple[str, Callable[[str], Any]]]:
    """The two rubric questions for one trajectory, with the parser of their reply."""
    labels = all_entity_labels(t.task.rubrics)
    body = answer_body(t.answer)
    context = project_context(t.answer, t.ledger, t.statements, "full")
    return {
        "entities": (prompts.entities_prompt(t.task.question, t.task.rubrics, body),
                     lambda text: parse_entities_output(text, labels)),
        "support": (prompts.support_prompt(context, t.statements),
                    lambda text: parse_support_output(text, len(t.statements))),
    }


async def ask(client: Any, url: str, model: str, prompt: str) -> tuple[str, dict[str, int], float]:
    t0 = time.perf_counter()
    response = await client.post(f"{url.rstrip('/')}/chat/completions", json={
        "model": model, "messages": [{"role": "user", "content": prompt}]})
    response.raise_for_status()
    data = response.json()
    return (data["choices"][0]["message"]["content"] or "", data.get("usage") or {},
            time.perf_counter() - t0)


async def judge_side(trajectories: Sequence[Trajectory], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Real judge calls in both styles: tokens, latency, contract compliance, agreement."""
    import httpx

    rows: list[dict[str, Any]] = []
    answers: dict[tuple[str, int, str], Any] = {}
    async with httpx.AsyncClient(timeout=args.timeout) as client:
        for style in PROMPT_STYLES:
            prompts = PromptSet.builtin(style)
            stats: dict[str, list[float]] = defaultdict(list)
            for i, t in enumerate(trajectories):
                for kind, (prompt, parse) in prompts_for(t, prompts).items():
                    text, usage, seconds = await ask(client, args.judge_base_url, args.judge_model, prompt)
                    stats[f"{kind} prompt tok"].append(usage.get("prompt_tokens", 0))
                    stats[f"{kind} completion tok"].append(usage.get("completion_tokens", 0))
                    stats[f"{kind} s"].append(seconds)
                    try:
                        answers[(style, i, kind)] = parse(text)
                        stats[f"{kind} valid"].append(1.0)
                    except JudgeOutputError:
                        stats[f"{kind} valid"].append(0.0)
            row: dict[str, Any] = {"style": style}
            for key, values in stats.items():
                row[key] = round(statistics.mean(values), 3 if key.endswith("valid") else 1)
            rows.append(row)
    agree = [answers[("analysis", i, k)] == answers[("compact", i, k)]
             for i in range(len(trajectories)) for k in KINDS
             if ("analysis", i, k) in answers and ("compact", i, k) in answers]
    for row in rows:
        row["verdicts agree"] = round(sum(agree) / len(agree), 3) if agree else None
    return rows


def input_side(trajectories: Sequence[Trajectory], tokenizer: Any) -> list[dict[str, Any]]:
    """Prompt sizes per style (characters, and tokens with a local tokenizer)."""
    rows = []
    for style in PROMPT_STYLES:
        prompts = PromptSet.builtin(style)
        sizes: dict[str, list[int]] = defaultdict(list)
        for t in trajectories:
            for kind, (prompt, _) in prompts_for(t, prompts).items():
                sizes[f"{kind} prompt chars"].append(len(prompt))
                if tokenizer is not None:
                    sizes[f"{kind} prompt tok"].append(len(tokenizer.encode(prompt).ids))
        rows.append({"style": style, **{k: round(statistics.mean(v), 1) for k, v in sizes.items()}})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trajectories", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizer", default="qwen2.5-0.5b", help="installed local model whose tokenizer counts tokens, or 'none'")
    parser.add_argument("--judge-base-url", default=None)
    parser.add_argument("--judge-model", default=None)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if (args.judge_base_url is None) != (args.judge_model is None):
        parser.error("--judge-base-url and --judge-model go together")

    trajectories, _ = build_trajectories(args.trajectories, seed=args.seed)
    loaded = load_tokenizer(args.tokenizer)
    tokenizer, tokenizer_name = loaded if loaded else (None, "none (characters only)")
    rows = input_side(trajectories, tokenizer)
    print(f"## Judge prompt input, mean per trajectory ({len(trajectories)} trajectories; "
          f"tokenizer: {tokenizer_name})\n")
    print(markdown_table(rows))
    if args.judge_base_url:
        judged = asyncio.run(judge_side(trajectories, args))
        print(f"\n## Real judge {args.judge_model} @ {args.judge_base_url}, mean per call\n")
        print(markdown_table(judged))
        rows += [{"judged": True, **row} for row in judged]
        analysis, compact = judged
        for kind in KINDS:
            a, c = analysis[f"{kind} completion tok"], compact[f"{kind} completion tok"]
            if a:
                print(f"\n{kind}: compact replies use {c / a:.0%} of the analysis completion tokens")
    else:
        print("\nNo judge given: the completion-token saving (the point of `compact`) needs a real "
              "model; run again with --judge-base-url and --judge-model.", file=sys.stderr)
    write_results("judge_prompts", rows, params=vars(args))


if __name__ == "__main__":
    main()
