"""Score trajectories recorded in the reference /evaluate request format (runs offline).

Each line of the input is one request body, exactly what a slime/verl-style trainer posts to the
reference CaRR reward server: ``history`` (OpenAI-like messages with ``browser.search`` /
``browser.open`` / ``browser.find`` tool calls), ``label``, ``task_unfinished`` and
``remote_env_info`` (question, rubrics, ``rubric_reward_ratio``). Scoring them in process uses the
same code as ``carr-agent serve-reward`` and ``carr-agent score``.

The sample requests carry gold entity values (``remote_env_info.entities``), so the deterministic
judge scores them without an LLM. With CARR_JUDGE_BASE_URL / CARR_JUDGE_MODEL / CARR_JUDGE_API_KEY
set, ``--llm-judge`` uses that judge instead (offline: the fake judge server, see
docs/rewards.md).

    python examples/score_reference_trajectories.py [examples/data/evaluate_requests.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from carr_agent.rewards.judges import judge_from_env
from carr_agent.rewards.scorer import CarrScorer
from carr_agent.rewards.server import RewardService, ServerOptions

DEFAULT = Path(__file__).parent / "data" / "evaluate_requests.jsonl"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--llm-judge", action="store_true", help="use the judge from CARR_JUDGE_*")
    args = parser.parse_args()

    llm = CarrScorer(judge_from_env()) if args.llm_judge else None
    service = RewardService(llm, options=ServerOptions(judge="llm" if args.llm_judge else "auto"))
    table = Table("line", "id", "status", "reward", "outcome", "rubric", "rubrics scoring 1")
    for number, line in enumerate(args.requests.read_text(encoding="utf-8").splitlines(), start=1):
        request = json.loads(line)
        status, body = await service.evaluate(request)
        scores = body.get("rubric_scores", {})
        table.add_row(
            str(number), str(request.get("id", "")), str(status),
            _fmt(body.get("reward")), _fmt(body.get("outcome_reward")), _fmt(body.get("rubric_reward")),
            f"{sum(s['score'] for s in scores.values())}/{len(scores)}" if scores else "-",
        )
    Console().print(table)


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    asyncio.run(main())
