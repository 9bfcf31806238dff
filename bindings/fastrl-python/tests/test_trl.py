"""fastrl.trl against the installed trl (1.16.0 in .venv-verl): a real GRPOTrainer on a
tiny randomly initialised GPT-2 built here (no download) trains a few steps with Fast RL
reward weights, checkpoints, and a new process resumes from the checkpoint and continues
the weights from where they were."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if os.environ.get("FASTRL_REQUIRE_VERL") == "1":
    import trl  # noqa: F401  (scripts/test.sh: a missing trl is a failure, not a skip)
trl = pytest.importorskip("trl", reason="trl is not installed here")
if "multi_objective_aggregation" not in trl.GRPOConfig.__dataclass_fields__:
    pytest.skip("needs trl >= 1.16 (multi_objective_aggregation); run in .venv-verl", allow_module_level=True)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import fastrl  # noqa: E402
from fastrl.trl import STATE_FILE, FastRLRewardWeights  # noqa: E402

NAMES = ["fluent", "brief", "polite"]


def fluent(completions, **kwargs):  # scores high: leads
    return [0.9 for _ in completions]


def brief(completions, **kwargs):  # scores low: lags
    return [0.1 for _ in completions]


def polite(completions, **kwargs):
    return [0.5 for _ in completions]


def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>"] + "a b c d e f g h the cat sat on mat hello world".split()
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def make_trainer(out_dir, max_steps):
    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(0)
    tok = _tiny_tokenizer()
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                     bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    data = Dataset.from_dict({"prompt": ["the cat sat", "hello world", "a b c", "on the mat"] * 4})
    args = GRPOConfig(
        output_dir=str(out_dir), per_device_train_batch_size=4, num_generations=4, max_completion_length=6,
        max_steps=max_steps, logging_steps=1, learning_rate=1e-4, report_to="none", use_cpu=True,
        save_strategy="steps", save_steps=2, seed=0, bf16=False,
        multi_objective_aggregation="normalize_then_sum",
    )
    trainer = GRPOTrainer(model=GPT2LMHeadModel(cfg), reward_funcs=[fluent, brief, polite], args=args,
                          train_dataset=data, processing_class=tok)
    cb = FastRLRewardWeights(fastrl.FastRLComposer(3, eta=2.0, rule="optimistic")).attach(trainer)
    return trainer, cb


@pytest.mark.filterwarnings("ignore")
def test_grpo_weights_move_are_logged_saved_and_resume_in_a_new_process(tmp_path):
    trainer, cb = make_trainer(tmp_path, max_steps=4)
    trainer.train()

    assert [h[0] for h in cb.history] == [0, 1, 2, 3]  # one update per step, before trl composes it
    w = np.array([h[2] for h in cb.history])
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(np.diff(w[:, 1]) > 0) and np.all(np.diff(w[:, 0]) < 0), w  # toward the lagging reward
    np.testing.assert_allclose(trainer.reward_weights.numpy(), w[-1], rtol=1e-6)
    logged = [e for e in trainer.state.log_history if "fastrl/weight/brief" in e]
    assert [e["fastrl/weight/brief"] for e in logged] == pytest.approx(w[:, 1].tolist(), rel=1e-5)
    assert all("rewards/brief/mean" in e for e in logged)
    record = json.loads((tmp_path / "checkpoint-2" / STATE_FILE).read_text())
    assert record["names"] == NAMES and record["weights"] == pytest.approx(w[1].tolist(), rel=1e-6)

    out = subprocess.run([sys.executable, __file__, "resume", str(tmp_path), str(tmp_path / "checkpoint-2")],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["start_weights"] == pytest.approx(w[1].tolist(), rel=1e-6)  # restored before training resumed
    assert [h[0] for h in got["history"]] == [2, 3]
    np.testing.assert_allclose([h[2] for h in got["history"]], w[2:], rtol=1e-6)  # continues, not from uniform


@pytest.mark.filterwarnings("ignore")
def test_resume_from_a_checkpoint_without_fastrl_state_is_an_error(tmp_path):
    trainer, cb = make_trainer(tmp_path, max_steps=2)
    trainer.train()
    os.remove(tmp_path / "checkpoint-2" / STATE_FILE)
    trainer2, cb2 = make_trainer(tmp_path, max_steps=2)
    with pytest.raises(FileNotFoundError, match="strict_resume"):
        trainer2.train(resume_from_checkpoint=True)


def _resume(out_dir, checkpoint):
    import warnings

    warnings.filterwarnings("ignore")
    trainer, cb = make_trainer(out_dir, max_steps=4)
    seen = {}
    original = cb.load

    def load(path):
        r = original(path)
        seen["start"] = trainer.reward_weights.tolist()
        return r

    cb.load = load
    trainer.train(resume_from_checkpoint=checkpoint)
    return {"start_weights": seen["start"], "history": cb.history}


if __name__ == "__main__" and sys.argv[1] == "resume":
    print(json.dumps(_resume(sys.argv[2], sys.argv[3])))
