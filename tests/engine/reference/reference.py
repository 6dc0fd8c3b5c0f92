#!/usr/bin/env python3
"""Independent PyTorch reference for Dumbo's GPT-2, GPT-Neo and Llama forwards (no transformers package).

Written from the Hugging Face model descriptions, in float64, so the TypeScript float32 implementation can be
checked against it. Usage:

    python3 reference.py CASES.json

CASES.json: {"cases": [{"arch": "GPT2LMHeadModel" | "GPTNeoForCausalLM" | "LlamaForCausalLM",
                        "config": {...config.json...},
                        "weights": {"transformer.wte.weight": {"shape": [V, D], "data": [...]}, ...},
                        "input_ids": [[...], ...], "labels": [[...], ...]}]}
Prints one JSON line: {"results": [{"shape": [B, T, V], "logits": [...flat...], "loss": x}, ...]}.

A case with "mode": "score" scores one long token sequence as `dumbo score` documents it, instead:
  {"mode": "score", "arch": ..., "config": {...}, "weights_file": "model.safetensors" (or "weights": {...}),
   "ids": [...], "window": W}
windows of W tokens that overlap by one token, so every token after the first is predicted once; its result
is {"loss": mean cross-entropy in nats over the predicted tokens, "tokens": N - 1, "windows": n}.
"""

import json
import math
import sys

import torch
import torch.nn.functional as F

DTYPE = torch.float64


def load_weights(raw):
    return {name: torch.tensor(t["data"], dtype=DTYPE).reshape(t["shape"]) for name, t in raw.items()}


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def act(name):
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name in ("silu", "swish"):
        return lambda x: x * torch.sigmoid(x)
    if name == "relu":
        return torch.relu
    raise ValueError(f"activation {name}")


