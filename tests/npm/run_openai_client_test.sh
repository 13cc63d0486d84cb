#!/usr/bin/env bash
# Starts `shuo serve` on a free port with stories260K and runs openai_client.test.mjs (the official
# openai npm client) against it. Usage: run_openai_client_test.sh SHUO_BINARY TESTDATA_DIR.
# Exits 77 (ctest: skipped) without node, the test data or tests/npm/node_modules.
set -euo pipefail
shuo=$1
testdata=${SHUO_TESTDATA:-$2}
here=$(cd "$(dirname "$0")" && pwd)
model=$testdata/stories260K/model.gguf
source "$here/serve_lib.sh"

skip_unless_ready openai
start_shuo
wait_for_port '.*listening on http://[^ ]*:\([0-9][0-9]*\).*'
SHUO_BASE_URL="http://127.0.0.1:$port/v1" SHUO_TESTDATA="$testdata" node --test "$here/openai_client.test.mjs"
