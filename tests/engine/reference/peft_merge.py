#!/usr/bin/env python3
"""PEFT's LoRA merge, re-implemented in PyTorch from PEFT's description, to check Dumbo's adapter files.

Reads a base model folder (config.json, model.safetensors) and a PEFT adapter folder (adapter_config.json,
adapter_model.safetensors), checks every adapter key against PEFT's rules (the `base_model.model.` prefix,
`<module>.lora_A.weight` [r, in_features] and `<module>.lora_B.weight` [out_features, r] for a module of the
base that `target_modules` selects: a list matches a name equal to an entry or ending in `.` + entry, a string
is a full-match regex; Conv1D weights [in, out] with `fan_in_fan_out`), merges W + scaling * (B @ A)
(transposed with fan_in_fan_out; scaling lora_alpha / r, or / sqrt(r) with use_rslora), and runs the
reference forward (reference.py) of the merged weights. Usage:

    python3 peft_merge.py BASE_DIR ADAPTER_DIR IDS_JSON

Prints one JSON line: {"modules": [...], "logits": [...flat...], "shape": [B, T, V]}; errors exit 1.
"""

import json
import math
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import ARCHS, read_safetensors  # noqa: E402

PREFIX = "base_model.model."


def targeted(name, targets):
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def main():
    base_dir, adapter_dir, ids_json = sys.argv[1:4]
    with open(os.path.join(base_dir, "config.json")) as fh:
        config = json.load(fh)
    with open(os.path.join(adapter_dir, "adapter_config.json")) as fh:
        peft = json.load(fh)
    assert peft["peft_type"] == "LORA" and peft["task_type"] == "CAUSAL_LM", peft
    W = read_safetensors(os.path.join(base_dir, "model.safetensors"))
    adapter = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    r, alpha = peft["r"], peft["lora_alpha"]
    scaling = alpha / math.sqrt(r) if peft.get("use_rslora") else alpha / r
    fan_in_fan_out = peft["fan_in_fan_out"]
    modules = sorted({k[len(PREFIX):].rsplit(".lora_", 1)[0] for k in adapter})
    for key in adapter:
        assert key.startswith(PREFIX), f"{key}: no {PREFIX} prefix"
        assert re.search(r"\.lora_[AB]\.weight$", key), f"{key}: not a lora_A/lora_B weight"
    for m in modules:
        assert targeted(m, peft["target_modules"]), f"{m} is not selected by target_modules"
        w = W[m + ".weight"]
        in_f, out_f = (w.shape[0], w.shape[1]) if fan_in_fan_out else (w.shape[1], w.shape[0])
        A, B = adapter[PREFIX + m + ".lora_A.weight"], adapter[PREFIX + m + ".lora_B.weight"]
        assert list(A.shape) == [r, in_f], f"{m}.lora_A is {list(A.shape)}, PEFT's is {[r, in_f]}"
        assert list(B.shape) == [out_f, r], f"{m}.lora_B is {list(B.shape)}, PEFT's is {[out_f, r]}"
        delta = (B @ A) * scaling
        W[m + ".weight"] = w + (delta.T if fan_in_fan_out else delta)
    with open(ids_json) as fh:
        ids = torch.tensor(json.load(fh), dtype=torch.long)
    logits = ARCHS[config["architectures"][0]](W, config, ids)
    print(json.dumps({"modules": modules, "shape": list(logits.shape), "logits": logits.flatten().tolist()}))


if __name__ == "__main__":
    main()