def attend(q, k, v, scale, allowed):
    """q (B, nh, T, hs), k/v (B, nh, T, hs), allowed (T, T) bool."""
    scores = (q @ k.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def heads(x, n):
    B, T, C = x.shape
    return x.view(B, T, n, C // n).transpose(1, 2)


def unheads(y):
    B, n, T, hs = y.shape
    return y.transpose(1, 2).reshape(B, T, n * hs)


def gpt2(W, c, ids):
    B, T = ids.shape
    D, nh, L = c["n_embd"], c["n_head"], c["n_layer"]
    eps = c.get("layer_norm_epsilon", 1e-5)
    f = act(c.get("activation_function", "gelu_new"))
    g = lambda n: W["transformer." + n]  # noqa: E731
    x = g("wte.weight")[ids] + g("wpe.weight")[:T]
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(L):
        p = f"h.{i}."
        h = layer_norm(x, g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        qkv = h @ g(p + "attn.c_attn.weight") + g(p + "attn.c_attn.bias")  # Conv1D: [in, out]
        q, k, v = (heads(t, nh) for t in qkv.split(D, dim=2))
        y = unheads(attend(q, k, v, 1.0 / math.sqrt(D // nh), allowed))
        x = x + y @ g(p + "attn.c_proj.weight") + g(p + "attn.c_proj.bias")
        h = layer_norm(x, g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        m = f(h @ g(p + "mlp.c_fc.weight") + g(p + "mlp.c_fc.bias"))
        x = x + m @ g(p + "mlp.c_proj.weight") + g(p + "mlp.c_proj.bias")
    x = layer_norm(x, g("ln_f.weight"), g("ln_f.bias"), eps)
    return x @ W.get("lm_head.weight", g("wte.weight")).T


def expand_types(types):
    out = []
    for kinds, n in types:
        for _ in range(n):
            out.extend(kinds)
    return out


def gpt_neo(W, c, ids):
    B, T = ids.shape
    nh, L, window = c["num_heads"], c["num_layers"], c.get("window_size", 256)
    eps = c.get("layer_norm_epsilon", 1e-5)
    f = act(c.get("activation_function", "gelu_new"))
    kinds = expand_types(c["attention_types"])
    g = lambda n: W["transformer." + n]  # noqa: E731
    lin = lambda x, n, bias=True: x @ g(n + ".weight").T + (g(n + ".bias") if bias else 0)  # noqa: E731
    x = g("wte.weight")[ids] + g("wpe.weight")[:T]
    i_idx = torch.arange(T)[:, None]
    j_idx = torch.arange(T)[None, :]
    masks = {"global": j_idx <= i_idx, "local": (j_idx <= i_idx) & (j_idx > i_idx - window)}
    for i in range(L):
        p = f"h.{i}."
        a = p + "attn.attention."
        h = layer_norm(x, g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        q, k, v = (heads(lin(h, a + n, bias=False), nh) for n in ("q_proj", "k_proj", "v_proj"))
        y = unheads(attend(q, k, v, 1.0, masks[kinds[i]]))  # GPT-Neo does not scale the scores
        x = x + lin(y, a + "out_proj")
        h = layer_norm(x, g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        x = x + lin(f(lin(h, p + "mlp.c_fc")), p + "mlp.c_proj")
    x = layer_norm(x, g("ln_f.weight"), g("ln_f.bias"), eps)
    return x @ W.get("lm_head.weight", g("wte.weight")).T


def rope(x, theta):
    """Rotate pairs (k, k + hs/2) by angle pos * theta^(-2k/hs): Hugging Face's rotate_half convention."""
    B, n, T, hs = x.shape
    half = hs // 2
    inv = 1.0 / theta ** (torch.arange(half, dtype=DTYPE) * 2 / hs)
    ang = torch.arange(T, dtype=DTYPE)[:, None] * inv[None, :]  # (T, half)
    cos, sin = torch.cos(ang), torch.sin(ang)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


def llama(W, c, ids):
    B, T = ids.shape
    D, nh, L = c["hidden_size"], c["num_attention_heads"], c["num_hidden_layers"]
    nkv = c.get("num_key_value_heads") or nh
    hs = c.get("head_dim") or D // nh
    eps = c.get("rms_norm_eps", 1e-6)
    theta = c.get("rope_theta", 10000.0)
    f = act(c.get("hidden_act", "silu"))
    g = lambda n: W["model." + n]  # noqa: E731
    lin = lambda x, n: x @ g(n + ".weight").T  # noqa: E731
    x = g("embed_tokens.weight")[ids]
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(L):
        p = f"layers.{i}."
        h = rms_norm(x, g(p + "input_layernorm.weight"), eps)
        q = rope(heads(lin(h, p + "self_attn.q_proj"), nh), theta)
        k = rope(heads(lin(h, p + "self_attn.k_proj"), nkv), theta)
        v = heads(lin(h, p + "self_attn.v_proj"), nkv)
        k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
        x = x + lin(unheads(attend(q, k, v, 1.0 / math.sqrt(hs), allowed)), p + "self_attn.o_proj")
        h = rms_norm(x, g(p + "post_attention_layernorm.weight"), eps)
        x = x + lin(f(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, g("norm.weight"), eps)
    head = W["lm_head.weight"] if "lm_head.weight" in W else g("embed_tokens.weight")
    return x @ head.T


ARCHS = {"GPT2LMHeadModel": gpt2, "GPTNeoForCausalLM": gpt_neo, "LlamaForCausalLM": llama}


def read_safetensors(path):
    """A minimal safetensors reader (F32, little-endian): u64 header length, JSON header, then the data."""
    with open(path, "rb") as fh:
        raw = fh.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        if h["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {h['dtype']}, this reader takes F32 only")
        begin, end = h["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32) if end > begin else torch.zeros(0)
        out[name] = t.to(DTYPE).reshape(h["shape"])
    return out


def score(case):
    """Mean next-token cross-entropy of one sequence, in windows of `window` tokens overlapping by one."""
    W = load_weights(case["weights"]) if "weights" in case else read_safetensors(case["weights_file"])
    forward = ARCHS[case["arch"]]
    ids, window = case["ids"], case["window"]
    total, count, windows = 0.0, 0, 0
    start = 0
    while start < len(ids) - 1:
        chunk = torch.tensor([ids[start : start + window]], dtype=torch.long)
        logits = forward(W, case["config"], chunk)[0]  # (T, V)
        total += F.cross_entropy(logits[:-1], chunk[0, 1:], reduction="sum").item()
        count += chunk.shape[1] - 1
        windows += 1
        start += window - 1
    return {"loss": total / count, "tokens": count, "windows": windows}


def run(case):
    if case.get("mode") == "score":
        return score(case)
    W = load_weights(case["weights"])
    ids = torch.tensor(case["input_ids"], dtype=torch.long)
    logits = ARCHS[case["arch"]](W, case["config"], ids)
    V = logits.shape[-1]
    labels = torch.tensor(case["labels"], dtype=torch.long)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    return {"shape": list(logits.shape), "logits": logits.flatten().tolist(), "loss": loss.item()}


def main():
    with open(sys.argv[1]) as fh:
        cases = json.load(fh)["cases"]
    print(json.dumps({"results": [run(c) for c in cases]}))


if __name__ == "__main__":
    main()
