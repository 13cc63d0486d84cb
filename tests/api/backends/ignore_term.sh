#!/bin/sh
# A test child that ignores SIGTERM (and so does its sleep, which inherits the ignore): only
# SIGKILL ends it.
trap '' TERM
echo "ignoring SIGTERM"
while :; do sleep 1; done
