#!/usr/bin/env bash
# Runs test/leak/workload.js under valgrind: no memory errors and no definitely-lost blocks (sharp's test/leak idea).
# Opt-in (`npm run test:leak`): it needs valgrind and takes about half a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "test-leak.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  node test/leak/workload.js
echo "test-leak.sh: 1 passed, 0 failed"
