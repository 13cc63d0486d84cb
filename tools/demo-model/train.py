"""Builds the tokenizer, generates the chats and trains the model (AdamW, cosine schedule).

    python3 train.py --work DIR [--steps N] [--threads N] [--layers N --dim N --heads N --ff N]

Writes DIR/tokenizer.json, DIR/model.pt (also every 500 steps) and DIR/train.json. Seeded: the
same command gives the same data and the same initial weights (bit-identical weights also need
the same torch build, CPU and --threads). --threads 1 is the default: on a 2-core machine the
model's small matrices gain nothing from a second PyTorch thread (measured: 0.25 s per step
with one thread, 0.52 s with two, whose OpenMP threads spin waiting for each other), and the
second core stays free for OpenBLAS and everything else.
"""
import argparse
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F

import data
import tokenizer as tk
from model import Config, Llama


def make_batches(tok, chats, batch_size, rng):
    """Endless shuffled batches of padded (ids, targets); targets are -100 where no loss. Chats
    of similar length share a batch so little compute goes to padding."""
    enc = [tok.encode_chat(c) for c in chats]
    while True:
        order = list(range(len(enc)))
        rng.shuffle(order)
        groups = []
        for i in range(0, len(order) - batch_size * 32 + 1, batch_size * 32):
            window = sorted(order[i:i + batch_size * 32], key=lambda j: len(enc[j][0]))
            groups += [window[k:k + batch_size] for k in range(0, len(window), batch_size)]
        rng.shuffle(groups)
        for group in groups:
            T = max(len(enc[j][0]) for j in group) - 1
            x = torch.zeros(len(group), T, dtype=torch.long)
            y = torch.full((len(group), T), -100, dtype=torch.long)
            for r, j in enumerate(group):
                ids, mask = enc[j]
                n = len(ids) - 1
                x[r, :n] = torch.tensor(ids[:-1])
                y[r, :n] = torch.tensor([t if m else -100 for t, m in zip(ids[1:], mask[1:])])
            yield x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--chats", type=int, default=130000)
    ap.add_argument("--merges", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=Config.n_layers)
    ap.add_argument("--dim", type=int, default=Config.dim)
    ap.add_argument("--heads", type=int, default=Config.n_heads)
    ap.add_argument("--ff", type=int, default=Config.ff)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    t0 = time.time()

    data.check_heldout_split()
    chats = [data.training_chat(rng) for _ in range(args.chats)]
    corpus = [m["content"] for c in chats[:40000] for m in c]
    tok = tk.build(data.all_texts(), corpus, args.merges)
    tok.save(os.path.join(args.work, "tokenizer.json"))
    print(f"vocab {len(tok)} tokens, {len(chats)} chats, {time.time() - t0:.0f}s", flush=True)

    cfg = Config(n_vocab=len(tok), dim=args.dim, n_layers=args.layers, n_heads=args.heads, ff=args.ff)
    model = Llama(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {n_params / 1e6:.2f}M parameters {cfg.to_dict()}", flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    warmup = max(1, args.steps // 30)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    batches = make_batches(tok, chats, args.batch, rng)
    print(f"tokenized {time.time() - t0:.0f}s", flush=True)
    model.train()
    avg = None
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x, y = next(batches)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {avg:.4f} lr {lr_at(step):.2e} {time.time() - t0:.0f}s", flush=True)
        if (step + 1) % 500 == 0 or step == args.steps - 1:  # a checkpoint to look at while training
            torch.save({"config": cfg.to_dict(), "state": model.state_dict(), "steps": step + 1},
                       os.path.join(args.work, "model.pt"))
    with open(os.path.join(args.work, "train.json"), "w") as f:
        json.dump({"seconds": round(time.time() - t0), "params": n_params, "steps": args.steps,
                   "final_loss": avg}, f)
    print(f"done in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
