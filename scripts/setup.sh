#!/usr/bin/env bash
# Creates ./.venv (if missing) and installs carr-agent with everything the tests and the offline
# default need. torch is pinned to the CPU build first: an unpinned `torch` pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
python -m pip install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
python -m pip install -q -e ".[local,train,trl,dev,bench]" 2>&1 | grep -v "^WARNING: Location" || true
python -c "import carr_agent, torch, langgraph, trafilatura, tantivy" \
  || { echo "setup failed: carr_agent or a core dependency does not import" >&2; exit 1; }
