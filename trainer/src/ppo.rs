//! SFT and PPO on the tch GPT-2, with composition + KL penalty + GAE done by
//! composer-core's fused pass, and checkpoints that resume exactly.

use crate::checkpoint::{self, PpoState};
use crate::config::{ComposerConfig, Config};
use crate::corpus::Corpus;
use crate::error::TrainerError;
use crate::model::{positions_from_mask, Model};
use crate::optim::{Adam, Rng};
use crate::progress::Progress;
use crate::rewards::{self, Reward};
use crate::tokenizer::Tok;
use composer_core::{
    fused_pass, whiten, Channel, Composer, Constraint, FastRl, FastRlConfig, Fixed, FusedInputs,
    FusedOutputs, FusedParams, GaeParams, KlController, KlEstimator, Lagrangian, LagrangianConfig,
    MaskMode, Shape,
};
use fastrl_data::Pair;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The KL estimator named in the config.
pub fn estimator(name: &str) -> Result<KlEstimator, TrainerError> {
    Ok(match name {
        "k1" => KlEstimator::K1,
        "k2" => KlEstimator::K2,
        "k3" => KlEstimator::K3,
        "abs" => KlEstimator::Abs,
        other => {
            return Err(TrainerError::Config(format!(
                "ppo.kl_estimator = {other:?}: use k1, k2, k3 or abs"
            )))
        }
    })
}

/// The composer named in the config, from composer-core.
pub fn composer(cfg: &ComposerConfig) -> Result<Box<dyn Composer>, TrainerError> {
    let n = cfg.rewards.len();
    let base = if cfg.weights.is_empty() {
        vec![1.0 / n as f32; n]
    } else {
        cfg.weights.clone()
    };
    Ok(match cfg.kind.as_str() {
        "fastrl" => Box::new(FastRl::new(
            n,
            FastRlConfig {
                eta: cfg.eta,
                temperature: cfg.temperature,
                ..Default::default()
            },
        )?),
        "fixed" => Box::new(Fixed::new(&base)?),
        "shaping" => Box::new(Fixed::reward_shaping(cfg.alpha)?),
        "lagrangian" => {
            let cons: Vec<Constraint> = if cfg.thresholds.is_empty() {
                vec![Constraint::Free; n]
            } else {
                cfg.thresholds
                    .iter()
                    .map(|&t| Constraint::AtLeast(t))
                    .collect()
            };
            Box::new(Lagrangian::new(
                &base,
                &cons,
                LagrangianConfig {
                    lr: cfg.multiplier_lr,
                    ..Default::default()
                },
            )?)
        }
        other => return Err(TrainerError::Config(format!("unknown composer {other:?}"))),
    })
}

/// The device the config asks for.
pub fn device(name: &str) -> Result<Device, TrainerError> {
    Ok(match name {
        "cpu" => Device::Cpu,
        "cuda" if tch::Cuda::is_available() => Device::Cuda(0),
        "cuda" => {
            return Err(TrainerError::Config(
                "run.device = \"cuda\" but libtorch sees no CUDA device; use \"auto\" or \"cpu\""
                    .into(),
            ))
        }
        _ => Device::cuda_if_available(),
    })
}

