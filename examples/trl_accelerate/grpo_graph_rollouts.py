"""TRL GRPOTrainer + our agent graph (via ``rollout_func``) + the CaRR reward; CPU or accelerate.

Scale-out without a home-made engine: TRL owns batching, the optimiser, DeepSpeed/FSDP and
multi-GPU (``accelerate launch``); we supply

* ``rollout_func``: each prompt runs through the real LangGraph agent (search/open/find over the
  offline corpus) with the policy being trained as its chat model. The turns the chat model
  records are assembled into one sequence (``carr_agent.training.assembly``); TRL receives
  ``prompt_ids`` (turn 1's prompt), ``completion_ids`` (everything after it), ``logprobs`` and
  ``env_mask`` (1 = sampled by the policy, 0 = tool output / template glue, so TRL masks them out
  of the loss). Trajectories that fail the re-tokenisation check get ``env_mask`` all 0 (nothing
  trained) and are counted in the ``token_mismatch`` extra column.
* the reward: ``carr_agent.rewards.trl.make_carr_reward_func`` (async; None = unknown, which TRL
  leaves out of the group statistics), fed the agent's final answer and citation ledger that
  ``rollout_func`` returns as extra columns.

Run here (CPU, tiny random Qwen2, no download, ~1-2 min):

    python examples/trl_accelerate/grpo_graph_rollouts.py --steps 2 --teacher-scripts

Multi-GPU (see README.md in this folder):

    accelerate launch --config_file examples/trl_accelerate/accelerate_multi_gpu.yaml \\
        examples/trl_accelerate/grpo_graph_rollouts.py --model /path/to/sft-model --steps 200 --bf16

Generation here is the HF decoding loop of ``HFChatModel`` (one rollout at a time per process);
for vLLM generation inside TRL use ``use_vllm=True`` with TRL's own single-turn generation and
``tools=`` (see README.md) — TRL's ``rollout_func`` does not hand a vLLM engine to a LangGraph
graph.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def build_rollout_func(corpus: Any, tasks_by_question: dict[str, Any], *, max_new_tokens: int,
                       max_tool_calls: int, scripts: dict[str, list] | None) -> Any:
    """A TRL ``rollout_func`` that runs each prompt through our agent graph."""
    from carr_agent.models.hf_chat import HFChatModel
    from carr_agent.rewards.judges import DeterministicJudge
    from carr_agent.rewards.scorer import CarrScorer
    from carr_agent.training.config import RolloutConfig
    from carr_agent.training.rollout import RolloutRunner

    counter = {"calls": 0}

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        model = trainer.accelerator.unwrap_model(trainer.model)
        policy = HFChatModel(model=model, tokenizer=trainer.processing_class,
                             temperature=trainer.args.temperature, max_new_tokens=max_new_tokens)
        config = RolloutConfig(group_size=2, max_tool_calls=max_tool_calls, page_budget=1500,
                               max_new_tokens=max_new_tokens)
        runner = RolloutRunner(policy=policy, search=corpus, fetcher=corpus,
                               scorer=CarrScorer(DeterministicJudge()), config=config)
        out: dict[str, list[Any]] = {k: [] for k in (
            "prompt_ids", "completion_ids", "logprobs", "env_mask", "answer_text", "ledger",
            "token_mismatch")}
        was_training = model.training
        model.eval()
        try:
            for i, prompt in enumerate(prompts):
                question = prompt if isinstance(prompt, str) else prompt[-1]["content"]
                task = tasks_by_question[question]
                slots = (scripts or {}).get(task.id)
                script = slots[(counter["calls"] + i) % len(slots)] if slots else None
                rollout = runner.run_one(task, i, script)
                first_prompt = list(rollout.turns[0].prompt_ids)
                traj = rollout.trajectory
                if traj is None:  # excluded: keep the tokens, train none of them
                    ids = first_prompt + [i for t in rollout.turns for i in t.completion_ids]
                    mask, logps = [0] * len(ids), [0.0] * len(ids)
                else:
                    ids, mask, logps = traj.input_ids, traj.loss_mask, traj.rollout_logprobs
                n = len(first_prompt)
                out["prompt_ids"].append(first_prompt)
                out["completion_ids"].append(list(ids[n:]))
                out["logprobs"].append(list(logps[n:]))
                out["env_mask"].append(list(mask[n:]))
                out["answer_text"].append(rollout.answer_text)
                out["ledger"].append(list(rollout.ledger))
                out["token_mismatch"].append(rollout.exclusion is not None)
        finally:
            model.train(was_training)
        counter["calls"] += len(prompts)
        assert len(out["prompt_ids"]) == len(prompts)
        return out

    return rollout_func


def build_reward_func() -> Any:
    """``make_carr_reward_func`` scoring the agent's final answer against its ledger."""
    from carr_agent.rewards.judges import DeterministicJudge
    from carr_agent.rewards.scorer import CarrScorer
    from carr_agent.rewards.trl import make_carr_reward_func

    carr = make_carr_reward_func(CarrScorer(DeterministicJudge()))

    async def carr_reward(prompts, completions, completion_ids, *, answer_text, **kwargs):
        # The decoded completion also holds tool outputs; CaRR judges the final answer only.
        return await carr(prompts, answer_text, completion_ids, **kwargs)

    carr_reward.__name__ = "carr_reward"
    return carr_reward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="Local HF model directory (default: tiny random Qwen2).")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--num-generations", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-tool-calls", type=int, default=4)
    parser.add_argument("--teacher-scripts", action="store_true",
                        help="Teacher-force scripted research for 3 of 4 slots (random models).")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from carr_agent.data import example_tasks_path
    from carr_agent.task_files import load_tasks
    from carr_agent.tools.corpus import default_corpus

    tasks = load_tasks(example_tasks_path("dev"))
    rows = [{"prompt": t.question, "question": t.question, "label": t.label,
             "rubrics": list(t.rubrics), "entities": t.entities} for t in tasks]
    dataset = Dataset.from_list(rows)
    scripts = None
    if args.teacher_scripts:
        import subprocess
        import sys

        maker = Path(__file__).resolve().parents[1] / "make_teacher_scripts.py"
        scripts = json.loads(subprocess.check_output([sys.executable, str(maker)], text=True))

    if args.model:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    else:
        from carr_agent.models.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(0)
    out_dir = args.output_dir or tempfile.mkdtemp(prefix="carr-trl-")
    config = GRPOConfig(
        output_dir=out_dir,
        max_steps=args.steps,
        per_device_train_batch_size=args.num_generations,
        num_generations=args.num_generations,
        max_completion_length=8192,
        learning_rate=1e-3 if not args.model else 2e-6,
        epsilon=0.2,
        epsilon_high=0.28,            # the paper's asymmetric clip
        loss_type="dapo",             # token-level averaging
        beta=0.0,
        temperature=1.0,
        bf16=args.bf16,
        use_cpu=not args.bf16,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[build_reward_func()],
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        rollout_func=build_rollout_func(default_corpus(), {t.question: t for t in tasks},
                                        max_new_tokens=args.max_new_tokens,
                                        max_tool_calls=args.max_tool_calls, scripts=scripts),
    )
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    trainer.train()
    changed = sum(int(not (before[k] == v.detach()).all()) for k, v in model.named_parameters())
    for entry in trainer.state.log_history:
        print(json.dumps({k: v for k, v in entry.items() if "reward" in k or k in ("step", "loss")}))
    print(f"parameter tensors changed: {changed}/{len(before)}; output: {out_dir}")


if __name__ == "__main__":
    main()
