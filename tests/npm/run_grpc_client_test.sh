#!/usr/bin/env bash
# Starts `shuo serve --grpc-port 0` with stories260K and runs grpc_chathub.test.mjs (@grpc/grpc-js
# + @grpc/proto-loader) against it. Usage: run_grpc_client_test.sh SHUO_BINARY TESTDATA_DIR.
# Exits 77 (ctest: skipped) without node, the test data or the npm packages.
set -euo pipefail
shuo=$1
testdata=${SHUO_TESTDATA:-$2}
here=$(cd "$(dirname "$0")" && pwd)
model=$testdata/stories260K/model.gguf

command -v node >/dev/null || { echo "skipped: node is not installed"; exit 77; }
[ -f "$model" ] || { echo "skipped: $model not found"; exit 77; }
for pkg in @grpc/grpc-js @grpc/proto-loader; do
  [ -d "$here/node_modules/$pkg" ] || { echo "skipped: no $pkg in tests/npm/node_modules (run: npm ci --prefix tests/npm)"; exit 77; }
done

log=$(mktemp)
"$shuo" serve --model "$model" --port 0 --grpc-port 0 --threads 1 2>"$log" &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's|.*gRPC listening on [^ ]*:\([0-9][0-9]*\) .*|\1|p' "$log" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$log" >&2
    echo "shuo serve exited before listening" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "shuo serve did not start its gRPC server" >&2; exit 1; }

SHUO_GRPC_ADDRESS="127.0.0.1:$port" node --test "$here/grpc_chathub.test.mjs"