/// A pair as token ids: the last `max_ctx` context tokens, and the response cut to
/// `max_resp - 1` tokens followed by the end-of-text token.
pub fn encode_pair(
    tok: &Tok,
    p: &Pair,
    max_ctx: usize,
    max_resp: usize,
) -> Result<(Vec<i64>, Vec<i64>), TrainerError> {
    let mut c = tok.encode(&p.context)?;
    if c.len() > max_ctx {
        c.drain(..c.len() - max_ctx);
    }
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
fn left_pad(rows: &[Vec<i64>], pad: i64, device: Device) -> (Tensor, Tensor) {
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

/// Supervised fine-tuning: next-token cross-entropy on the response tokens.
pub fn sft(
    cfg: &Config,
    model: &mut Model,
    tok: &Tok,
    corpus: &Corpus,
    log_path: &Path,
) -> Result<(), TrainerError> {
    let dev = model.vs.device();
    let mut opt = Adam::new(&model.vs, cfg.sft.lr);
    let mut rng = Rng::new(cfg.run.seed ^ 0x5f7);
    let encoded: Vec<(Vec<i64>, Vec<i64>)> = corpus
        .train
        .iter()
        .map(|p| encode_with(cfg, tok, p))
        .collect::<Result<_, _>>()?;
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    rng.shuffle(&mut order);
    let mut cursor = 0;
    let mut log = std::fs::File::create(log_path).map_err(|e| TrainerError::io(log_path, e))?;
    let mut bar = Progress::new("sft", cfg.sft.steps);
    for step in 1..=cfg.sft.steps {
        let mut rows = Vec::with_capacity(cfg.sft.batch_size);
        let mut targets = Vec::with_capacity(cfg.sft.batch_size);
        for _ in 0..cfg.sft.batch_size {
            if cursor == order.len() {
                rng.shuffle(&mut order);
                cursor = 0;
            }
            let (c, r) = &encoded[order[cursor]];
            cursor += 1;
            let mut seq = c.clone();
            seq.extend_from_slice(r);
            targets.push(
                std::iter::repeat_n(0i64, c.len())
                    .chain(std::iter::repeat_n(1i64, r.len()))
                    .collect::<Vec<i64>>(),
            );
            rows.push(seq);
        }
        let (ids, mask) = left_pad(&rows, tok.eos, dev);
        let (tgt, _) = left_pad(&targets, 0, dev);
        let f = model.net.forward_full(&ids, &mask);
        let l = ids.size()[1];
        let logits = f.logits.narrow(1, 0, l - 1);
        let labels = ids.narrow(1, 1, l - 1);
        let w = tgt.narrow(1, 1, l - 1).to_kind(Kind::Float);
        let nll = -logits
            .log_softmax(-1, Kind::Float)
            .gather(2, &labels.unsqueeze(-1), false)
            .squeeze_dim(-1);
        let loss = (nll * &w).sum(Kind::Float) / w.sum(Kind::Float).clamp_min(1.0);
        opt.zero_grad();
        loss.backward();
        opt.clip_grad_norm(1.0);
        opt.step();
        let lv = loss.double_value(&[]);
        if !lv.is_finite() {
            return Err(TrainerError::Config(format!(
                "SFT loss became {lv} at step {step}: lower sft.lr"
            )));
        }
        writeln!(log, "{}", json!({"step": step, "loss": lv}))
            .map_err(|e| TrainerError::io(log_path, e))?;
        bar.tick(step, &format!("loss {lv:.3}"));
    }
    bar.finish();
    Ok(())
}

/// Samples from `logits` `[B, V]` with temperature and top-k using the host generator.
fn sample(logits: &Tensor, temperature: f64, top_k: i64, rng: &mut Rng) -> Vec<i64> {
    let (b, v) = logits.size2().expect("[B, V]");
    let scaled = logits.to_kind(Kind::Float) / temperature;
    // Without top-k, the whole vocabulary in id order (no sort); with it, the k best.
    let (k, vals, idx) = if top_k <= 0 || top_k >= v {
        (v, scaled, None)
    } else {
        let (vals, idx) = scaled.topk(top_k, -1, true, true);
        (top_k, vals, Some(idx))
    };
    let probs = vals.softmax(-1, Kind::Double).to_device(Device::Cpu);
    let probs: Vec<f64> = Vec::try_from(&probs.reshape([-1])).expect("probs");
    let idx: Option<Vec<i64>> =
        idx.map(|i| Vec::try_from(&i.to_device(Device::Cpu).reshape([-1])).expect("idx"));
    let k = k as usize;
    (0..b as usize)
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
            match &idx {
                Some(idx) => idx[row * k + pick],
                None => pick as i64,
            }
        })
        .collect()
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
}

