#!/usr/bin/env bash
# verl 0.9.1 + carr_agent: the LangGraph agent as the agent loop, CaRR as the reward, C-GRPO as
# the advantage estimator. Sized like the CaRR 4B recipe: 16 prompts × 8 rollouts per step.
# MODEL, TRAIN and VAL are yours (parquet files with prompt, reward_model.ground_truth,
# extra_info.remote_env_info and agent_name=carr_agent; see docs/scale-out.md).
set -euo pipefail
CARR_ROOT="${CARR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${MODEL:?path of the policy checkpoint}" "${TRAIN:?train parquet}" "${VAL:?val parquet}"
: "${CARR_JUDGE_BASE_URL:?OpenAI-compatible judge URL}" "${CARR_JUDGE_MODEL:?judge model}"
export CARR_JUDGE_API_KEY="${CARR_JUDGE_API_KEY:-EMPTY}"

python -m verl.trainer.main_ppo \
  algorithm.adv_estimator=cgrpo \
  algorithm.use_kl_in_reward=False \
  data.train_files="$TRAIN" data.val_files="$VAL" \
  data.train_batch_size=16 \
  data.max_prompt_length=4096 data.max_response_length=61440 \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.temperature=1.0 actor_rollout_ref.rollout.top_p=1.0 \
  actor_rollout_ref.rollout.calculate_log_probs=True \
  actor_rollout_ref.rollout.agent.agent_loop_config_path="$CARR_ROOT/examples/verl/agent_loop.yaml" \
  actor_rollout_ref.rollout.agent.default_agent_loop=carr_agent \
  actor_rollout_ref.actor.ppo_mini_batch_size=128 \
  actor_rollout_ref.actor.clip_ratio_low=0.2 actor_rollout_ref.actor.clip_ratio_high=0.28 \
  actor_rollout_ref.actor.loss_agg_mode=token-mean \
  actor_rollout_ref.actor.use_kl_loss=False actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.actor.optim.lr=2e-6 actor_rollout_ref.actor.optim.weight_decay=0.1 \
  'actor_rollout_ref.actor.optim.betas=[0.9,0.98]' \
  reward.custom_reward_function.path="$CARR_ROOT/examples/verl/carr_reward.py" \
  reward.custom_reward_function.name=compute_score \
  +ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=carr_agent.integrations.verl.setup_worker \
  '+ray_kwargs.ray_init.runtime_env.env_vars.CARR_CGRPO_ALPHA="0.3"' \
  +ray_kwargs.ray_init.runtime_env.env_vars.CARR_JUDGE_BASE_URL="$CARR_JUDGE_BASE_URL" \
  +ray_kwargs.ray_init.runtime_env.env_vars.CARR_JUDGE_MODEL="$CARR_JUDGE_MODEL" \
  +ray_kwargs.ray_init.runtime_env.env_vars.CARR_JUDGE_API_KEY="$CARR_JUDGE_API_KEY" \
  trainer.n_gpus_per_node=8 trainer.nnodes="${NNODES:-1}" \
  trainer.total_training_steps="${STEPS:-3000}" \
  "$@"
