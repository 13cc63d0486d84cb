#!/usr/bin/env bash
# Starts `shuo serve` on a free port with stories260K and runs openai_client.test.mjs (the official
# openai npm client) against it. Usage: run_openai_client_test.sh SHUO_BINARY TESTDATA_DIR.
# Exits 77 (ctest: skipped) without node, the test data or tests/npm/node_modules.
set -euo pipefail
shuo=$1
testdata=${SHUO_TESTDATA:-$2}
here=$(cd "$(dirname "$0")" && pwd)
model=$testdata/stories260K/model.gguf

command -v node >/dev/null || { echo "skipped: node is not installed"; exit 77; }
[ -f "$model" ] || { echo "skipped: $model not found"; exit 77; }
[ -d "$here/node_modules/openai" ] || { echo "skipped: no tests/npm/node_modules (run: npm ci --prefix tests/npm)"; exit 77; }

log=$(mktemp)
"$shuo" serve --model "$model" --port 0 --threads 1 2>"$log" &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$log" >&2
    echo "shuo serve exited before listening" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "shuo serve did not start listening" >&2; exit 1; }

SHUO_BASE_URL="http://127.0.0.1:$port/v1" SHUO_TESTDATA="$testdata" node --test "$here/openai_client.test.mjs"