/// Generates responses for `contexts` (token ids) with the KV cache.
pub fn generate(
    model: &Model,
    tok: &Tok,
    contexts: &[Vec<i64>],
    max_new: usize,
    temperature: f64,
    top_k: i64,
    rng: &mut Rng,
) -> Result<Rollout, TrainerError> {
    let _g = tch::no_grad_guard();
    let dev = model.vs.device();
    let b = contexts.len();
    let (ctx, ctx_mask) = left_pad(contexts, tok.eos, dev);
    let lc = ctx.size()[1];
    let pos = positions_from_mask(&ctx_mask);
    let (hidden, mut cache) = model.net.trunk(&ctx, &pos, &ctx_mask, None);
    let (mut last_logits, _) = model.net.heads(&hidden.select(1, lc - 1));
    let last_pos = pos.select(1, lc - 1);
    let mut attn = ctx_mask.shallow_clone();
    let mut out: Vec<Vec<i64>> = vec![Vec::new(); b];
    let mut done = vec![false; b];
    for step in 1..=max_new as i64 {
        let picks = sample(&last_logits, temperature, top_k, rng);
        for (i, &t) in picks.iter().enumerate() {
            if !done[i] {
                out[i].push(t);
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
        let f = model.net.forward(
            &step_ids,
            &(&last_pos + step).unsqueeze(1),
            &attn,
            Some(&cache),
        );
        cache = f.cache;
        last_logits = f.logits.select(1, 0);
    }
    let r = out.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let mut resp = Vec::with_capacity(b * r);
    let mut mask = Vec::with_capacity(b * r);
    let mut texts = Vec::with_capacity(b);
    for o in &out {
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
    })
}

/// Log-probabilities and values of the response tokens of `ids`: `([B, R], [B, R])`.
/// Token `j` of the response is predicted at position `Lc + j - 1`.
fn response_logp_values(model: &Model, ids: &Tensor, attn: &Tensor, lc: i64) -> (Tensor, Tensor) {
    let r = ids.size()[1] - lc;
    let f = model.net.forward_window(ids, attn, lc - 1, r);
    let targets = ids.narrow(1, lc, r);
    let logp = f
        .logits
        .log_softmax(-1, Kind::Float)
        .gather(2, &targets.unsqueeze(-1), false)
        .squeeze_dim(-1);
    (logp, f.values)
}

/// Seconds since `t0` once the device has finished its queued work (a CUDA device runs
/// asynchronously: without the wait, a phase's kernels would be timed in a later phase).
fn phase_end(dev: Device, t0: Instant) -> f64 {
    if let Device::Cuda(i) = dev {
        tch::Cuda::synchronize(i as i64);
    }
    t0.elapsed().as_secs_f64()
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::try_from(&t.to_kind(Kind::Float).to_device(Device::Cpu).reshape([-1])).expect("f32")
}

/// What one PPO step measured (one line of `metrics.jsonl`).
#[derive(Debug, Clone)]
pub struct StepMetrics {
    /// The JSON line.
    pub line: serde_json::Value,
}

/// Everything the PPO loop carries between steps.
pub struct Ppo {
    /// Resolved config.
    pub cfg: Config,
    /// Policy (trunk + value head).
    pub policy: Model,
    /// Frozen reference.
    pub reference: Model,
    /// Tokenizer.
    pub tok: Tok,
    /// Optimiser.
    pub opt: Adam,
    /// Host generator.
    pub rng: Rng,
    /// Composer.
    pub composer: Box<dyn Composer>,
    /// KL controller.
    pub kl: KlController,
    /// Rewards.
    pub rewards: Vec<Box<dyn Reward>>,
    /// Training pairs, encoded.
    pub prompts: Vec<(Vec<i64>, Pair)>,
    /// Steps done.
    pub step: usize,
    /// composer-cuda, when built with `cuda` and the policy is on a CUDA device.
    #[cfg(feature = "cuda")]
    pub gpu: Option<crate::gpu::GpuFused>,
}

impl std::fmt::Debug for Ppo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ppo").field("step", &self.step).finish()
    }
}

/// What the fused pass of one step reads.
struct StepInputs<'a> {
    scores: &'a [Vec<f32>],
    dense: &'a [bool],
    weights: &'a [f32],
    logp: &'a Tensor,
    ref_logp: &'a Tensor,
    values: &'a Tensor,
    mask: &'a [u8],
    shape: Shape,
    params: &'a FusedParams,
    whiten: bool,
}

