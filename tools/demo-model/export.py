"""Writes the trained model as GGUF plus the files shuo's test checks it with.

    python3 export.py --work DIR --out-dir models

models/shuo-demo.gguf           Llama GGUF: F16 matrices, F32 norms, vocab, chat template
models/shuo-demo.eval.json      held-out chats, expected answers, the prompt ids Python encodes
models/shuo-demo.greedy.json    20 prompts and PyTorch's greedy continuation (token ids)

The PyTorch model is rounded to the file's F16 weights first, so the references and the scores
printed here are those of exactly the weights shuo loads.
"""
import argparse
import json
import os
import struct

import numpy as np
import torch

import data
import tokenizer as tk
from model import Config, Llama

NAME = "shuo-demo"
LICENSE = "MIT"
DESCRIPTION = ("shuo's built-in demo model: a tiny bilingual (Chinese/English) Llama trained by "
               "tools/demo-model on synthetic chats. It knows the capitals of China's 34 "
               "provincial-level divisions and of 75 countries, adds and subtracts with results "
               "0..199, and remembers a name or city within a chat. Nothing else.")
MAX_NEW = 48

# GGUF value types and tensor types.
U32, I32, F32, BOOL, STR, ARR = 4, 5, 6, 7, 8, 9
T_F32, T_F16 = 0, 1
ALIGN = 32


