#!/usr/bin/env python3
"""PyTorch eager reference for `npm run bench`: the same shapes, trained the same way (AdamW, next-token
cross-entropy on random tokens, no dropout), timed per optimizer step. The models follow nanoGPT's model.py
(GPT-2) and Hugging Face's GPT-Neo and Llama layouts, written with plain torch.nn so that only PyTorch is
needed (1.13 or newer; scaled_dot_product_attention is used where PyTorch has it, as nanoGPT does).

Usage: python3 torch_bench.py JOB.json
JOB.json: {"device": "cpu" | "cuda", "warmup": W, "steps": N, "threads": CPU threads (default: every core),
           "shapes": [{"id": ..., "config": {...HF config.json...}, "seq": T, "batch": B}, ...]}
Prints one JSON line per shape: {"id", "device", "msPerStep", "tokensPerS", "torch"}, or {"id", "error"}.
"""

import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SDPA = getattr(F, "scaled_dot_product_attention", None)


def attend(q, k, v, scale, mask):
    """q, k, v (B, nh, T, hs); mask (T, T) bool, True where a key may be seen."""
    if SDPA is not None:  # it scales by 1/sqrt(hs): fold the wanted scale into q
        return SDPA(q * (scale * math.sqrt(q.shape[-1])), k, v, attn_mask=mask)
    att = (q @ k.transpose(-1, -2)) * scale
    att = att.masked_fill(~mask, float("-inf"))
    return F.softmax(att, dim=-1) @ v


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


class GPTBlock(nn.Module):
    """GPT-2 (fused c_attn with bias, scaled) or GPT-Neo (q/k/v without bias, unscaled) pre-norm block."""

    def __init__(self, d, nh, inner, neo):
        super().__init__()
        self.nh, self.neo = nh, neo
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        if neo:
            self.q, self.k, self.v = (nn.Linear(d, d, bias=False) for _ in range(3))
        else:
            self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, inner), nn.Linear(inner, d)

    def forward(self, x, mask):
        B, T, C = x.shape
        h = self.ln_1(x)
        q, k, v = (self.q(h), self.k(h), self.v(h)) if self.neo else self.c_attn(h).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        scale = 1.0 if self.neo else 1.0 / math.sqrt(C // self.nh)
        y = attend(q, k, v, scale, mask).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(gelu_new(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, c, neo):
        super().__init__()
        d = c.get("hidden_size" if neo else "n_embd", 768)
        layers = c.get("num_layers" if neo else "n_layer", 12)
        nh = c.get("num_heads" if neo else "n_head", 12)
        inner = c.get("intermediate_size" if neo else "n_inner") or 4 * d
        positions = c.get("max_position_embeddings" if neo else "n_positions", 1024)
        self.wte, self.wpe = nn.Embedding(c["vocab_size"], d), nn.Embedding(positions, d)
        self.h = nn.ModuleList(GPTBlock(d, nh, inner, neo) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        if neo:
            types = []
            for pattern, n in c.get("attention_types", [[["global", "local"], layers // 2]]):
                types += pattern * n
            self.types, self.window = types, c.get("window_size", 256)
        else:
            self.types, self.window = ["global"] * layers, None

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        i = torch.arange(T, device=idx.device)
        causal = i[None, :] <= i[:, None]
        local = causal & (i[None, :] > i[:, None] - (self.window or T))
        for block, kind in zip(self.h, self.types):
            x = block(x, local if kind == "local" else causal)
        return self.ln_f(x) @ self.wte.weight.t()


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class LlamaBlock(nn.Module):
    def __init__(self, d, nh, nkv, hs, inner, eps):
        super().__init__()
        self.nh, self.nkv, self.hs = nh, nkv, hs
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(d, eps), RMSNorm(d, eps)
        self.q_proj = nn.Linear(d, nh * hs, bias=False)
        self.k_proj, self.v_proj = nn.Linear(d, nkv * hs, bias=False), nn.Linear(d, nkv * hs, bias=False)
        self.o_proj = nn.Linear(nh * hs, d, bias=False)
        self.gate_proj, self.up_proj = nn.Linear(d, inner, bias=False), nn.Linear(d, inner, bias=False)
        self.down_proj = nn.Linear(inner, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = rope(self.q_proj(h).view(B, T, self.nh, self.hs).transpose(1, 2), cos, sin)
        k = rope(self.k_proj(h).view(B, T, self.nkv, self.hs).transpose(1, 2), cos, sin)
        v = self.v_proj(h).view(B, T, self.nkv, self.hs).transpose(1, 2)
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        y = attend(q, k, v, 1.0 / math.sqrt(self.hs), mask).transpose(1, 2).reshape(B, T, self.nh * self.hs)
        x = x + self.o_proj(y)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, nh = c["hidden_size"], c["num_attention_heads"]
        nkv = c.get("num_key_value_heads") or nh
        hs = c.get("head_dim") or d // nh
        self.embed_tokens = nn.Embedding(c["vocab_size"], d)
        self.layers = nn.ModuleList(
            LlamaBlock(d, nh, nkv, hs, c["intermediate_size"], c.get("rms_norm_eps", 1e-6))
            for _ in range(c["num_hidden_layers"])
        )
        self.norm = RMSNorm(d, c.get("rms_norm_eps", 1e-6))
        self.lm_head = nn.Linear(d, c["vocab_size"], bias=False)
        self.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hs, 2).float() / hs))

    def forward(self, idx):
        T = idx.shape[1]
        t = torch.arange(T, device=idx.device).float()
        freqs = torch.outer(t, self.inv_freq.to(idx.device))
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        i = torch.arange(T, device=idx.device)
        mask = i[None, :] <= i[:, None]
        x = self.embed_tokens(idx)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def build(config):
    arch = (config.get("architectures") or [config.get("model_type")])[0]
    if arch in ("GPT2LMHeadModel", "gpt2"):
        return GPT(config, neo=False)
    if arch in ("GPTNeoForCausalLM", "gpt_neo"):
        return GPT(config, neo=True)
    if arch in ("LlamaForCausalLM", "llama"):
        return Llama(config)
    raise ValueError(f"unsupported architecture {arch}")


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def bench(shape, device, warmup, steps):
    torch.manual_seed(0)
    model = build(shape["config"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    V, T, B = shape["config"]["vocab_size"], shape["seq"], shape["batch"]

    def step():
        idx = torch.randint(0, V, (B, T), device=device)
        logits = model(idx)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), idx[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    float(loss)  # waits for the last step, as the engine's read does
    sync(device)
    ms = (time.perf_counter() - t0) * 1000 / steps
    return {"id": shape["id"], "device": device, "msPerStep": ms, "tokensPerS": B * T / (ms / 1000), "torch": torch.__version__}


def main():
    job = json.load(open(sys.argv[1]))
    device = job["device"]
    # As many threads as ours: some builds (Debian's 1.13) start with one whatever the cores.
    torch.set_num_threads(job.get("threads") or len(os.sched_getaffinity(0)))
    if device == "cuda" and not torch.cuda.is_available():
        for shape in job["shapes"]:
            print(json.dumps({"id": shape["id"], "error": "this PyTorch has no CUDA device"}), flush=True)
        return
    for shape in job["shapes"]:
        try:
            print(json.dumps(bench(shape, device, job["warmup"], job["steps"])), flush=True)
        except Exception as e:  # one shape failing (out of memory) does not end the others
            print(json.dumps({"id": shape["id"], "error": str(e).splitlines()[0]}), flush=True)


if __name__ == "__main__":
    main()