/// The CPU pass (composer-core): advantages and returns as `[B, R]` tensors on `dev`,
/// the KL sum and the valid-token count.
fn fused_on_cpu(
    x: &StepInputs<'_>,
    dev: Device,
) -> Result<(Tensor, Tensor, f64, f64), TrainerError> {
    let n = x.shape.batch * x.shape.len;
    let (lp, rlp, vals) = (to_vec(x.logp), to_vec(x.ref_logp), to_vec(x.values));
    let channels: Vec<Channel<'_, f32>> = x
        .scores
        .iter()
        .zip(x.dense)
        .map(|(s, &d)| {
            if d {
                Channel::Dense(&s[..])
            } else {
                Channel::Sequence(&s[..])
            }
        })
        .collect();
    let (mut rew, mut adv, mut ret) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
    let stats = fused_pass(
        &FusedInputs {
            channels: &channels,
            weights: x.weights,
            logp: &lp,
            ref_logp: &rlp,
            values: &vals,
            mask: x.mask,
        },
        x.shape,
        x.params,
        &mut FusedOutputs {
            rewards: &mut rew,
            advantages: &mut adv,
            returns: &mut ret,
        },
    )?;
    if x.whiten {
        whiten(&mut adv, x.mask)?;
    }
    let shape = [x.shape.batch as i64, x.shape.len as i64];
    Ok((
        Tensor::from_slice(&adv).view(shape).to(dev),
        Tensor::from_slice(&ret).view(shape).to(dev),
        stats.kl_sum,
        stats.valid_tokens as f64,
    ))
}

impl Ppo {
    #[cfg(not(feature = "cuda"))]
    fn fused_on_device(
        &self,
        _x: &StepInputs<'_>,
    ) -> Result<Option<(Tensor, Tensor, f64, f64)>, TrainerError> {
        Ok(None)
    }

    #[cfg(feature = "cuda")]
    fn fused_on_device(
        &self,
        x: &StepInputs<'_>,
    ) -> Result<Option<(Tensor, Tensor, f64, f64)>, TrainerError> {
        let Some(g) = &self.gpu else { return Ok(None) };
        let dev = self.policy.vs.device();
        let shape = [x.shape.batch as i64, x.shape.len as i64];
        let on = |t: &Tensor| t.to_kind(Kind::Float).contiguous();
        let chans: Vec<Tensor> = x
            .scores
            .iter()
            .map(|s| Tensor::from_slice(s).to(dev))
            .collect();
        let mask = Tensor::from_slice(x.mask).view(shape).to(dev);
        let o = g.run(
            &chans,
            x.dense,
            x.weights,
            &on(x.logp),
            &on(x.ref_logp),
            &on(x.values),
            &mask,
            x.params,
            x.whiten,
        )?;
        Ok(Some((o.advantages, o.returns, o.kl_sum, o.valid_tokens)))
    }

    /// A fresh PPO run from `policy` (the reference is a frozen copy of it).
    pub fn new(
        cfg: &Config,
        policy: Model,
        tok: Tok,
        corpus: &Corpus,
    ) -> Result<Self, TrainerError> {
        tok.check_model(policy.net.cfg.vocab_size)?;
        #[cfg(feature = "cuda")]
        let policy_device = policy.vs.device();
        let reference = policy.frozen_copy()?;
        let opt = Adam::new(&policy.vs, cfg.ppo.lr);
        let kl = if cfg.ppo.kl_target > 0.0 {
            KlController::adaptive(cfg.ppo.kl_coef, cfg.ppo.kl_target, cfg.ppo.kl_horizon)?
        } else {
            KlController::fixed(cfg.ppo.kl_coef)?
        };
        let prompts = corpus
            .train
            .iter()
            .map(|p| Ok((encode_with(cfg, &tok, p)?.0, p.clone())))
            .collect::<Result<Vec<_>, TrainerError>>()?;
        Ok(Ppo {
            cfg: cfg.clone(),
            policy,
            reference,
            tok,
            opt,
            rng: Rng::new(cfg.run.seed),
            composer: composer(&cfg.composer)?,
            kl,
            rewards: rewards::build(&cfg.composer.rewards, &cfg.rating_head())?,
            prompts,
            step: 0,
            #[cfg(feature = "cuda")]
            gpu: match policy_device {
                Device::Cuda(i) => crate::gpu::GpuFused::new(i)?,
                _ => None,
            },
        })
    }

