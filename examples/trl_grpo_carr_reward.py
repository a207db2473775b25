"""Train with TRL's GRPOTrainer using the CaRR reward (runs offline on CPU in ~30 s).

`make_carr_reward_func(scorer)` returns an async reward function with TRL's signature. Dataset
columns other than `prompt` reach it per completion: here `label`, `question`, `rubrics` and
`entities` (gold values, so the deterministic judge can score without an LLM). It returns None
for completions whose judging failed; TRL leaves those out of the group statistics.

The policy here is a tiny *random* Qwen2 built locally (its completions are gibberish, so rewards
are 0): the point is the wiring. Pass `--model PATH` for a real local checkpoint, `--tools` to let
it call a search tool (completions become message lists and the tool results are the evidence),
and set CARR_JUDGE_* + `--llm-judge` for an LLM judge.

    python examples/trl_grpo_carr_reward.py --steps 1
    python examples/trl_grpo_carr_reward.py --steps 1 --cgrpo    # C-GRPO (carr_agent.integrations.trl)
"""

from __future__ import annotations

import argparse
import tempfile

from carr_agent.integrations.trl import make_cgrpo_reward_func
from carr_agent.rewards.cgrpo import GroupOptions
from carr_agent.rewards.judges import DeterministicJudge, judge_from_env
from carr_agent.rewards.scorer import CarrScorer, ScoreOptions
from carr_agent.rewards.trl import make_carr_reward_func
from carr_agent.tools.render import render_search
from carr_agent.types import Hit

QUESTION = "Which river flows through the birthplace of the composer of the opera The Silver Lantern?"
ROW = {
    "prompt": [{"role": "user", "content": QUESTION + " Cite your sources; end with ## Exact Answer."}],
    "question": QUESTION,
    "label": "Velda River",
    "rubrics": ["<E1> composed the opera The Silver Lantern.", "<E1> was born in <E2>.",
                "<E0> flows through <E2>.", "<E0> is a river."],
    "entities": {"E0": "Velda River", "E1": "Anton Marek", "E2": "Brastow"},
}


def search(query: str) -> str:
    """Search the web.

    Args:
        query: what to look for.
    """
    return render_search([Hit(url="https://example.org/wiki/Brastow", title="Brastow",
                              snippet="The Velda River flows through Brastow.")])


def main() -> None:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--model", default=None, help="local model path (default: tiny random Qwen2)")
    parser.add_argument("--llm-judge", action="store_true", help="use the judge from CARR_JUDGE_*")
    parser.add_argument("--tools", action="store_true", help="give the policy a search tool")
    parser.add_argument("--cgrpo", action="store_true", help="C-GRPO group rewards (paper's formula)")
    args = parser.parse_args()

    if args.model:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    else:
        from carr_agent.models.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(seed=0)
        if args.tools:  # its template is Qwen2.5-style but not byte-identical: name the parser
            from trl.chat_template_utils import qwen3_template

            tokenizer.response_template = qwen3_template

    judge = judge_from_env() if args.llm_judge else DeterministicJudge()
    num_generations = 2
    scorer = CarrScorer(judge, ScoreOptions(alpha=0.3))
    if args.cgrpo:  # the paper's group formula, groups spanning processes included
        carr_reward = make_cgrpo_reward_func(scorer, num_generations=num_generations,
                                             options=GroupOptions(alpha=0.3))
    else:  # per-rollout (1 − α)·R_o + α·R_r, as the reference server returns it
        carr_reward = make_carr_reward_func(scorer)
    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out, use_cpu=True, per_device_train_batch_size=4,
            num_generations=num_generations, max_completion_length=16, max_steps=args.steps,
            report_to="none", logging_steps=1, save_strategy="no",
        )
        trainer = GRPOTrainer(model=model, reward_funcs=carr_reward, args=config,
                              train_dataset=Dataset.from_list([ROW] * 8), processing_class=tokenizer,
                              tools=[search] if args.tools else None)
        trainer.train()
    for entry in trainer.state.log_history:
        print({k: v for k, v in entry.items() if "reward" in k or k in ("step", "loss")})


if __name__ == "__main__":
    main()
