#!/usr/bin/env bash
# Creates ./.venv (if missing; CARR_AGENT_VENV=DIR puts it elsewhere) and installs carr-agent with
# everything the tests and the offline default need, showing what pip does. torch is pinned to the
# CPU build first: an unpinned `torch` pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${CARR_AGENT_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV"
  "$PY" -m venv "$VENV"
fi
. "$VENV/bin/activate"
pip_install() {
  # pip's own progress (what it collects and downloads), minus the already-satisfied noise
  python -m pip install --progress-bar on "$@" 2>&1 \
    | grep --line-buffered -v -e "^Requirement already satisfied" -e "^WARNING: Location" || true
}
echo "installing into $VENV (first time: several minutes; later runs only check)"
pip_install --upgrade pip
pip_install "torch==2.13.0"
pip_install -e ".[local,train,trl,dev,bench]"
python -c "import carr_agent, torch, langgraph, trafilatura, tantivy" \
  || { echo "setup failed: carr_agent or a core dependency does not import" >&2; exit 1; }
