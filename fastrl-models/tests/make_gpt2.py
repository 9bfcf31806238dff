"""Writes a tiny randomly initialised GPT-2 with Hugging Face transformers, and its logits
on fixed inputs, for fastrl-models/tests/hf_parity.rs.

Usage: python make_gpt2.py OUT_DIR
OUT_DIR gets config.json + model.safetensors (save_pretrained) and expected.json:
{"ids": [[...]], "mask": [[...]], "logits": [[[...]]]} where row 1 is left-padded and
position_ids are cumsum(mask) - 1 (as generate() computes them).
"""
import json
import sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel

out = sys.argv[1]
torch.manual_seed(0)
cfg = GPT2Config(vocab_size=61, n_positions=24, n_embd=32, n_layer=2, n_head=4,
                 resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
model = GPT2LMHeadModel(cfg).eval()
# Non-trivial layer norms and biases, so the test sees every parameter.
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("bias") or "ln_" in name:
            p.add_(0.1 * torch.randn_like(p))
model.save_pretrained(out, safe_serialization=True)
ids = torch.tensor([[5, 17, 3, 44, 9, 60, 1], [0, 0, 12, 7, 33, 2, 8]])
mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]])
pos = (mask.cumsum(1) - 1).clamp(min=0)
with torch.no_grad():
    logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
with open(f"{out}/expected.json", "w") as f:
    json.dump({"ids": ids.tolist(), "mask": mask.tolist(), "logits": logits.tolist()}, f)
