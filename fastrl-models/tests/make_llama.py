"""Writes tiny randomly initialised Llama and Qwen2 models with Hugging Face transformers,
and their logits on fixed inputs, for fastrl-models/tests/llama_parity.rs.

Usage: python make_llama.py OUT_DIR
OUT_DIR/llama (tied embeddings, grouped-query attention, RoPE theta 5000) and
OUT_DIR/qwen2 (untied LM head, q/k/v biases, RoPE theta 100000) each get config.json +
model.safetensors (save_pretrained) and expected.json:
{"ids": [[...]], "mask": [[...]], "logits": [[[...]]]} where row 1 is left-padded and
position_ids are cumsum(mask) - 1 (as generate() computes them).
"""
import json
import os
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

out = sys.argv[1]
shape = dict(vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
             rms_norm_eps=1e-5)
models = {
    "llama": (LlamaForCausalLM,
              LlamaConfig(**shape, rope_theta=5000.0, tie_word_embeddings=True)),
    "qwen2": (Qwen2ForCausalLM,
              Qwen2Config(**shape, rope_theta=100000.0, tie_word_embeddings=False)),
}
ids = torch.tensor([[5, 17, 3, 44, 9, 60, 1], [0, 0, 12, 7, 33, 2, 8]])
mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]])
pos = (mask.cumsum(1) - 1).clamp(min=0)
for seed, (name, (cls, cfg)) in enumerate(models.items()):
    torch.manual_seed(seed)
    cfg._attn_implementation = "eager"
    model = cls(cfg).eval()
    # Non-trivial norms and biases, so the test sees every parameter.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("bias") or "norm" in pname:
                p.add_(0.1 * torch.randn_like(p))
    d = os.path.join(out, name)
    model.save_pretrained(d, safe_serialization=True)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"ids": ids.tolist(), "mask": mask.tolist(), "logits": logits.tolist()}, f)
