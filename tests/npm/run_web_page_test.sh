#!/usr/bin/env bash
# The chat page in Debian's Chromium (playwright-core, headless) against two real `shuo serve`s
# on stories260K: in-process sessions with a long context (a reply long enough to be stopped for
# real), and process mode with tests/api/backends/echo.py, which repeats the message — so the
# server itself sends a reply holding HTML. Screenshots go to SCREENSHOT_DIR.
# Usage: run_web_page_test.sh SHUO_BINARY TESTDATA_DIR SCREENSHOT_DIR
# Exits 77 (ctest: skipped) without node, chromium, the test data or playwright-core.
set -euo pipefail
shuo=$1
testdata=${SHUO_TESTDATA:-$2}
shots=$3
here=$(cd "$(dirname "$0")" && pwd)
model=$testdata/stories260K/model.gguf
chromium=${SHUO_CHROMIUM:-/usr/bin/chromium}
source "$here/serve_lib.sh"

skip_unless_ready playwright-core
[ -x "$chromium" ] || { echo "skipped: no Chromium at $chromium (Debian package chromium; scripts/setup installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 (the echo backend) is not installed"; exit 77; }
mkdir -p "$shots"
data=$(mktemp -d)
echo_data=$(mktemp -d)
echo_log=$(mktemp)

# The process-mode server first, by hand (serve_lib's start_shuo keeps one server).
"$shuo" serve --model "$model" --port 0 --grpc-port -1 --threads 1 --data-dir "$echo_data" \
  --chat-cmd python3 --chat-args "'$here/../api/backends/echo.py'" 2>"$echo_log" &
echo_pid=$!
start_shuo --ctx 32768 --grpc-port -1 --data-dir "$data"
trap 'kill -TERM "$pid" "$echo_pid" 2>/dev/null || true; wait "$pid" "$echo_pid" 2>/dev/null || true;
      rm -rf "$log" "$echo_log" "$data" "$echo_data"' EXIT
wait_for_port '.*listening on http://[^ ]*:\([0-9][0-9]*\).*'
web_port=$port
(log=$echo_log pid=$echo_pid; wait_for_port '.*listening on http://[^ ]*:\([0-9][0-9]*\).*'; echo "$port" >"$echo_data/port")
SHUO_WEB_URL="http://127.0.0.1:$web_port" SHUO_ECHO_URL="http://127.0.0.1:$(cat "$echo_data/port")" \
  SHUO_CHROMIUM="$chromium" SHUO_SCREENSHOT_DIR="$shots" \
  node --test --test-concurrency=1 "$here/web_page.test.mjs"
