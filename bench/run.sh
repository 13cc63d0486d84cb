#!/usr/bin/env bash
# bench/run.sh — shuo vs llama.cpp on the same GGUF files, in one run.
# Builds shuo (Release), makes random-weight models of real shapes with
# ../shared/tools/make_random_gguf.py, quantizes them with `shuo quantize`, runs `shuo bench`
# and ../shared/anchors/llama.cpp/bin/llama-bench on each file, and prints a table of ratios.
# Run from anywhere; paths are relative to the repo root. See docs/performance.md.
#
#   bench/run.sh [--shapes "qwen2-0.5b llama3.2-1b"] [--types "F16 Q8_0 Q4_0"]
#                [--threads "2 1"] [--reps 3] [-p 512] [-n 128] [--batch "1"]
#                [--no-llama] [--compare-quantizers] [--ref GIT_REF]
#
# --ref builds shuo from a committed tree (git archive into the cache) instead of the working
# tree, so numbers recorded in docs do not include anyone's uncommitted edits.
# Models and results go to ${SHUO_BENCH_CACHE:-$HOME/.cache/shuo-bench} (outside the repo);
# the build to ${SHUO_BENCH_BUILD:-build-release}.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SHARED=${SHUO_SHARED:-../shared}
CACHE=${SHUO_BENCH_CACHE:-$HOME/.cache/shuo-bench}
BUILD=${SHUO_BENCH_BUILD:-build-release}
SHAPES="qwen2-0.5b"
TYPES="F16 Q8_0 Q4_0"
THREADS="2 1"
REPS=3
NP=512
NG=128
BATCH="1"
RUN_LLAMA=1
COMPARE_QUANT=0
REF=""

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shapes) SHAPES=$2; shift 2 ;;
    --types) TYPES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    -p) NP=$2; shift 2 ;;
    -n) NG=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --no-llama) RUN_LLAMA=0; shift ;;
    --compare-quantizers) COMPARE_QUANT=1; shift ;;
    --ref) REF=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "bench/run.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
  esac
done

die() { echo "bench/run.sh: $*" >&2; exit 1; }

# ---- prerequisites ---------------------------------------------------------------------------
TOOLS=$SHARED/tools
VOCAB=$SHARED/testdata/tokenizers/ggml-vocab-gpt-2.gguf
LLAMA_BIN=$SHARED/anchors/llama.cpp/bin
[[ -f $TOOLS/make_random_gguf.py ]] ||
  die "$TOOLS/make_random_gguf.py not found: clone the shared data next to the repo (../shared) or set SHUO_SHARED"
[[ -f $VOCAB ]] || die "$VOCAB not found (the random models take their tokenizer from it)"
if [[ $RUN_LLAMA == 1 && ! -x $LLAMA_BIN/llama-bench ]]; then
  echo "bench/run.sh: $LLAMA_BIN/llama-bench not found; measuring shuo only" >&2
  RUN_LLAMA=0
fi
PY=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
done
[[ -n $PY ]] || die "no python3 with numpy found (apt-get install python3-numpy)"

# ---- 1. build --------------------------------------------------------------------------------
SRC=$ROOT
if [[ -n $REF ]]; then
  rev=$(git rev-parse --short "$REF") || die "unknown git ref '$REF'"
  SRC=$CACHE/src-$rev
  if [[ ! -d $SRC ]]; then
    mkdir -p "$SRC.part"
    git archive "$rev" | tar -x -C "$SRC.part"
    mv "$SRC.part" "$SRC"
  fi
  BUILD=$CACHE/build-$rev
  VERSION="$rev (git archive)"
else
  VERSION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown) + working tree ($(git status --porcelain 2>/dev/null | wc -l) changed files)"
fi
echo "== build $VERSION in $BUILD (Release)"
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHUO_BUILD_TESTS=OFF -DSHUO_BUILD_BENCH=OFF >/dev/null
ninja -C "$BUILD" shuo >"$CACHE/build.log" 2>&1 || { tail -20 "$CACHE/build.log" >&2; die "build failed (log: $CACHE/build.log)"; }
SHUO=$(cd "$BUILD" && pwd)/src/shuo

mkdir -p "$CACHE"
RUN_DIR=$CACHE/results-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "shuo: $VERSION"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|L1d|L2|L3)' | sed 's/  */ /g'
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RUN_DIR/machine.txt"
# Cross-check of shuo bench's own bandwidth probe with the shared membw.c (when gcc is there).
if [[ -f $TOOLS/membw.c ]] && gcc -O3 -march=native -fopenmp "$TOOLS/membw.c" -o "$RUN_DIR/membw" 2>/dev/null; then
  for t in $THREADS; do
    echo "membw.c read, $t threads: $(OMP_NUM_THREADS=$t "$RUN_DIR/membw" 512 5 | awk '/^read/ {print $4, $5}')"
  done | tee -a "$RUN_DIR/machine.txt"
fi