    /// One PPO iteration: sample, score, update the weights, compose + penalise + GAE
    /// (fused, CPU core), then PPO epochs. Returns the metrics line.
    pub fn step(&mut self) -> Result<StepMetrics, TrainerError> {
        let t0 = Instant::now();
        let p = self.cfg.ppo.clone();
        let dev = self.policy.vs.device();
        // 1. prompts and rollout
        let batch: Vec<usize> = (0..p.batch_size)
            .map(|_| self.rng.below(self.prompts.len()))
            .collect();
        let contexts: Vec<Vec<i64>> = batch.iter().map(|&i| self.prompts[i].0.clone()).collect();
        let refs: Vec<String> = batch
            .iter()
            .map(|&i| self.prompts[i].1.response.clone())
            .collect();
        let ro = generate(
            &self.policy,
            &self.tok,
            &contexts,
            self.cfg.tokenizer.max_response_tokens,
            p.temperature,
            p.top_k,
            &mut self.rng,
        )?;
        let t_gen = phase_end(dev, t0);
        let b = p.batch_size;
        let r = ro.mask.len() / b;
        let (old_logp, old_values, ref_logp) = {
            let _g = tch::no_grad_guard();
            let (lp, v) = response_logp_values(&self.policy, &ro.ids, &ro.attn, ro.ctx_len);
            let (rlp, _) = response_logp_values(&self.reference, &ro.ids, &ro.attn, ro.ctx_len);
            (lp, v, rlp)
        };
        let t_fwd = phase_end(dev, t0);
        // 2. rewards, weights
        // Sequence-level scores ([B]) or, for sentence placement, per-token channels
        // ([B * R]); a row's value is its score or its channel's sum.
        let placement = &self.cfg.composer.placement;
        let sentence = |k: usize| placement.get(k).is_some_and(|p| p == "sentence");
        let mut scores = rewards::score_all(&self.rewards, &ro.texts, &refs)?;
        let tok = &self.tok;
        let decode = |ids: &[i64]| tok.decode(ids);
        for (k, reward) in self.rewards.iter().enumerate() {
            if sentence(k) {
                scores[k] = rewards::sentence_channel(&**reward, &ro.tokens, &refs, r, &decode)?;
            }
        }
        let means: Vec<f32> = scores
            .iter()
            .map(|s| s.iter().sum::<f32>() / b as f32)
            .collect();
        let t_score = phase_end(dev, t0);
        let weights = self.composer.update(&means)?.to_vec();
        let diag = self.composer.diagnostics(&means)?;
        // 3. fused composition + KL penalty + GAE (+ whitening): composer-cuda on the
        // device tensors when built with `cuda` and the policy is on a GPU, else the
        // composer-core CPU pass.
        let dense: Vec<bool> = (0..scores.len()).map(sentence).collect();
        let params = FusedParams {
            gae: GaeParams {
                gamma: p.gamma,
                lambda: p.lam,
            },
            beta: self.kl.beta(),
            estimator: estimator(&p.kl_estimator)?,
            mode: MaskMode::Prefix,
        };
        let shape = [b as i64, r as i64];
        let inputs = StepInputs {
            scores: &scores,
            dense: &dense,
            weights: &weights,
            logp: &old_logp,
            ref_logp: &ref_logp,
            values: &old_values,
            mask: &ro.mask,
            shape: Shape::new(b, r),
            params: &params,
            whiten: p.whiten,
        };
        let (adv_t, ret_t, kl_sum, valid) = match self.fused_on_device(&inputs)? {
            Some(x) => x,
            None => fused_on_cpu(&inputs, dev)?,
        };
        let t_fused = phase_end(dev, t0);
        let kl_mean = (kl_sum / valid.max(1.0)) as f32;
        let beta = self.kl.beta();
        self.kl.update(kl_mean, b as u64)?;
        // 4. PPO epochs
        let mask_t = Tensor::from_slice(&ro.mask)
            .view(shape)
            .to_kind(Kind::Float)
            .to(dev);
        let (mut pl_sum, mut vl_sum, mut clip_sum, mut n_mb) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..p.epochs {
            let mut order: Vec<i64> = (0..b as i64).collect();
            self.rng.shuffle(&mut order);
            for mb in order.chunks(p.minibatch_size) {
                let idx = Tensor::from_slice(mb).to(dev);
                let sel = |t: &Tensor| t.index_select(0, &idx);
                let (new_logp, new_v) =
                    response_logp_values(&self.policy, &sel(&ro.ids), &sel(&ro.attn), ro.ctx_len);
                let m = sel(&mask_t);
                let denom = m.sum(Kind::Float).clamp_min(1.0);
                let a = sel(&adv_t);
                let ratio = (&new_logp - sel(&old_logp)).exp();
                let pg1 = -&a * &ratio;
                let pg2 = -&a * ratio.clamp(1.0 - p.clip, 1.0 + p.clip);
                let pg = (pg1.maximum(&pg2) * &m).sum(Kind::Float) / &denom;
                let ov = sel(&old_values);
                let vclip = &ov + (&new_v - &ov).clamp(-p.value_clip, p.value_clip);
                let rt = sel(&ret_t);
                let vl = (&new_v - &rt).square().maximum(&(vclip - &rt).square()) * 0.5;
                let vl = (vl * &m).sum(Kind::Float) / &denom;
                let loss = &pg + &vl * p.vf_coef;
                let lv = loss.double_value(&[]);
                if !lv.is_finite() {
                    return Err(TrainerError::Config(format!(
                        "PPO loss became {lv} at step {}: lower ppo.lr",
                        self.step + 1
                    )));
                }
                self.opt.zero_grad();
                loss.backward();
                self.opt.clip_grad_norm(p.max_grad_norm);
                self.opt.step();
                let clipped = ((ratio - 1.0).abs().gt(p.clip).to_kind(Kind::Float) * &m)
                    .sum(Kind::Float)
                    / &denom;
                pl_sum += pg.double_value(&[]);
                vl_sum += vl.double_value(&[]);
                clip_sum += clipped.double_value(&[]);
                n_mb += 1.0;
            }
        }
        self.step += 1;
        let secs = t0.elapsed().as_secs_f64();
        let tokens: usize = ro.tokens.iter().map(Vec::len).sum();
        let names: Vec<&str> = self.rewards.iter().map(|r| r.name()).collect();
        let obj = |v: &[f32]| -> serde_json::Map<String, serde_json::Value> {
            names
                .iter()
                .zip(v)
                .map(|(n, x)| (n.to_string(), json!(x)))
                .collect()
        };
        let line = json!({
            "step": self.step,
            "rewards": obj(&means),
            "weights": obj(&weights),
            "composite": diag.composite,
            "disparity": diag.disparity,
            "min_reward": diag.min,
            "kl": kl_mean,
            "beta": beta,
            "policy_loss": pl_sum / n_mb,
            "value_loss": vl_sum / n_mb,
            "clip_frac": clip_sum / n_mb,
            "response_len": tokens as f64 / b as f64,
            "sample": ro.texts.first().cloned().unwrap_or_default(),
            "tokens_per_s": tokens as f64 / secs,
            "step_s": secs,
            "phase_s": {
                "generate": t_gen,
                "forward": t_fwd - t_gen,
                "score": t_score - t_fwd,
                "fused": t_fused - t_score,
                "train": secs - t_fused,
            },
        });
        Ok(StepMetrics { line })
    }

