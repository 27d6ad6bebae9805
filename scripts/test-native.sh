#!/usr/bin/env bash
# Builds the native core with CMake and runs its C++ tests (ctest); --sanitize builds build-asan with ASan + UBSan.
#
#   scripts/test-native.sh             build-native, Release
#   scripts/test-native.sh --sanitize  build-asan, -DQK_SANITIZE=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build-native
cmake_args=(-DCMAKE_BUILD_TYPE=Release)
case "${1:-}" in
  "") ;;
  --sanitize)
    build_dir=build-asan
    # Debug info for readable reports; still optimised, so the kernels run as they ship.
    cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DQK_SANITIZE=address,undefined)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    ;;
  -h|--help)
    sed -n '2,5p' "$0"
    exit 0
    ;;
  *)
    echo "test-native.sh: unknown option '$1' (use --sanitize or nothing)" >&2
    exit 2
    ;;
esac

cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" -j2 --config Release
ctest --test-dir "$build_dir" -C Release --output-on-failure -V -j "${JOBS:-2}"  # -C: multi-config generators (Visual Studio)
