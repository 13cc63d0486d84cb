#!/usr/bin/env python3
"""Time to first token of two chat requests that share a long system prompt (python3 stdlib).

The second request should reuse the first one's cached KV blocks (prefix reuse), so its first
token comes much sooner. Start a server first, e.g.
  shuo serve --model qwen2-0.5b-Q8_0.gguf --port 18602 --threads 2 --ctx 2048
then: bench/prefix_reuse_ttft.py --port 18602 --system-words 900
"""
import argparse
import http.client
import json
import random
import time


def first_token_seconds(port, system, user):
    body = json.dumps({"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                       "max_tokens": 4, "ignore_eos": True, "stream": True,
                       "stream_options": {"include_usage": True}})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.time()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    first, usage = None, None
    for raw in conn.getresponse():
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        # The first chunk only announces the role; count the first one with text.
        if first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            first = time.time() - t0
        if chunk.get("usage"):
            usage = chunk["usage"]
    return first, usage


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=19327)
    ap.add_argument("--system-words", type=int, default=900)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    words = "the cat sat on a mat while red birds sang over green hills and rivers ran to the sea".split()
    system = " ".join(rng.choice(words) for _ in range(args.system_words))
    a, ua = first_token_seconds(args.port, system, "What is the first word?")
    b, ub = first_token_seconds(args.port, system, "Tell me about the birds.")
    print(f"first request:  TTFT {a:.3f} s, prompt tokens {ua['prompt_tokens']}")
    print(f"second request: TTFT {b:.3f} s, prompt tokens {ub['prompt_tokens']}")
    print(f"speed-up: {a / b:.1f}x")


if __name__ == "__main__":
    main()
