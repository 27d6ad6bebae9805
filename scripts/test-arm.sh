#!/usr/bin/env bash
# Cross-builds the native core for arm64 and runs its C++ tests under qemu-aarch64 (-cpu max, and -cpu cortex-a53).
#
# The toolchain file makes ctest run every test through `qemu-aarch64 -cpu max`
# (NEON + dotprod); CMakeLists.txt adds qk_test_neon_cortex_a53, the same tests on
# a CPU without dotprod, where detection must pick neon. Without the cross
# compiler or qemu this skips (exit 0), except under CI=true, where it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "$(uname -m)" == "aarch64" ]]; then
  echo "test-arm.sh: SKIPPED: this machine is arm64; the native step already ran these tests on it"
  exit 0
fi
missing=()
if ! command -v aarch64-linux-gnu-g++ >/dev/null 2>&1; then
  missing+=("aarch64-linux-gnu-g++ (Debian/Ubuntu: apt-get install g++-aarch64-linux-gnu)")
fi
if ! command -v qemu-aarch64 >/dev/null 2>&1; then
  missing+=("qemu-aarch64 (Debian/Ubuntu: apt-get install qemu-user)")
fi
if ((${#missing[@]} > 0)); then
  for tool in "${missing[@]}"; do echo "test-arm.sh: missing $tool" >&2; done
  if [[ "${CI:-}" == "true" ]]; then
    echo "test-arm.sh: FAILED: CI must run the arm64 tests" >&2
    exit 1
  fi
  echo "test-arm.sh: SKIPPED the arm64 tests (install the tools above to run them)"
  exit 0
fi

cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake -DCMAKE_BUILD_TYPE=Release
cmake --build build-arm64 -j2
ctest --test-dir build-arm64 --output-on-failure -V -j "${JOBS:-2}"
