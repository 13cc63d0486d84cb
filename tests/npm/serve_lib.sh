# Sourced by the run_*_test.sh scripts: start `shuo serve` on stories260K in the background and
# find the port it listens on. The caller has set $shuo, $testdata and $model.
#   start_shuo EXTRA_ARGS...     starts it (log in $log) and removes everything on exit
#   wait_for_port SED_PATTERN    sets $port from the first log line SED_PATTERN's \1 matches
skip_unless_ready() {  # skip_unless_ready NPM_PACKAGE...
  command -v node >/dev/null || { echo "skipped: node is not installed"; exit 77; }
  [ -f "$model" ] || { echo "skipped: $model not found"; exit 77; }
  local pkg
  for pkg in "$@"; do
    [ -d "$here/node_modules/$pkg" ] || { echo "skipped: no $pkg in tests/npm/node_modules (run: npm ci --prefix tests/npm)"; exit 77; }
  done
}

start_shuo() {
  log=$(mktemp)
  "$shuo" serve --model "$model" --port 0 --threads 1 "$@" 2>"$log" &
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
}

wait_for_port() {
  port=""
  for _ in $(seq 1 300); do
    port=$(sed -n "s|$1|\\1|p" "$log" | head -n 1)
    [ -n "$port" ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log" >&2
      echo "shuo serve exited before listening" >&2
      exit 1
    fi
    sleep 0.1
  done
  cat "$log" >&2
  echo "shuo serve did not start listening" >&2
  exit 1
}
