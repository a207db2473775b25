#!/usr/bin/env bash
# Installs llama-cpp-python (the fast local inference engine) into the active Python environment.
#
# The package index has it as source only, so the first run compiles llama.cpp with the machine's
# cmake and C/C++ compiler (10-50 min on 2 cores, progress shown as [step/total]) and caches the
# wheel under the user cache dir; later runs, and other checkouts, install the cached wheel in
# seconds. Exits non-zero when it cannot build (no compiler): callers fall back to the slower
# transformers engine.
set -euo pipefail
VERSION=0.3.36
PY=${PYTHON:-python}
if "$PY" -c "import llama_cpp" 2>/dev/null; then
  exit 0
fi
CACHE="${CARR_AGENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/carr-agent}/wheels"
mkdir -p "$CACHE"
wheel=$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  for tool in cmake cc c++; do
    if ! command -v "$tool" >/dev/null; then
      echo "install_llama: '$tool' not found; cannot build llama-cpp-python" >&2
      exit 1
    fi
  done
  echo "Building llama-cpp-python $VERSION from source (once; the wheel is cached in $CACHE)."
  echo "This compiles llama.cpp: 10-50 min on 2 cores. Progress is shown as [step/total]."
  build_log="$CACHE/build-$VERSION.log"
  # Only the library the package loads: no multimodal (mtmd), tools, examples or tests.
  args="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF"
  if [ "$(uname -m)" = x86_64 ]; then
    # Not -march=native: on CPUs that report AMX inside VMs that do not enable it (measured
    # here), native builds die with "Illegal instruction" at the first token. x86-64-v3
    # (AVX2/FMA/F16C) runs on any x86 CPU of the last decade, so the cached wheel stays portable.
    args="$args -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  fi
  export CMAKE_ARGS="${CMAKE_ARGS:-} $args"
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
  set +e
  "$PY" -m pip wheel --no-deps -v -w "$CACHE" "llama-cpp-python==$VERSION" 2>&1 \
    | tee "$build_log" \
    | awk '/^\[[0-9]+\/[0-9]+\]/ { out = "";
             for (i = 2; i < NF; i++) if ($i == "-o") out = $(i + 1);
             n = split(out, p, "/"); printf "  %s %s\n", $1, p[n]; fflush() }'
  status=${PIPESTATUS[0]}
  set -e
  wheel=$(ls "$CACHE"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [ "$status" -ne 0 ] || [ -z "$wheel" ]; then
    echo "install_llama: the build failed (exit $status); the log is $build_log" >&2
    exit 1
  fi
fi
echo "Installing $(basename "$wheel")"
"$PY" -m pip install "$wheel"
"$PY" -c "import llama_cpp" || { echo "install_llama: llama_cpp does not import" >&2; exit 1; }
