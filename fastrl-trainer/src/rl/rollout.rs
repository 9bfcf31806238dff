//! The rollout: prompts as token ids, left padding, sampling with temperature and top-k,
//! generation with the KV cache, and the log-probabilities and values of the response
//! tokens. Works on any [`CausalLm`].

use crate::config::Config;
use crate::error::TrainerError;
use crate::rng::Rng;
use fastrl_data::Pair;
use fastrl_models::causal_lm::{positions_from_mask, CausalLm, Window};
use fastrl_models::tokenizer::Tok;
use tch::{Device, Kind, Tensor};

/// A pair as token ids: the context as the reply's prompt in at most `max_ctx` tokens
/// ([`Tok::encode_context`]: the chat template's turns when the model has one, else the
/// last tokens), and the response cut to `max_resp - 1` tokens followed by the
/// end-of-response token (the end of turn of a chat model).
pub fn encode_pair(
    tok: &Tok,
    p: &Pair,
    max_ctx: usize,
    max_resp: usize,
) -> Result<(Vec<i64>, Vec<i64>), TrainerError> {
    let c = tok.encode_context(&p.context, max_ctx)?;
    let mut r = tok.encode(&p.response)?;
    r.truncate(max_resp.saturating_sub(1));
    r.push(tok.eos);
    Ok((c, r))
}

/// [`encode_pair`] with the config's lengths.
pub fn encode_with(
    cfg: &Config,
    tok: &Tok,
    p: &Pair,
) -> Result<(Vec<i64>, Vec<i64>), TrainerError> {
    encode_pair(
        tok,
        p,
        cfg.tokenizer.max_context_tokens,
        cfg.tokenizer.max_response_tokens,
    )
}

/// Left-pads rows to a common length with `pad`: `(ids [B, L], mask [B, L])`.
pub fn left_pad(rows: &[Vec<i64>], pad: i64, device: Device) -> (Tensor, Tensor) {
    let l = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(rows.len() * l);
    let mut mask = Vec::with_capacity(rows.len() * l);
    for r in rows {
        ids.extend(std::iter::repeat_n(pad, l - r.len()));
        ids.extend_from_slice(r);
        mask.extend(std::iter::repeat_n(0i64, l - r.len()));
        mask.extend(std::iter::repeat_n(1i64, r.len()));
    }
    let b = rows.len() as i64;
    (
        Tensor::from_slice(&ids).view([b, l as i64]).to(device),
        Tensor::from_slice(&mask).view([b, l as i64]).to(device),
    )
}

/// How tokens are drawn: `softmax(logits / temperature)`, restricted to the `top_k` most
/// likely tokens and renormalised when `top_k > 0` (0 = the whole vocabulary);
/// temperature 0 is greedy decoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Divides the logits (0 = greedy).
    pub temperature: f64,
    /// Keep the k most likely tokens (0 = all).
    pub top_k: i64,
}

impl Sampling {
    /// PPO's sampling (`ppo.temperature`, `ppo.top_k`).
    pub fn of(cfg: &Config) -> Sampling {
        Sampling {
            temperature: cfg.ppo.temperature,
            top_k: cfg.ppo.top_k,
        }
    }

    /// The distribution a reference model is measured under for the KL penalty: the
    /// same temperature over the whole vocabulary (a top-k cut would give the policy's
    /// tokens outside the reference's top k an infinite KL).
    pub fn reference(self) -> Sampling {
        Sampling {
            temperature: self.temperature,
            top_k: 0,
        }
    }

    /// Log-probabilities of this distribution over the vocabulary from `logits`
    /// `[..., V]`: `log_softmax(logits / T)`, and with top-k the renormalised top-k
    /// distribution (the other tokens at about -1e9, so `exp` is exactly 0 and the
    /// gradient stays finite). Greedy (T = 0) is measured at T = 1.
    pub fn log_probs(self, logits: &Tensor) -> Tensor {
        let t = if self.temperature > 0.0 {
            self.temperature
        } else {
            1.0
        };
        let scaled = logits.to_kind(Kind::Float) / t;
        let v = *logits.size().last().unwrap_or(&0);
        if self.top_k <= 0 || self.top_k >= v {
            return scaled.log_softmax(-1, Kind::Float);
        }
        // The k-th largest value per position: a token is kept when it is at least that
        // (ties at the k-th value are kept, as the sampler's sort can pick either).
        let kth = scaled
            .detach()
            .topk(self.top_k, -1, true, true)
            .0
            .narrow(-1, self.top_k - 1, 1);
        let drop = scaled.detach().lt_tensor(&kth);
        scaled
            .masked_fill(&drop, TOP_K_OUT)
            .log_softmax(-1, Kind::Float)
    }
}