# ---- 2. models -------------------------------------------------------------------------------
models=()
for shape in $SHAPES; do
  f16=$CACHE/$shape-F16.gguf
  if [[ ! -f $f16 ]]; then
    echo "== make $f16"
    "$PY" "$TOOLS/make_random_gguf.py" --shape "$shape" --vocab-src "$VOCAB" --out "$f16.part" 2>"$RUN_DIR/make-$shape.log"
    mv "$f16.part" "$f16"
  fi
  for type in $TYPES; do
    if [[ ${type^^} == F16 ]]; then models+=("$f16"); continue; fi
    out=$CACHE/$shape-$type.gguf
    if [[ ! -f $out ]]; then
      echo "== shuo quantize $shape $type"
      "$SHUO" quantize "$f16" "$out" "$type" 2>&1 | grep -v '^quantize: [0-9]*/' | tee "$RUN_DIR/quantize-$shape-$type.log"
    fi
    models+=("$out")
    if [[ $COMPARE_QUANT == 1 && -x $LLAMA_BIN/llama-quantize ]]; then
      lq=$CACHE/$shape-$type.llama-quantize.gguf
      [[ -f $lq ]] || "$LLAMA_BIN/llama-quantize" "$f16" "$lq" "$type" >"$RUN_DIR/llama-quantize-$shape-$type.log" 2>&1 || true
      if [[ -f $lq ]]; then
        # Same type per tensor? (name, type) from both files; llama-quantize reorders tensors.
        types() { "$SHUO" inspect "$1" | awk '/^  (blk|token|output)/ && NF>=3 && $3 ~ /^\[/ {print $1, $2}' | sort; }
        diff <(types "$out") <(types "$lq") \
          >"$RUN_DIR/types-diff-$shape-$type.txt" &&
          echo "   tensor types equal to llama-quantize's" ||
          echo "   tensor types differ from llama-quantize's: $RUN_DIR/types-diff-$shape-$type.txt"
        echo "   sizes: shuo $(stat -c %s "$out") bytes, llama-quantize $(stat -c %s "$lq") bytes"
      fi
    fi
  done
done

# ---- 3. measure ------------------------------------------------------------------------------
SHUO_JSON=$RUN_DIR/shuo.jsonl
LLAMA_JSON=$RUN_DIR/llama.jsonl
: >"$SHUO_JSON"
: >"$LLAMA_JSON"
for m in "${models[@]}"; do
  for t in $THREADS; do
    echo "== shuo bench $(basename "$m") -t $t"
    "$SHUO" bench -m "$m" -p "$NP" -n "$NG" -r "$REPS" -t "$t" --batch "${BATCH// /,}" --json \
      2>>"$RUN_DIR/shuo-bench.log" | sed "s|^{|{\"file\":\"$(basename "$m")\",|" | tee -a "$SHUO_JSON"
    if [[ $RUN_LLAMA == 1 ]]; then
      echo "== llama-bench $(basename "$m") -t $t"
      set +e
      "$LLAMA_BIN/llama-bench" -m "$m" -t "$t" -p "$NP" -n "$NG" -r "$REPS" -o jsonl \
        >"$RUN_DIR/llama-raw.jsonl" 2>>"$RUN_DIR/llama-bench.log"
      rc=$?
      set -e
      if [[ $rc == 0 ]]; then
        sed "s|^{|{\"file\":\"$(basename "$m")\",|" "$RUN_DIR/llama-raw.jsonl" | tee -a "$LLAMA_JSON" | cut -c1-160
      else
        why="exit $rc"
        [[ $rc == 132 ]] && why="SIGILL: the binary uses instructions this CPU lacks"
        echo "   llama-bench failed ($why)"
        echo "{\"file\":\"$(basename "$m")\",\"n_threads\":$t,\"error\":\"$why\"}" >>"$LLAMA_JSON"
      fi
    fi
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RUN_DIR/machine.txt"

# ---- 4. table --------------------------------------------------------------------------------
"$PY" - "$SHUO_JSON" "$LLAMA_JSON" >"$RUN_DIR/table.md" <<'EOF'
import json, sys
shuo = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
llama = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
def llama_row(file, threads, test):
    for r in llama:
        if r.get("file") != file or r.get("n_threads") != threads: continue
        if "error" in r: return r
        name = f"pp{r['n_prompt']}" if r.get("n_gen", 0) == 0 else f"tg{r['n_gen']}"
        if name == test: return r
    return None
print("| file | threads | batch | test | shuo t/s | llama.cpp t/s | shuo / llama | shuo bw % |")
print("|---|---:|---:|---|---:|---:|---:|---:|")
for s in shuo:
    l = llama_row(s["file"], s["threads"], s["test"]) if s["batch"] == 1 else None
    st = f"{s['tokens_per_s']:.2f} ± {s['stddev']:.2f}"
    if l is None: lt, ratio = "-", "-"
    elif "error" in l: lt, ratio = "crashed", "-"
    else: lt, ratio = f"{l['avg_ts']:.2f} ± {l['stddev_ts']:.2f}", f"{s['tokens_per_s'] / l['avg_ts']:.2f}"
    bw = "-" if s["bandwidth_pct"] is None else f"{s['bandwidth_pct']:.0f}%"
    print(f"| {s['file']} | {s['threads']} | {s['batch']} | {s['test']} | {st} | {lt} | {ratio} | {bw} |")
EOF
echo
cat "$RUN_DIR/table.md"
echo
echo "raw results: $RUN_DIR"
