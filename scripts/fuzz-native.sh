#!/usr/bin/env bash
# Builds the libFuzzer targets of native/fuzz (clang, ASan + UBSan + libFuzzer) and runs each one.
#
#   scripts/fuzz-native.sh                  smoke run: 20 s per target
#   scripts/fuzz-native.sh --seconds S      S seconds per target
#   scripts/fuzz-native.sh --runs N         N executions per target (the long run: --runs 10000000)
#   scripts/fuzz-native.sh --only conv ...  one target (run two at once, one per core: the long run fits in an hour)
# Needs clang and its runtimes (apt-get install -y --no-install-recommends clang libclang-rt-14-dev). Corpora persist in build-fuzz/corpus-<target>.
# Ends with one line per target: `<target>: N execs in S s, exit E`; exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time=20)
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    --runs) limit=(-runs="$2"); shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "fuzz-native.sh: unknown option '$1' (use --seconds S, --runs N, --only pool|embedding|conv)" >&2; exit 2 ;;
  esac
done

command -v clang++ >/dev/null || { echo "fuzz-native.sh: clang++ not found (apt-get install -y --no-install-recommends clang libclang-rt-14-dev)" >&2; exit 2; }
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DQK_SANITIZE=address,undefined -DQK_BUILD_FUZZERS=ON -DQK_BUILD_ADDON=OFF -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"${JOBS:-2}" >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
summary=()
for target in build-fuzz/qk_*-fuzz; do
  name=$(basename "$target")
  if [ -n "$only" ] && [ "$name" != "qk_$only-fuzz" ]; then continue; fi
  mkdir -p "build-fuzz/corpus-$name"
  start=$(date +%s)
  set +e
  "$target" "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="build-fuzz/$name-" "build-fuzz/corpus-$name" >"build-fuzz/$name.log" 2>&1
  code=$?
  set -e
  runs=$(grep -Eo 'Done [0-9]+ runs|#[0-9]+' "build-fuzz/$name.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  summary+=("$name: $runs execs in $(( $(date +%s) - start )) s, exit $code")
  if [ "$code" -ne 0 ]; then status=1; tail -40 "build-fuzz/$name.log"; fi
done
printf '%s\n' "${summary[@]}"
exit $status
