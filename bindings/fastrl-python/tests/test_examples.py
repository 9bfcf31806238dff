"""The drop-in examples, run for real: verl's GAE replacement against verl's loop in
torch, and trl's GRPOTrainer driven by Fast RL weights on a tiny offline GPT-2."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def verl_loop(token_level_rewards, values, response_mask, gamma, lam):
    """verl's compute_gae_advantage_return (core_algos.py), re-typed as the oracle."""
    with torch.no_grad():
        nextvalues = 0
        lastgaelam = 0
        advantages_reversed = []
        gen_len = token_level_rewards.shape[-1]
        for t in reversed(range(gen_len)):
            delta = token_level_rewards[:, t] + gamma * nextvalues - values[:, t]
            lastgaelam_ = delta + gamma * lam * lastgaelam
            nextvalues = values[:, t] * response_mask[:, t] + (1 - response_mask[:, t]) * nextvalues
            lastgaelam = lastgaelam_ * response_mask[:, t] + (1 - response_mask[:, t]) * lastgaelam
            advantages_reversed.append(lastgaelam)
        advantages = torch.stack(advantages_reversed[::-1], dim=1)
        returns = advantages + values
        mean = (advantages * response_mask).sum() / response_mask.sum()
        var = ((advantages - mean) ** 2 * response_mask).sum() / response_mask.sum()
        var = var * response_mask.sum() / (response_mask.sum() - 1)
        advantages = (advantages - mean) * torch.rsqrt(var + 1e-8)
    return advantages, returns


def test_verl_gae_replacement_matches_verl():
    from verl_fastrl import compute_gae_advantage_return

    g = torch.Generator().manual_seed(0)
    b, t = 16, 50
    r = torch.randn(b, t, generator=g)
    v = torch.randn(b, t, generator=g)
    m = (torch.rand(b, t, generator=g) < 0.75).float()
    a, ret = compute_gae_advantage_return(r, v, m, 0.99, 0.95)
    ea, er = verl_loop(r, v, m, 0.99, 0.95)
    valid = m.bool()
    torch.testing.assert_close(a[valid], ea[valid], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ret[valid], er[valid], rtol=1e-4, atol=1e-4)


def test_fastrl_token_rewards_moves_weight_to_lagging_reward():
    from verl_fastrl import FastRLTokenRewards

    m = torch.ones(4, 5)
    high = torch.full((4,), 1.0)
    low = torch.full((4, 5), 0.1)
    comp = FastRLTokenRewards(2, eta=2.0)
    out, w = comp([high, low], m)
    assert w[1] > w[0]
    assert out.shape == (4, 5)
    torch.testing.assert_close(out[:, -1], torch.full((4,), float(w[0] * 1.0 + w[1] * 0.1)))


def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>"] + "a b c d e f g h the cat sat on mat hello world".split()
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


@pytest.mark.filterwarnings("ignore")
def test_trl_grpo_with_fastrl_weights(tmp_path):
    """Runs trl's real GRPOTrainer (trl==1.12.0) for a few steps on a tiny randomly
    initialised GPT-2 built here (no download) and checks the Fast RL weights moved toward
    the lagging reward and were logged each step."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import GRPOConfig, GRPOTrainer

    import fastrl
    from trl_fastrl import FastRLWeightsCallback

    torch.manual_seed(0)
    tok = _tiny_tokenizer()
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                     bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
                     pad_token_id=tok.pad_token_id)
    model = GPT2LMHeadModel(cfg)
    data = Dataset.from_dict({"prompt": ["the cat sat", "hello world", "a b c", "on the mat"] * 4})

    def fluent(completions, **kwargs):  # scores high: leads
        return [0.9 for _ in completions]

    def brief(completions, **kwargs):  # scores low: lags
        return [0.1 + 0.01 * len(c.split()) for c in completions]

    args = GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=6, max_steps=3, logging_steps=1, learning_rate=1e-4,
        report_to="none", use_cpu=True, save_strategy="no", seed=0,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=[fluent, brief], args=args,
                          train_dataset=data, processing_class=tok)
    cb = FastRLWeightsCallback(fastrl.FastRLComposer(2, eta=2.0)).attach(trainer)
    trainer.train()

    assert len(cb.history) == 3
    weights = [h[2] for h in cb.history]
    assert weights[0][1] > 0.5 and weights[-1][1] > weights[0][1], weights
    np.testing.assert_allclose(trainer.reward_weights.numpy(), weights[-1], rtol=1e-6)
    logged = [e for e in trainer.state.log_history if "fastrl/weight/brief" in e]
    assert len(logged) == 3, trainer.state.log_history
    assert logged[-1]["fastrl/weight/brief"] == pytest.approx(weights[-1][1], rel=1e-5)


def test_cpu_torch_tensors_go_through_the_array_protocol():
    import fastrl

    g = torch.Generator().manual_seed(1)
    r, v = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g, dtype=torch.float64)
    a, ret = fastrl.gae(r, v, torch.ones(3, 4, dtype=torch.bool), gamma=0.9, lam=0.8)
    a2, ret2 = fastrl.gae(r.numpy(), v.numpy(), None, gamma=0.9, lam=0.8)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(ret, ret2)
    with pytest.raises(ValueError, match="rewards"):
        fastrl.gae(torch.ones(3, 4, dtype=torch.int32), v)
