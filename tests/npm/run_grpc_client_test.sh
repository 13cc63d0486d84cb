#!/usr/bin/env bash
# Starts `shuo serve --grpc-port 0` with stories260K and runs grpc_chathub.test.mjs (@grpc/grpc-js
# + @grpc/proto-loader) against it. Usage: run_grpc_client_test.sh SHUO_BINARY TESTDATA_DIR.
# Exits 77 (ctest: skipped) without node, the test data or the npm packages.
set -euo pipefail
shuo=$1
testdata=${SHUO_TESTDATA:-$2}
here=$(cd "$(dirname "$0")" && pwd)
model=$testdata/stories260K/model.gguf
source "$here/serve_lib.sh"

skip_unless_ready @grpc/grpc-js @grpc/proto-loader
start_shuo --grpc-port 0
wait_for_port '.*gRPC listening on [^ ]*:\([0-9][0-9]*\) .*'
SHUO_GRPC_ADDRESS="127.0.0.1:$port" node --test "$here/grpc_chathub.test.mjs"
