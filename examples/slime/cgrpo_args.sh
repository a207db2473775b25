#!/usr/bin/env bash
# The slime arguments that switch a CaRR-style deep-search run (16 prompts × 8 rollouts per step)
# to carr_agent's rewards and C-GRPO on UNMODIFIED upstream slime. Append "${CARR_ARGS[@]}" to
# your `python train.py ...` command (model, checkpoint, parallelism and optimiser arguments are
# yours; see docs/scale-out.md for the full picture).
#
# Your --custom-generate-function-path must leave the trajectory in the reference message format
# in sample.metadata["history"]; the dataset rows carry metadata.remote_env_info (CaRR-DeepDive
# layout) and label.
#
#   CARR_REWARD=inprocess  (default) the judge client runs inside slime's rollout process
#   CARR_REWARD=remote     requests go to `carr-agent serve-reward` at $CARR_RM_URL

CARR_ROOT="${CARR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if [[ "${CARR_REWARD:-inprocess}" == "remote" ]]; then
  RM_ARGS=(--custom-rm-path carr_agent.integrations.slime.remote_reward
           --rm-url "${CARR_RM_URL:-http://127.0.0.1:8888/evaluate}")
else
  RM_ARGS=(--custom-rm-path carr_agent.integrations.slime.reward)
fi
CARR_ARGS=(
  --label-key label
  --metadata-key metadata
  --rollout-batch-size 16
  --n-samples-per-prompt 8
  --global-batch-size 128
  "${RM_ARGS[@]}"
  --reward-key reward
  --custom-reward-post-process-path carr_agent.integrations.slime.post_process
  --custom-config-path "${CARR_ROOT}/examples/slime/carr.yaml"
  --advantage-estimator grpo
)