    /// The resumable state (everything but the tensors).
    pub fn state(&self) -> Result<PpoState, TrainerError> {
        let mut record = vec![0u8; composer_core::RECORD_LEN];
        let n = self.composer.save_bytes(Some(&self.kl), &mut record)?;
        record.truncate(n);
        Ok(PpoState {
            step: self.step,
            rng: self.rng.s,
            composer: record,
        })
    }

    /// Restores [`Ppo::state`].
    pub fn restore(&mut self, st: &PpoState) -> Result<(), TrainerError> {
        self.composer
            .restore_bytes(Some(&mut self.kl), &st.composer)
            .map_err(|e| TrainerError::Checkpoint(format!("composer state: {e}")))?;
        self.rng.s = st.rng;
        self.step = st.step;
        Ok(())
    }
}

/// Runs PPO to `cfg.ppo.steps` in `dir` (`metrics.jsonl`, checkpoints), resuming from the
/// latest checkpoint when `resume` is set. With `cfg.ppo.eval_every > 0` and `eval_pairs`
/// not empty, the policy is evaluated on them ([`crate::eval::evaluate`]) before the first
/// step and every `eval_every` steps, one line of `eval-curve.jsonl` each (step, reward
/// means, the raw m_eval metrics); an evaluation is written before the checkpoint of its
/// step, so a resumed curve equals an uninterrupted one.
pub fn train(
    mut ppo: Ppo,
    dir: &Path,
    resume: bool,
    eval_pairs: &[Pair],
) -> Result<Ppo, TrainerError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
    let log_path = dir.join("metrics.jsonl");
    let curve_path = dir.join("eval-curve.jsonl");
    let eval_every = if eval_pairs.is_empty() {
        0
    } else {
        ppo.cfg.ppo.eval_every
    };
    if resume {
        match checkpoint::load_latest(dir, &mut ppo)? {
            Some(step) => {
                checkpoint::truncate_log(&log_path, step)?;
                if curve_path.is_file() {
                    checkpoint::truncate_log(&curve_path, step)?;
                }
                eprintln!("resumed from step {step}");
            }
            None => {
                return Err(TrainerError::Checkpoint(format!(
                    "--resume: no checkpoint in {}; run without --resume to start",
                    dir.display()
                )))
            }
        }
    } else {
        checkpoint::save_reference(dir, &ppo)?;
        std::fs::write(&log_path, "").map_err(|e| TrainerError::io(&log_path, e))?;
        if eval_every > 0 {
            std::fs::write(&curve_path, "").map_err(|e| TrainerError::io(&curve_path, e))?;
            append_eval(&ppo, eval_pairs, &curve_path)?;
        } else if curve_path.is_file() {
            std::fs::remove_file(&curve_path).map_err(|e| TrainerError::io(&curve_path, e))?;
        }
    }
    let total = ppo.cfg.ppo.steps;
    let mut bar = Progress::new("ppo", total);
    while ppo.step < total {
        let m = ppo.step()?;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(|e| TrainerError::io(&log_path, e))?;
        writeln!(f, "{}", m.line).map_err(|e| TrainerError::io(&log_path, e))?;
        if eval_every > 0 && (ppo.step % eval_every == 0 || ppo.step == total) {
            append_eval(&ppo, eval_pairs, &curve_path)?;
        }
        let every = ppo.cfg.ppo.checkpoint_every.max(1);
        if ppo.step % every == 0 || ppo.step == total {
            checkpoint::save(dir, &ppo)?;
        }
        let rw = &m.line["rewards"];
        let ww = &m.line["weights"];
        let summary: Vec<String> = ppo
            .rewards
            .iter()
            .map(|r| {
                let n = r.name();
                format!(
                    "{n} {:.3} (w {:.2})",
                    rw[n].as_f64().unwrap_or(0.0),
                    ww[n].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        bar.tick(ppo.step, &summary.join(", "));
    }
    bar.finish();
    Ok(ppo)
}

/// One line of `eval-curve.jsonl`: the policy's evaluation at the current step.
fn append_eval(ppo: &Ppo, pairs: &[Pair], path: &Path) -> Result<(), TrainerError> {
    let e = crate::eval::evaluate(&ppo.cfg, &ppo.policy, &ppo.tok, pairs, &ppo.rewards)?;
    let line = serde_json::json!({
        "step": ppo.step,
        "rewards": e["rewards"],
        "m_eval_metrics": e["m_eval_metrics"],
        "mean_length": e["mean_length"],
        "distinct_2": e["distinct_2"],
    });
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| TrainerError::io(path, e))?;
    writeln!(f, "{line}").map_err(|e| TrainerError::io(path, e))
}
