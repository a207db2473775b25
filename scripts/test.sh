#!/usr/bin/env bash
# Sets up ./.venv and runs the offline test suite (network/gpu/slow tests are off by default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check carr_agent tests benchmarks examples devtools
mypy                         # [tool.mypy] in pyproject.toml: the package, 0 errors
python -m pytest -q "$@"
