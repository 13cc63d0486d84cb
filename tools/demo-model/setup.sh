#!/usr/bin/env bash
# Installs what the demo-model training tool needs (Debian 12 packages only).
# Not part of scripts/deps.sh: shuo itself never runs Python; only retraining the
# committed models/shuo-demo.gguf does. libopenblas0-pthread matters: without it
# Debian's torch falls back to a reference BLAS and trains ~15x slower.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends python3-torch python3-numpy libopenblas0-pthread