/// Where a token outside the top k sits before the softmax (exp of it minus any real
/// logit is 0 in f32).
const TOP_K_OUT: f64 = -1e9;

/// Samples from `logits` `[B, V]` with temperature and top-k using the host generator;
/// temperature 0 is greedy decoding (the arg max, the lowest id among ties; `rng` and
/// top-k unused). Returns each row's token and the log of the probability it was drawn
/// with (0 for greedy).
fn sample(
    logits: &Tensor,
    temperature: f64,
    top_k: i64,
    rng: &mut Rng,
) -> Result<Vec<(i64, f64)>, TrainerError> {
    if temperature == 0.0 {
        let best = logits.argmax(-1, false).to_device(Device::Cpu);
        return Ok(Vec::<i64>::try_from(&best)?
            .into_iter()
            .map(|t| (t, 0.0))
            .collect());
    }
    let (b, v) = logits.size2()?;
    let scaled = logits.to_kind(Kind::Float) / temperature;
    // Without top-k, the whole vocabulary in id order (no sort); with it, the k best.
    let (k, vals, idx) = if top_k <= 0 || top_k >= v {
        (v, scaled, None)
    } else {
        let (vals, idx) = scaled.topk(top_k, -1, true, true);
        (top_k, vals, Some(idx))
    };
    let probs = vals.softmax(-1, Kind::Double).to_device(Device::Cpu);
    let probs: Vec<f64> = Vec::try_from(&probs.reshape([-1]))?;
    let idx: Option<Vec<i64>> = match idx {
        Some(i) => Some(Vec::try_from(&i.to_device(Device::Cpu).reshape([-1]))?),
        None => None,
    };
    let k = k as usize;
    Ok((0..b as usize)
        .map(|row| {
            let p = &probs[row * k..(row + 1) * k];
            let u = rng.uniform();
            let mut acc = 0.0;
            // Rounding can leave the sum just under u: then the last possible token.
            let mut pick = p.iter().rposition(|&pj| pj > 0.0).unwrap_or(k - 1);
            for (j, &pj) in p.iter().enumerate() {
                acc += pj;
                if u < acc {
                    pick = j;
                    break;
                }
            }
            let token = match &idx {
                Some(idx) => idx[row * k + pick],
                None => pick as i64,
            };
            (token, p[pick].ln())
        })
        .collect())
}

/// One batch of sampled responses with everything PPO needs, response-aligned
/// (`[B, R]`, R = the longest response).
#[derive(Debug)]
pub struct Rollout {
    /// Context + response ids `[B, Lc + R]`, contexts left-padded.
    pub ids: Tensor,
    /// Attention mask of `ids`.
    pub attn: Tensor,
    /// Context length `Lc` (padded).
    pub ctx_len: i64,
    /// Response mask `[B, R]` (prefix: the tokens up to and including end-of-text).
    pub mask: Vec<u8>,
    /// Decoded responses.
    pub texts: Vec<String>,
    /// Response token ids (up to and including end-of-text).
    pub tokens: Vec<Vec<i64>>,
    /// The log of the probability the sampler drew each response token with, `[B, R]`
    /// row-major (0 after a row's end, and everywhere for greedy decoding).
    pub sample_logp: Vec<f32>,
}

impl Rollout {
    /// The share of responses that ended with `eos` (the rest were cut at the length
    /// limit).
    pub fn eos_share(&self, eos: i64) -> f64 {
        let ended = self
            .tokens
            .iter()
            .filter(|t| t.last() == Some(&eos))
            .count();
        ended as f64 / self.tokens.len().max(1) as f64
    }
}

