#!/usr/bin/env python3
# A test chat backend shaped like the source demo's interact.py: logs its start-up slowly on
# stderr and stdout, announces a personality, then answers each line read with input(">>> ").
#   --delay S     seconds between start-up log lines (default 1)
#   --lines N     start-up log lines (default 4)
#   --gate FILE   after the first log line, wait until FILE exists (lets a test prove that the
#                 first line reached it while the backend was still starting)
import argparse
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--delay", type=float, default=1.0)
ap.add_argument("--lines", type=int, default=4)
ap.add_argument("--gate")
args = ap.parse_args()

print("INFO:slow_start:loading tokenizer....", file=sys.stderr)
if args.gate:
    while not os.path.exists(args.gate):
        time.sleep(0.01)
for i in range(1, args.lines):
    time.sleep(args.delay)
    if i % 2:
        print(f"> loading checkpoint part {i}")  # stdout: streamed live thanks to PYTHONUNBUFFERED
    else:
        print(f"INFO:slow_start:load model part {i}....", file=sys.stderr)
print("INFO:slow_start:Selected personality: i like slow mornings", file=sys.stderr)
while True:
    try:
        text = input(">>> ")
    except EOFError:
        break
    while not text:
        print("Prompt should not be empty!")
        text = input(">>> ")
    print("you said: " + text)
