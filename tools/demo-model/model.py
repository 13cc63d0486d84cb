"""A small Llama (RMSNorm, SwiGLU, RoPE, no biases, tied embeddings) in PyTorch.

RoPE rotates adjacent pairs (x[2i], x[2i+1]) — the layout GGUF "llama" files store and shuo and
llama.cpp compute — so the weights export as they are, without permuting q/k rows.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    n_vocab: int = 2048
    dim: int = 192
    n_layers: int = 6
    n_heads: int = 6
    ff: int = 512
    ctx: int = 512
    norm_eps: float = 1e-5
    rope_base: float = 10000.0

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, n_pos):
    hd = cfg.dim // cfg.n_heads
    inv = cfg.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv[None, :]
    return ang.cos().float(), ang.sin().float()


def apply_rope(x, cos, sin):
    # x: (B, H, T, hd); pairs are adjacent elements.
    a, b = x[..., 0::2], x[..., 1::2]
    ra = a * cos - b * sin
    rb = a * sin + b * cos
    return torch.stack((ra, rb), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.dim
        self.n_heads = cfg.n_heads
        self.attn_norm = RMSNorm(d, cfg.norm_eps)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d, cfg.norm_eps)
        self.w_gate = nn.Linear(d, cfg.ff, bias=False)
        self.w_up = nn.Linear(d, cfg.ff, bias=False)
        self.w_down = nn.Linear(cfg.ff, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, D = x.shape
        H = self.n_heads
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, H, D // H).transpose(1, 2)
        k = self.wk(h).view(B, T, H, D // H).transpose(1, 2)
        v = self.wv(h).view(B, T, H, D // H).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(D // H) + mask
        y = att.softmax(-1) @ v
        x = x + self.wo(y.transpose(1, 2).reshape(B, T, D))
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.n_vocab, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        cos, sin = rope_tables(cfg, cfg.ctx)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg.n_layers) if name.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, ids):
        T = ids.shape[1]
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.embed(ids)
        for blk in self.blocks:
            x = blk(x, self.cos[:T], self.sin[:T], mask)
        return self.norm(x) @ self.embed.weight.T  # tied LM head

    @torch.no_grad()
    def greedy(self, ids, stop_id, max_new):
        """Greedy continuation of `ids` (a list), recomputing the whole prefix each step: slow but
        the plainest reference for the cross-check with shuo."""
        out = []
        for _ in range(max_new):
            logits = self(torch.tensor([ids + out]))[0, -1]
            nxt = int(logits.argmax())
            out.append(nxt)
            if nxt == stop_id:
                break
        return out
