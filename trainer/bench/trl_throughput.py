"""PPO throughput, side by side on CPU: fastrl-trainer's PPO step vs trl 1.12.0's
PPOTrainer (trl.experimental.ppo), on the same tiny GPT-2 config, the same prompts,
batch, minibatches, epochs and generation length, with the same number of torch threads.

    .venv/bin/python trainer/bench/trl_throughput.py [--steps 6] [--batch 32] [--threads 2]

Prints tokens/s of each and the ratio: response tokens generated over the wall time of
the PPO steps (for fastrl-trainer the tokens it actually generated, from metrics.jsonl;
for trl the full response length, which favours trl if any row stops early).

Differences it cannot remove, stated in the output: trl scores with a reward *model* and
keeps a separate value model (two extra GPT-2 forwards per rollout, plus the value
model's backward), as its PPOTrainer requires; fastrl-trainer scores with text metrics
(METEOR, BLEU, ROUGE-L, computed on the CPU) and uses a value head on the policy trunk.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--minibatch", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--response", type=int, default=16)
    ap.add_argument("--context", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    import chitchat_dataset as ccc
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import (AutoModelForSequenceClassification, GPT2Config, GPT2LMHeadModel,
                              PreTrainedTokenizerFast, TrainerCallback)
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    work = Path(tempfile.mkdtemp(prefix="fastrl-trl-bench-"))
    # Prompts: Chit Chat utterances as contexts (the trainer uses them the same way).
    texts = []
    for conv in list(ccc.Dataset().values())[:600]:
        for turn in conv["messages"]:
            texts.append(" ".join(m["text"] for m in turn))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=4000, special_tokens=["<|endoftext|>", "<EOU>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    model_dir = work / "policy"
    model_dir.mkdir()
    tok.save(str(model_dir / "tokenizer.json"))
    hf_tok = PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"),
                                     eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    hf_tok.padding_side = "left"
    cfg = GPT2Config(vocab_size=len(hf_tok), n_positions=a.context + a.response, n_embd=128,
                     n_layer=3, n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     eos_token_id=hf_tok.eos_token_id, bos_token_id=hf_tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).save_pretrained(model_dir, safe_serialization=True)

    # ---- fastrl-trainer: PPO from that directory, on the default corpus' prompts.
    out = work / "fastrl"
    exe = ROOT / "target/release/fastrl-trainer"
    if not exe.exists():
        sys.exit(f"{exe} is missing: cargo build --release -p fastrl-trainer (with scripts/libtorch-env.sh)")
    sets = [f"run.out_dir=\"{out}\"", f"run.threads={a.threads}", "run.device=\"cpu\"",
            f"ppo.steps={a.steps}", f"ppo.batch_size={a.batch}", f"ppo.minibatch_size={a.minibatch}",
            f"ppo.epochs={a.epochs}", f"tokenizer.max_response_tokens={a.response}",
            f"tokenizer.max_context_tokens={a.context}", "ppo.top_k=0", "ppo.temperature=0.7",
            "ppo.checkpoint_every=1000", "data.max_train_pairs=2000"]
    cmd = [str(exe), "ppo", "--preset", "default", "--model", str(model_dir)]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    lines = [json.loads(l) for l in open(out / "ppo/metrics.jsonl")]
    ours_s = sum(l["step_s"] for l in lines)
    ours_len = sum(l["response_len"] for l in lines) / len(lines)
    # Tokens actually generated (rows that emit end-of-text stop early).
    ours_tps = sum(l["response_len"] * a.batch for l in lines) / ours_s

    # ---- trl PPOTrainer, same model, batch, minibatches, epochs, response length.
    prompts = []
    for t in texts[: a.batch * a.steps * 2]:
        ids = hf_tok(t + " <EOU>")["input_ids"][-a.context:]
        prompts.append({"input_ids": ids})
    ds = Dataset.from_list(prompts)
    policy = GPT2LMHeadModel.from_pretrained(model_dir)
    ref = GPT2LMHeadModel.from_pretrained(model_dir)
    rcfg = GPT2Config(**{**cfg.to_dict(), "num_labels": 1, "pad_token_id": hf_tok.pad_token_id})
    reward = AutoModelForSequenceClassification.from_config(rcfg)
    value = AutoModelForSequenceClassification.from_config(rcfg)
    args = PPOConfig(
        output_dir=str(work / "trl"), per_device_train_batch_size=a.batch,
        num_mini_batches=a.batch // a.minibatch, num_ppo_epochs=a.epochs,
        total_episodes=a.batch * a.steps, response_length=a.response, temperature=0.7,
        learning_rate=1e-4, report_to="none", save_strategy="no", num_sample_generations=0,
        logging_steps=1, use_cpu=True, bf16=False, seed=0, stop_token="eos",
        local_rollout_forward_batch_size=a.batch, dataloader_num_workers=0,
    )

    class Clock(TrainerCallback):
        def on_train_begin(self, *_, **__):
            self.t0 = time.perf_counter()

        def on_train_end(self, *_, **__):
            self.t1 = time.perf_counter()

    clock = Clock()
    trainer = PPOTrainer(args=args, processing_class=hf_tok, model=policy, ref_model=ref,
                         reward_model=reward, train_dataset=ds, value_model=value,
                         callbacks=[clock])
    trainer.train()
    trl_s = clock.t1 - clock.t0
    trl_tps = a.steps * a.batch * a.response / trl_s

    print(f"tiny GPT-2 (n_embd 128, 3 layers, vocab {len(hf_tok)}), batch {a.batch}, "
          f"minibatch {a.minibatch}, {a.epochs} epochs, {a.response} response tokens, "
          f"{a.steps} PPO steps, {a.threads} torch threads, CPU")
    print(f"fastrl-trainer: {ours_s:.2f} s  {ours_tps:8.1f} tokens/s  (mean response length "
          f"{ours_len:.1f} of {a.response})")
    print(f"trl PPOTrainer: {trl_s:.2f} s  {trl_tps:8.1f} tokens/s")
    print(f"ratio (fastrl / trl): {ours_tps / trl_tps:.2f}x")
    print("note: trl also runs a reward model and a separate value model (its PPOTrainer "
          "requires both); fastrl-trainer scores with METEOR/BLEU/ROUGE-L and shares the trunk.")


if __name__ == "__main__":
    main()
