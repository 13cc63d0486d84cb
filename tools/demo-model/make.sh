#!/usr/bin/env bash
# Retrains the built-in demo model and rewrites models/shuo-demo.{gguf,eval.json,greedy.json}.
#   tools/demo-model/make.sh [WORK_DIR] [train.py options, e.g. --steps 6000]
# Needs tools/demo-model/setup.sh once. Seeded; see docs/demo-model.md for time and scores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-${TMPDIR:-/tmp}/shuo-demo-model}
shift || true
threads=1
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = --threads ]; then j=$((i + 1)); threads=${!j}; fi
done
cd "$here"
# One PyTorch thread (train.py's default) and no OpenBLAS worker threads: on 2 cores they only
# spin, and they stall the run when another process is busy. The committed model was made so.
export OPENBLAS_NUM_THREADS=1
/usr/bin/python3 train.py --work "$work" "$@"
/usr/bin/python3 export.py --work "$work" --out-dir "$here/../../models" --threads "$threads"
