//! The log-probabilities PPO's ratio, clip and KL penalty use are those of the
//! distribution the tokens were drawn from (temperature, and top-k when set):
//! - the trainer's log-probability of each sampled token equals the log of the
//!   probability the sampler drew it with;
//! - on on-policy samples, the mean k1 estimate `log pi(a) - log pi_ref(a)` agrees with
//!   the exact KL of the sampling distribution to the reference (summed over the
//!   vocabulary at the same positions) within 3 standard errors.
//!
//! The oracle of the second test is computed here from the model's raw logits, apart
//! from the trainer's `Sampling::log_probs`. Before the fix the trainer took
//! `log_softmax` of the raw logits over the whole vocabulary: the first test failed
//! with gaps of about 1 nat, the second with a mean k1 - KL of many standard errors.

use fastrl_models::causal_lm::CausalLm;
use fastrl_models::gpt2::{Gpt2Config, Gpt2Model};
use fastrl_models::tokenizer::Tok;
use fastrl_trainer::rl::rollout::{generate, response_logp_values, Rollout, Sampling};
use fastrl_trainer::rng::Rng;
use tch::{Device, Kind, Tensor};

/// A tokenizer, and a 1-block GPT-2 whose embeddings are scaled up so its next-token
/// distributions are peaked (a fresh model's are nearly uniform, where temperature
/// would hardly matter).
fn model() -> (Tok, Gpt2Model) {
    tch::set_num_threads(1);
    let words = [
        "alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta",
    ];
    let mut rng = Rng::new(5);
    let texts: Vec<String> = (0..400)
        .map(|_| {
            (0..6)
                .map(|_| words[rng.below(words.len())])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let tok = Tok::train(texts.iter().map(String::as_str), 300).unwrap();
    let mc = Gpt2Config {
        vocab_size: tok.vocab_size() as i64,
        n_positions: 48,
        n_embd: 32,
        n_layer: 1,
        n_head: 2,
        n_inner: None,
        layer_norm_epsilon: 1e-5,
        activation_function: "gelu_new".into(),
    };
    tch::manual_seed(17);
    let m = Gpt2Model::new(&mc, Device::Cpu).unwrap();
    scale(&m, "wte", 8.0);
    (tok, m)
}

/// Multiplies the variables whose names contain `part` by `by`, in place.
fn scale(m: &dyn CausalLm, part: &str, by: f64) {
    let _g = tch::no_grad_guard();
    for (name, mut t) in m.named_parameters() {
        if name.contains(part) {
            let _ = t.g_mul_scalar_(by);
        }
    }
}

fn contexts(tok: &Tok, n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = Rng::new(seed);
    let v = tok.vocab_size();
    (0..n)
        .map(|_| (0..4).map(|_| rng.below(v) as i64).collect())
        .collect()
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::try_from(&t.to_kind(Kind::Float).reshape([-1])).unwrap()
}

/// The response tokens' log-probabilities as the trainer computes them for the ratio.
fn trainer_logp(m: &dyn CausalLm, ro: &Rollout, s: Sampling) -> Vec<f32> {
    let _g = tch::no_grad_guard();
    values(&response_logp_values(m, &ro.ids, &ro.attn, ro.ctx_len, s).0)
}

const SAMPLINGS: [Sampling; 3] = [
    Sampling {
        temperature: 0.7,
        top_k: 0,
    },
    Sampling {
        temperature: 0.7,
        top_k: 5,
    },
    Sampling {
        temperature: 1.3,
        top_k: 0,
    },
];

#[test]
fn the_ratio_reads_the_log_probabilities_the_sampler_drew_with() {
    let (tok, m) = model();
    for s in SAMPLINGS {
        let mut rng = Rng::new(9);
        let ro = generate(&m, &tok, &contexts(&tok, 12, 1), 10, s, &mut rng).unwrap();
        let ours = trainer_logp(&m, &ro, s);
        let raw = trainer_logp(
            &m,
            &ro,
            Sampling {
                temperature: 1.0,
                top_k: 0,
            },
        );
        let (mut gap, mut raw_gap, mut n) = (0.0f32, 0.0f32, 0);
        for i in 0..ro.mask.len() {
            if ro.mask[i] != 0 {
                gap = gap.max((ours[i] - ro.sample_logp[i]).abs());
                raw_gap = raw_gap.max((raw[i] - ro.sample_logp[i]).abs());
                n += 1;
            }
        }
        assert!(n >= 60, "{s:?}: only {n} sampled tokens");
        assert!(
            gap < 1e-3,
            "{s:?}: the trainer's log-probabilities differ from the sampler's by {gap}"
        );
        // The test has power: the raw (T = 1, whole vocabulary) log-probabilities, what
        // the trainer used before, are far from the sampler's.
        assert!(raw_gap > 0.1, "{s:?}: raw gap only {raw_gap}");
    }
}

/// Per row: the sum over its valid tokens of k1 (the trainer's log-probabilities under
/// `measured`) minus the exact KL of the sampling distribution `s` to the reference's
/// at the sampled positions.
fn k1_minus_exact(
    policy: &dyn CausalLm,
    reference: &dyn CausalLm,
    ro: &Rollout,
    s: Sampling,
    measured: Sampling,
) -> Vec<f64> {
    let _g = tch::no_grad_guard();
    let logp = trainer_logp(policy, ro, measured);
    let ref_logp = trainer_logp(reference, ro, measured.reference());
    // The oracle: the distributions from the raw logits, written out here.
    let r = ro.ids.size()[1] - ro.ctx_len;
    let dist = |m: &dyn CausalLm, top_k: i64| {
        let z = m.window(&ro.ids, &ro.attn, ro.ctx_len - 1, r).logits / s.temperature;
        let z = if top_k > 0 {
            let kth = z.topk(top_k, -1, true, true).0.narrow(-1, top_k - 1, 1);
            z.masked_fill(&z.lt_tensor(&kth), f64::NEG_INFINITY)
        } else {
            z
        };
        z.log_softmax(-1, Kind::Double)
    };
    let lq = dist(policy, s.top_k);
    let lp = dist(reference, 0);
    let q = lq.exp();
    // 0 * (-inf) where the policy's top-k leaves a token out: those terms are 0.
    let terms = (&q * (&lq - &lp)).nan_to_num(0.0, 0.0, 0.0);
    let exact: Vec<f64> =
        Vec::try_from(&terms.sum_dim_intlist(-1, false, Kind::Double).reshape([-1])).unwrap();
    let b = ro.tokens.len();
    let len = ro.mask.len() / b;
    (0..b)
        .map(|row| {
            (0..len)
                .map(|t| row * len + t)
                .filter(|&i| ro.mask[i] != 0)
                .map(|i| f64::from(logp[i] - ref_logp[i]) - exact[i])
                .sum()
        })
        .collect()
}

#[test]
fn the_mean_k1_estimate_on_policy_samples_is_the_exact_kl() {
    let (tok, m) = model();
    let reference = m.frozen_copy().unwrap();
    // The reference: the policy with noise on every weight.
    {
        let _g = tch::no_grad_guard();
        tch::manual_seed(23);
        for (_, mut t) in reference.named_parameters() {
            let noise = t.randn_like() * 0.3 * t.std(false).clamp_min(0.02);
            let _ = t.f_add_(&noise).unwrap();
        }
    }
    let raw = Sampling {
        temperature: 1.0,
        top_k: 0,
    };
    // Mean and standard error of the per-response k1 - exact KL.
    let stats = |d: &[f64]| {
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        (mean, sd / n.sqrt())
    };
    for s in SAMPLINGS {
        let mut rng = Rng::new(31);
        let (mut d, mut d_raw) = (Vec::new(), Vec::new());
        for batch in 0..8 {
            let ro = generate(&m, &tok, &contexts(&tok, 32, 100 + batch), 10, s, &mut rng).unwrap();
            d.extend(k1_minus_exact(&m, &*reference, &ro, s, s));
            d_raw.extend(k1_minus_exact(&m, &*reference, &ro, s, raw));
        }
        let (mean, se) = stats(&d);
        assert!(
            mean.abs() < 3.0 * se,
            "{s:?}: mean k1 - exact KL per response {mean:.4} with standard error {se:.4}"
        );
        // The test has power: k1 from the raw log-probabilities (the old code's) misses
        // the sampling distribution's KL by more than 3 standard errors.
        if s.temperature != 1.0 {
            let (mean, se) = stats(&d_raw);
            assert!(
                mean.abs() > 3.0 * se,
                "{s:?}: raw k1 - exact KL {mean:.4} within 3 x {se:.4}"
            );
        }
    }
}
