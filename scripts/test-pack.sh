#!/usr/bin/env bash
# Installs the packed npm tarball into a scratch project, as a user would, and uses it:
# once with no prebuild inside (npm install must build from source with binding.gyp) and
# once with this platform's prebuild inside (npm install must not compile anything).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The tarball is made from a copy of the tracked files (so it holds no prebuild until
# one is copied in below), and this checkout's prebuilds/ is left as it is.
stage="$scratch/stage"
mkdir -p "$stage"
git ls-files -z | xargs -0 -I{} cp --parents {} "$stage"/
cp -r dist "$stage"/
probe='const q = require("qkernels");
const x = q.quantizePerTensor(q.tensor([0.5, 1.5, -3]), 0.5, 10, "quint8");
const info = q.backend.info();
if (Array.from(x.intRepr()).join() !== "11,13,4") throw new Error("wrong result " + Array.from(x.intRepr()));
console.log(JSON.stringify({ binary: info.binary, isa: info.isa }));'

install_and_probe() {
  local label=$1 tarball=$2 project="$scratch/project-$1"
  mkdir -p "$project"
  (cd "$project" && npm init -y >/dev/null && JOBS=2 npm install --no-audit --no-fund --foreground-scripts "$tarball" > install.log 2>&1) ||
    { cat "$project/install.log"; echo "test-pack.sh: FAILED: npm install ($label)"; exit 1; }
  local out
  out=$(cd "$project" && node -e "$probe") || { echo "test-pack.sh: FAILED: require ($label)"; exit 1; }
  echo "$label: $out"
  if [[ $label == source ]]; then
    grep -q "gyp info ok" "$project/install.log" || { echo "test-pack.sh: FAILED: no source build happened"; exit 1; }
    [[ $out == *"node_modules/qkernels/build/Release/qkernels.node"* ]] || { echo "test-pack.sh: FAILED: not the source build"; exit 1; }
  else
    if grep -q "gyp info" "$project/install.log"; then echo "test-pack.sh: FAILED: the prebuild was ignored and node-gyp ran"; exit 1; fi
    [[ $out == *"node_modules/qkernels/prebuilds/"* ]] || { echo "test-pack.sh: FAILED: not the prebuild"; exit 1; }
  fi
}

(cd "$stage" && npm pack --ignore-scripts --silent --pack-destination "$scratch" >/dev/null)
mv "$scratch"/qkernels-*.tgz "$scratch/source.tgz"
install_and_probe source "$scratch/source.tgz"

if ! ls prebuilds/*/*.node >/dev/null 2>&1; then
  echo "test-pack.sh: FAILED: no prebuild in prebuilds/ (run npm run prebuild first)"
  exit 1
fi
cp -r prebuilds/. "$stage/prebuilds/"
(cd "$stage" && npm pack --ignore-scripts --silent --pack-destination "$scratch" >/dev/null)
mv "$scratch"/qkernels-*.tgz "$scratch/prebuilt.tgz"
install_and_probe prebuilt "$scratch/prebuilt.tgz"
echo "test-pack.sh: 2 passed, 0 failed"