class GgufWriter:
    def __init__(self):
        self.kv = []       # (key, bytes of type + value)
        self.tensors = []  # (name, np array)

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def add(self, key, vtype, value):
        if vtype == STR:
            body = self._str(value)
        elif vtype == BOOL:
            body = struct.pack("<B", 1 if value else 0)
        else:
            body = struct.pack({U32: "<I", I32: "<i", F32: "<f"}[vtype], value)
        self.kv.append((key, struct.pack("<I", vtype) + body))

    def add_array(self, key, etype, values):
        if etype == STR:
            body = b"".join(self._str(v) for v in values)
        else:
            body = np.asarray(values, dtype={F32: "<f4", I32: "<i4"}[etype]).tobytes()
        self.kv.append((key, struct.pack("<IIQ", ARR, etype, len(values)) + body))

    def add_tensor(self, name, array):
        self.tensors.append((name, np.ascontiguousarray(array)))

    def write(self, path):
        out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv)))
        for key, body in self.kv:
            out += self._str(key) + body
        offset = 0
        for name, a in self.tensors:
            dims = list(reversed(a.shape))  # GGUF lists the fastest-moving dimension first
            out += self._str(name) + struct.pack("<I", len(dims))
            out += b"".join(struct.pack("<Q", d) for d in dims)
            out += struct.pack("<IQ", T_F16 if a.dtype == np.float16 else T_F32, offset)
            offset += -(-a.nbytes // ALIGN) * ALIGN
        out += b"\0" * (-len(out) % ALIGN)
        for _, a in self.tensors:
            out += a.tobytes() + b"\0" * (-a.nbytes % ALIGN)
        with open(path, "wb") as f:
            f.write(out)


def round_to_f16(model):
    """Matrices as the file stores them (F16); norms stay F32."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.copy_(p.half().float())


def write_gguf(path, model, cfg, tok):
    w = GgufWriter()
    w.add("general.architecture", STR, "llama")
    w.add("general.name", STR, NAME)
    w.add("general.license", STR, LICENSE)
    w.add("general.description", STR, DESCRIPTION)
    w.add("general.file_type", U32, 1)  # mostly F16
    w.add("llama.context_length", U32, cfg.ctx)
    w.add("llama.embedding_length", U32, cfg.dim)
    w.add("llama.block_count", U32, cfg.n_layers)
    w.add("llama.feed_forward_length", U32, cfg.ff)
    w.add("llama.attention.head_count", U32, cfg.n_heads)
    w.add("llama.attention.head_count_kv", U32, cfg.n_heads)
    w.add("llama.attention.layer_norm_rms_epsilon", F32, cfg.norm_eps)
    w.add("llama.rope.freq_base", F32, cfg.rope_base)
    w.add("llama.rope.dimension_count", U32, cfg.dim // cfg.n_heads)
    w.add("llama.vocab_size", U32, len(tok))
    w.add("tokenizer.ggml.model", STR, "llama")
    w.add_array("tokenizer.ggml.tokens", STR, tok.tokens)
    w.add_array("tokenizer.ggml.scores", F32, tok.scores)
    w.add_array("tokenizer.ggml.token_type", I32, tok.types)
    w.add("tokenizer.ggml.bos_token_id", U32, tok.bos_id)
    w.add("tokenizer.ggml.eos_token_id", U32, tok.end_id)  # <|end|> ends the assistant's turn
    w.add("tokenizer.ggml.eot_token_id", U32, tok.end_id)
    w.add("tokenizer.ggml.unknown_token_id", U32, tok.ids[tk.UNK])
    w.add("tokenizer.ggml.add_bos_token", BOOL, True)
    w.add("tokenizer.ggml.add_eos_token", BOOL, False)
    w.add("tokenizer.ggml.add_space_prefix", BOOL, False)
    w.add("tokenizer.chat_template", STR, tk.CHAT_TEMPLATE)

    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    f16 = lambda a: a.astype(np.float16)
    w.add_tensor("token_embd.weight", f16(sd["embed.weight"]))
    for i in range(cfg.n_layers):
        p = f"blocks.{i}."
        for ours, theirs in [("attn_norm", "attn_norm.weight"), ("ffn_norm", "ffn_norm.weight")]:
            w.add_tensor(f"blk.{i}.{ours}.weight", sd[p + theirs])
        for ours, theirs in [("attn_q", "wq"), ("attn_k", "wk"), ("attn_v", "wv"), ("attn_output", "wo"),
                             ("ffn_gate", "w_gate"), ("ffn_up", "w_up"), ("ffn_down", "w_down")]:
            w.add_tensor(f"blk.{i}.{ours}.weight", f16(sd[p + theirs + ".weight"]))
    w.add_tensor("output_norm.weight", sd["norm.weight"])
    w.write(path)


def greedy_prompts(cases):
    """20 prompts for the engine cross-check: held-out questions of each kind, chit-chat, a
    system turn, and inputs the model never saw (emoji → byte fallback, a long mixed sentence)."""
    picks = []
    for kind in ["province", "country", "arithmetic", "memory"]:
        picks += [c["messages"] for c in cases if c["kind"] == kind][:3]
    u = lambda s: [{"role": "user", "content": s}]
    picks += [u("你好"), u("Who are you?"), u("谢谢！"), u("What is the meaning of life?"),
              [{"role": "system", "content": "You are a helpful assistant."}] + u("湖北的省会是哪里？"),
              u("🙂 Ünïcödé ✓ 你好吗"), u("Tell me a long story about dragons, castles and 中国的历史。"),
              u("")]
    return picks[:20]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = tk.Tokenizer.load(os.path.join(args.work, "tokenizer.json"))
    ckpt = torch.load(os.path.join(args.work, "model.pt"))
    cfg = Config(**ckpt["config"])
    model = Llama(cfg)
    model.load_state_dict(ckpt["state"])
    model.eval()
    round_to_f16(model)
    os.makedirs(args.out_dir, exist_ok=True)
    write_gguf(os.path.join(args.out_dir, NAME + ".gguf"), model, cfg, tok)

    cases = data.heldout_cases()
    right, total = {}, {}
    for c in cases:
        ids = tok.encode(tok.render(c["messages"], True), add_bos=False)
        c["prompt_ids"] = ids
        out = model.greedy(ids, tok.end_id, MAX_NEW)
        got = tok.decode(out)
        total[c["kind"]] = total.get(c["kind"], 0) + 1
        right[c["kind"]] = right.get(c["kind"], 0) + (got == c["expected"])
    scores = {k: round(right[k] / total[k], 4) for k in total}
    print("PyTorch held-out scores:", json.dumps(scores), flush=True)
    with open(os.path.join(args.out_dir, NAME + ".eval.json"), "w", encoding="utf-8") as f:
        json.dump({"max_new_tokens": MAX_NEW, "pytorch_scores": scores, "cases": cases}, f,
                  ensure_ascii=False, indent=0)

    greedy = []
    for msgs in greedy_prompts(cases):
        ids = tok.encode(tok.render(msgs, True), add_bos=False)
        out = model.greedy(ids, tok.end_id, MAX_NEW)
        greedy.append({"messages": msgs, "prompt_ids": ids, "output_ids": out, "text": tok.decode(out)})
    with open(os.path.join(args.out_dir, NAME + ".greedy.json"), "w", encoding="utf-8") as f:
        json.dump({"max_new_tokens": MAX_NEW, "prompts": greedy}, f, ensure_ascii=False, indent=0)
    for g in greedy:
        print(json.dumps(g["messages"][-1]["content"], ensure_ascii=False), "->",
              json.dumps(g["text"], ensure_ascii=False))


if __name__ == "__main__":
    main()
