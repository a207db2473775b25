"""Run the agent on one example task over the offline corpus and print its CaRR breakdown.

Everything runs locally, without internet: the shipped Valdoria corpus (indexed on first use), the
embedded local model (Qwen2.5-Coder-0.5B-Instruct; install it once with the command the error
message prints, or ``carr-agent models install``), and the deterministic judge (the example
tasks carry gold entity values, so no judge LLM is needed).

    python examples/offline_research_task.py                       # first dev task
    python examples/offline_research_task.py --task vd-dev-002 --max-tool-calls 8
    python examples/offline_research_task.py --model scripted:turns.json   # replay a script
    python examples/offline_research_task.py --base-url http://127.0.0.1:8000/v1 --model NAME

The same, for a whole task file and with a stored, resumable result set and an HTML report:

    carr-agent eval "$(python -c 'from carr_agent.data import example_tasks_path as p; print(p("dev"))')" \\
        --store dev.sqlite && carr-agent report dev.sqlite -o dev.html
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from carr_agent.errors import CarrError
from carr_agent.eval.citecheck import check_citations, count_citations
from carr_agent.eval.runner import tool_call_counts
from carr_agent.graph import build_agent
from carr_agent.rewards import CarrScorer, DeterministicJudge
from carr_agent.rewards.run import final_answer
from carr_agent.task_files import load_tasks
from carr_agent.types import Task


def chat_model(name: str, base_url: str | None) -> Any:
    """The local model by name, an OpenAI-compatible model, or a scripted replay."""
    if name.startswith("scripted:"):
        from carr_agent.models.scripted import ScriptedChatModel

        return ScriptedChatModel.from_file(name.removeprefix("scripted:"))
    if base_url:
        from carr_agent.models import openai_chat_model

        return openai_chat_model(name, base_url, os.environ.get("OPENAI_API_KEY"))
    from carr_agent.models import load_local_chat_model

    return load_local_chat_model(name, temperature=0.0)


async def research(task: Task, model: Any, max_tool_calls: int) -> None:
    """Run the agent on ``task``, score the run and print the breakdown."""
    from carr_agent.tools.corpus import default_corpus

    corpus = default_corpus()
    agent = build_agent(model, search=corpus, fetcher=corpus, max_tool_calls=max_tool_calls,
                        forbidden_strs=task.forbidden_strs)
    print(f"task {task.id}: {task.question}\n(gold answer: {task.label})\n")
    state = await agent.ainvoke({"question": task.question})
    answer = final_answer(state) or ""
    ledger = list(state.get("ledger") or [])
    judge = DeterministicJudge()
    result = await CarrScorer(judge).ascore(task, answer, ledger)
    check = await check_citations(judge, task, answer, ledger)
    counts = count_citations(answer, ledger)
    tools = tool_call_counts(state)

    print(answer or "(no answer)")
    print("\n--- score ---")
    print(f"outcome reward : {_show(result.outcome_reward)}  (extracted: {result.extracted_answer!r})")
    print(f"rubric reward  : {_show(result.rubric_reward)}")
    print(f"reward         : {_show(result.reward)}  (= 0.7·outcome + 0.3·rubric)")
    for i, s in enumerate(result.rubric_scores, start=1):
        flags = (f"identified={'y' if s.all_entity_identified else 'n'} "
                 f"supported={_show(s.is_supported)} connected={'y' if s.connected_to_answer else 'n'}")
        print(f"  R{i} [{s.score}] {s.filled_rubric or s.raw_rubric}\n       {flags}")
    print(f"citations      : {counts.cited} distinct URLs, {counts.unseen} never seen, "
          f"{_show(check.unsupported)} of {check.checked} citing sentences unsupported")
    print(f"tool calls     : {tools['tool_calls']} (search {tools['n_search']}, open "
          f"{tools['n_open']}, find {tools['n_find']}); ledger records: {len(ledger)}")
    for error in result.errors:
        print(f"judge error    : {error}")


def _show(value: object) -> str:
    return "unknown" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", help="task id (default: the first task of the split)")
    parser.add_argument("--split", choices=("dev", "all"), default="dev")
    parser.add_argument("--model", default="qwen2.5-0.5b",
                        help="local model name, model on --base-url, or scripted:PATH.json")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint for --model")
    parser.add_argument("--max-tool-calls", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        from carr_agent.data import example_tasks_path

        tasks = load_tasks(example_tasks_path(args.split))
        chosen = [t for t in tasks if args.task in (None, t.id)]
        if not chosen:
            print(f"no task {args.task!r} in the {args.split} split", file=sys.stderr)
            return 2
        asyncio.run(research(chosen[0], chat_model(args.model, args.base_url),
                             args.max_tool_calls))
    except CarrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
