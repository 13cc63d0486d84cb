#!/bin/sh
# A test chat backend that never answers. Without arguments it is ready at once and then reads
# messages forever without replying; with "never-ready" it logs one line and never gets ready.
if [ "$1" = "never-ready" ]; then
  echo "hang: loading forever" >&2
  exec sleep 100000
fi
printf '>>> '
while read -r line; do :; done
