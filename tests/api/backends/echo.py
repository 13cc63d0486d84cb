#!/usr/bin/env python3
# A test chat backend with multi-line replies. Each message (one line, "\\", "\n", "\r" escaped
# as shuo's line protocol says) is answered with "turn N" and then "echo: <line>" for each line
# of the decoded message. "/clear" forgets the turns. Framing:
#   (default)  prompt ">>> " before each message, as a plain interactive program
#   --marker   "personality: ..." when ready and a "<<<END>>>" line after each reply
import sys

marker = "--marker" in sys.argv


def decode(line):
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] in "\\nr":
            out.append({"\\": "\\", "n": "\n", "r": "\r"}[line[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


print("echo backend starting", file=sys.stderr, flush=True)
if marker:
    print("personality: I repeat what you say", flush=True)
turn = 0
while True:
    if not marker:
        sys.stdout.write(">>> ")
        sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        break
    line = line.rstrip("\n")
    if line == "/clear":
        turn = 0
        print("(forgotten)")
    else:
        turn += 1
        print(f"turn {turn}")
        for part in decode(line).split("\n"):
            print("echo: " + part)
        print("stderr note for turn %d" % turn, file=sys.stderr, flush=True)
    if marker:
        print("<<<END>>>")
    sys.stdout.flush()