/// Generates responses for `contexts` (token ids) with the KV cache, drawn as `sampling`
/// says.
pub fn generate(
    model: &dyn CausalLm,
    tok: &Tok,
    contexts: &[Vec<i64>],
    max_new: usize,
    sampling: Sampling,
    rng: &mut Rng,
) -> Result<Rollout, TrainerError> {
    let _g = tch::no_grad_guard();
    let dev = model.device();
    let b = contexts.len();
    let (ctx, ctx_mask) = left_pad(contexts, tok.eos, dev);
    let lc = ctx.size()[1];
    let last_pos = positions_from_mask(&ctx_mask).select(1, lc - 1);
    let first = model.prefill(&ctx, &ctx_mask);
    let (mut last_logits, mut cache) = (first.logits, first.cache);
    let mut attn = ctx_mask.shallow_clone();
    let mut out: Vec<Vec<i64>> = vec![Vec::new(); b];
    let mut out_logp: Vec<Vec<f32>> = vec![Vec::new(); b];
    let mut done = vec![false; b];
    for step in 1..=max_new as i64 {
        let drawn = sample(&last_logits, sampling.temperature, sampling.top_k, rng)?;
        let picks: Vec<i64> = drawn.iter().map(|&(t, _)| t).collect();
        for (i, &(t, lp)) in drawn.iter().enumerate() {
            if !done[i] {
                out[i].push(t);
                out_logp[i].push(lp as f32);
                done[i] = t == tok.eos;
            }
        }
        if done.iter().all(|&d| d) {
            break;
        }
        let step_ids = Tensor::from_slice(&picks).view([b as i64, 1]).to(dev);
        attn = Tensor::cat(
            &[&attn, &Tensor::ones([b as i64, 1], (Kind::Int64, dev))],
            1,
        );
        let d = model.decode_step(&step_ids, &(&last_pos + step).unsqueeze(1), &attn, &cache);
        cache = d.cache;
        last_logits = d.logits;
    }
    let r = out.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let mut resp = Vec::with_capacity(b * r);
    let mut mask = Vec::with_capacity(b * r);
    let mut texts = Vec::with_capacity(b);
    let mut sample_logp = Vec::with_capacity(b * r);
    for (o, lp) in out.iter().zip(&out_logp) {
        sample_logp.extend_from_slice(lp);
        sample_logp.extend(std::iter::repeat_n(0.0f32, r - lp.len()));
        resp.extend_from_slice(o);
        resp.extend(std::iter::repeat_n(tok.eos, r - o.len()));
        mask.extend(std::iter::repeat_n(1u8, o.len()));
        mask.extend(std::iter::repeat_n(0u8, r - o.len()));
        texts.push(tok.decode(o)?.trim().to_string());
    }
    let resp = Tensor::from_slice(&resp).view([b as i64, r as i64]).to(dev);
    let rmask = Tensor::from_slice(&mask)
        .view([b as i64, r as i64])
        .to_kind(Kind::Int64)
        .to(dev);
    Ok(Rollout {
        ids: Tensor::cat(&[&ctx, &resp], 1),
        attn: Tensor::cat(&[&ctx_mask, &rmask], 1),
        ctx_len: lc,
        mask,
        texts,
        tokens: out,
        sample_logp,
    })
}

/// Log-probabilities under `sampling`'s distribution ([`Sampling::log_probs`]: the one
/// the tokens were drawn from, for the policy) and values of the response tokens of
/// `ids`: `([B, R], [B, R])`. Token `j` of the response is predicted at position
/// `Lc + j - 1`.
pub fn response_logp_values(
    model: &dyn CausalLm,
    ids: &Tensor,
    attn: &Tensor,
    lc: i64,
    sampling: Sampling,
) -> (Tensor, Tensor) {
    let r = ids.size()[1] - lc;
    response_logp(model.window(ids, attn, lc - 1, r), ids, lc, sampling)
}

/// [`response_logp_values`] from `hidden`, the output of the lowest `blocks` blocks
/// ([`CausalLm::lower`] of the same `ids` and `attn`).
pub fn response_logp_values_from(
    model: &dyn CausalLm,
    hidden: &Tensor,
    blocks: usize,
    ids: &Tensor,
    attn: &Tensor,
    lc: i64,
    sampling: Sampling,
) -> (Tensor, Tensor) {
    let r = ids.size()[1] - lc;
    response_logp(
        model.window_from(hidden, attn, blocks, lc - 1, r),
        ids,
        lc,
        sampling,
    )
}

/// The log-probabilities of the response tokens from the window predicting them.
fn response_logp(f: Window, ids: &Tensor, lc: i64, sampling: Sampling) -> (Tensor, Tensor) {
    let r = ids.size()[1] - lc;
    let targets = ids.narrow(1, lc, r);
    let logp = sampling
        .log_probs(&f.logits)
        .gather(2, &targets.unsqueeze(-1), false)
        .squeeze_dim(-1);
    (logp, f.values)
}
