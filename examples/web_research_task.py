"""Research a question on the live web (DuckDuckGo + trafilatura) and score the run with CaRR.

NEEDS INTERNET: search goes to DuckDuckGo (the ``ddgs`` package) and pages are fetched over HTTP
and cleaned with trafilatura (private and loopback addresses are refused by the SSRF guard).
Results vary with the live web and search engine rate limits.

The built-in task carries gold entity values, so it is scored with the deterministic judge
unless an LLM judge is configured (``CARR_JUDGE_BASE_URL``, ``CARR_JUDGE_MODEL``,
``CARR_JUDGE_API_KEY``). The agent model is the embedded local model by default; a small local
model is a weak web researcher, so for real use point it at a stronger OpenAI-compatible model:

    python examples/web_research_task.py
    OPENAI_API_KEY=... python examples/web_research_task.py --model gpt-4.1-mini \\
        --base-url https://api.openai.com/v1

For a whole task file: ``carr-agent eval TASKS.jsonl --store web.sqlite --web --model ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from carr_agent.errors import CarrError
from carr_agent.types import Task

TASK = Task(
    id="web-heisenberg",
    question="In which country was the physicist who formulated the uncertainty principle born?",
    label="Germany",
    rubrics=(
        "<E1> formulated the uncertainty principle.",
        "<E1> was born in <E2>.",
        "<E2> is a city in <E0>.",
    ),
    entities={"E0": "Germany", "E1": "Werner Heisenberg", "E2": "Würzburg"},
    forbidden_strs=(
        "In which country was the physicist who formulated the uncertainty principle born?",
    ),
    metadata={"aliases": {"E1": ["Heisenberg"], "E2": ["Wurzburg"]}, "hops": 2},
)


async def research(model_name: str, base_url: str | None, max_tool_calls: int) -> None:
    """Run the agent over the web on :data:`TASK` and print the score breakdown."""
    from carr_agent.eval.citecheck import count_citations
    from carr_agent.eval.runner import tool_call_counts
    from carr_agent.graph import build_agent
    from carr_agent.rewards import CarrScorer
    from carr_agent.rewards.judges import judge_from_env
    from carr_agent.rewards.run import final_answer
    from carr_agent.tools.fetch import HttpFetcher
    from carr_agent.tools.web import DuckDuckGoSearch

    agent = build_agent(_chat_model(model_name, base_url), search=DuckDuckGoSearch(),
                        fetcher=HttpFetcher(), max_tool_calls=max_tool_calls,
                        forbidden_strs=TASK.forbidden_strs)
    print(f"question: {TASK.question}\n")
    state = await agent.ainvoke({"question": TASK.question})
    answer = final_answer(state) or ""
    ledger = list(state.get("ledger") or [])
    result = await CarrScorer(judge_from_env(task_has_gold=True)).ascore(TASK, answer, ledger)
    counts = count_citations(answer, ledger)
    tools = tool_call_counts(state)
    print(answer or "(no answer)")
    print(f"\noutcome {result.outcome_reward}, rubric {result.rubric_reward}, reward {result.reward}"
          " (None = unknown)")
    for s in result.rubric_scores:
        print(f"  [{s.score}] {s.filled_rubric or s.raw_rubric} (supported: {s.is_supported})")
    print(f"{counts.cited} cited URLs ({counts.unseen} never seen), {tools['tool_calls']} tool "
          f"calls, {len(ledger)} ledger records")
    for error in result.errors:
        print(f"judge error: {error}")


def _chat_model(name: str, base_url: str | None) -> Any:
    if base_url:
        from carr_agent.models import openai_chat_model

        return openai_chat_model(name, base_url, os.environ.get("OPENAI_API_KEY"))
    from carr_agent.models import load_local_chat_model

    return load_local_chat_model(name, temperature=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-0.5b")
    parser.add_argument("--base-url")
    parser.add_argument("--max-tool-calls", type=int, default=12)
    args = parser.parse_args(argv)
    try:
        asyncio.run(research(args.model, args.base_url, args.max_tool_calls))
    except CarrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
