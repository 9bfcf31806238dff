//! PPO with composed rewards: [`Ppo::step`] is one iteration of the paper's Algorithm 1
//! (lines 5-13), on any [`CausalLm`].

use crate::config::{AdvantageChoice, Config, Placement};
use crate::corpus::Corpus;
use crate::error::TrainerError;
use crate::io::records::{PerReward, PhaseSeconds, StepMetrics};
use crate::model::causal_lm::train_top_blocks;
use crate::model::causal_lm::CausalLm;
use crate::model::tokenizer::Tok;
use crate::optim::Adam;
use crate::rewards::registry;
use crate::rewards::reward::{last_turn, score_all, Reward, Targets};
use crate::rewards::sentence::sentence_channel;
use crate::rl::advantages::{
    advantages, channels, row_totals, AdvantageInputs, Advantages, Backend,
};
use crate::rl::loss::{clip_fraction, kl_loss, policy_loss, value_loss};
use crate::rl::rollout::{
    encode_with, generate, response_logp_values, response_logp_values_from, Rollout, Sampling,
};
use crate::rl::state::PpoState;
use crate::rng::Rng;
use composer_core::{
    broadcast_rows, group_advantages, group_scratch_len, reference_stats, reward_means, Channel,
    Composer, GroupEstimator, GroupParams, KlController, MaskMode, Normalization, Shape,
};
use fastrl_data::Pair;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Everything the PPO loop carries between steps.
pub struct Ppo {
    /// Resolved config.
    pub cfg: Config,
    /// Policy (trunk + value head).
    pub policy: Box<dyn CausalLm>,
    /// Frozen reference.
    pub reference: Box<dyn CausalLm>,
    /// Tokenizer.
    pub tok: Tok,
    /// Optimiser.
    pub opt: Adam,
    /// Host generator (token sampling, minibatch shuffles).
    pub rng: Rng,
    /// Prompt generator ([`prompt_rng`]): only prompt draws read it, so runs of one seed
    /// see the same prompts at every step whatever else they draw.
    pub prompt_rng: Rng,
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
    /// Where the fused pass runs.
    pub backend: Backend,
    /// How many of the lowest blocks the policy and the reference share (frozen and
    /// equal, [`shared_blocks`]): their output is computed once per step and the
    /// policy's and the reference's forwards run only the blocks above. 0 = none.
    pub shared_blocks: usize,
}

impl std::fmt::Debug for Ppo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ppo").field("step", &self.step).finish()
    }
}

/// Seconds since `t0` once the device has finished its queued work (a CUDA device runs
/// asynchronously: without the wait, a phase's kernels would be timed in a later phase).
fn phase_end(dev: Device, t0: Instant) -> f64 {
    if let Device::Cuda(i) = dev {
        tch::Cuda::synchronize(i as i64);
    }
    t0.elapsed().as_secs_f64()
}

/// The rollout's log-probabilities under the sampling policy and the reference, and the
/// sampling policy's values, all `[B, R]`.
struct Scored {
    logp: Tensor,
    values: Tensor,
    ref_logp: Tensor,
    /// The output of the shared lower blocks `[B, T, hidden]` (when any are shared).
    lower: Option<Tensor>,
}

/// Mean losses over the minibatches of the update.
struct Losses {
    policy: f64,
    value: f64,
    clip_frac: f64,
}

impl Ppo {
    /// A fresh PPO run from `policy` (the reference is a frozen copy of it).
    pub fn new(
        cfg: &Config,
        policy: Box<dyn CausalLm>,
        tok: Tok,
        corpus: &Corpus,
    ) -> Result<Self, TrainerError> {
        tok.check_model(policy.vocab_size())?;
        let reference = policy.frozen_copy()?;
        train_top_blocks(&*policy, cfg.model.train_top_blocks)?;
        let mut opt = Adam::new(policy.vars(), cfg.ppo.lr);
        if cfg.ppo.value_lr > 0.0 {
            opt.set_lr_of(VALUE_HEAD, cfg.ppo.value_lr);
        }
        let prompts = corpus
            .train
            .iter()
            .map(|p| Ok((encode_with(cfg, &tok, p)?.0, p.clone())))
            .collect::<Result<Vec<_>, TrainerError>>()?;
        let backend = Backend::for_device(policy.device())?;
        let mut ppo = Ppo {
            cfg: cfg.clone(),
            policy,
            reference,
            tok,
            opt,
            rng: Rng::new(cfg.run.seed),
            prompt_rng: prompt_rng(cfg.run.seed),
            composer: cfg.composer.build(cfg.ppo.steps, None)?,
            kl: cfg.ppo.kl_controller()?,
            rewards: registry::build(&cfg.composer.rewards, &cfg.reward_settings())?,
            prompts,
            step: 0,
            backend,
            shared_blocks: 0,
        };
        ppo.share_frozen_blocks();
        if let AdvantageChoice::Group(_) = cfg.ppo.advantage {
            let prompts = cfg.ppo.batch_size / cfg.ppo.group_size.max(1);
            if prompts < MIN_GROUP_PROMPTS {
                crate::note!(
                    "note: ppo.advantage = {:?} draws {prompts} prompt(s) per step \
                     (ppo.batch_size {} / ppo.group_size {}); trl and verl use at least \
                     {MIN_GROUP_PROMPTS}: the baseline of each group is noisy and a step \
                     sees few contexts",
                    cfg.ppo.advantage.to_string(),
                    cfg.ppo.batch_size,
                    cfg.ppo.group_size
                );
            }
        }
        if cfg.composer.normalization == Normalization::Reference {
            let (mean, std) = if cfg.composer.reference_mean.is_empty() {
                ppo.calibrate()?
            } else {
                (
                    cfg.composer.reference_mean.clone(),
                    cfg.composer.reference_std.clone(),
                )
            };
            ppo.composer = cfg.composer.build(cfg.ppo.steps, Some((&mean, &std)))?;
        }
        Ok(ppo)
    }

    /// The reference statistics of `normalization = "reference"`: per reward, the mean
    /// and the per-response standard deviation (ddof 1, `composer_core::reference_stats`)
    /// over `composer.calibration` responses of the starting policy to training prompts,
    /// sampled as PPO samples (same temperature and top-k) in batches of
    /// `ppo.batch_size`, with a generator of its own (seed `run.seed ^ 0xCA11B`), so the
    /// run's own sampling stream is the same with or without calibration. A dense
    /// (sentence-placed) reward is measured as its row sums, the quantity its batch mean
    /// averages.
    pub fn calibrate(&mut self) -> Result<(Vec<f32>, Vec<f32>), TrainerError> {
        let per_reward = self.calibration_scores()?;
        let views: Vec<&[f32]> = per_reward.iter().map(Vec::as_slice).collect();
        let (mut mean, mut std) = (vec![0.0f32; views.len()], vec![0.0f32; views.len()]);
        reference_stats(&views, &mut mean, &mut std)?;
        for (k, reward) in self.rewards.iter().enumerate() {
            crate::note!(
                "calibration ({} responses of the starting policy): {} mean {:.4} std {:.4}",
                per_reward[k].len(),
                reward.name(),
                mean[k],
                std[k]
            );
        }
        Ok((mean, std))
    }

    /// The scores [`Ppo::calibrate`] reads: per reward, one per response, in the order
    /// sampled (consecutive runs of `ppo.batch_size` are one batch).
    pub fn calibration_scores(&mut self) -> Result<Vec<Vec<f32>>, TrainerError> {
        let want = self.cfg.composer.calibration.max(2);
        let own = Rng::new(self.cfg.run.seed ^ 0xCA11B);
        let main = std::mem::replace(&mut self.rng, own);
        let own_prompts = Rng::new(self.cfg.run.seed ^ 0xCA11B ^ PROMPT_STREAM);
        let main_prompts = std::mem::replace(&mut self.prompt_rng, own_prompts);
        let mut per_reward: Vec<Vec<f32>> = vec![Vec::with_capacity(want); self.rewards.len()];
        let dense = self.dense_channels();
        let mut done = 0;
        let result = (|| -> Result<(), TrainerError> {
            while done < want {
                let batch: Vec<usize> = self
                    .sample_prompts()
                    .into_iter()
                    .take(want - done)
                    .collect();
                let ro = self.rollout(&batch)?;
                let (b, r) = (batch.len(), ro.mask.len() / batch.len());
                let scores = self.reward_channels(&ro, &batch, &dense, r)?;
                for (k, totals) in row_totals(&scores, &dense, &ro.mask, r).iter().enumerate() {
                    per_reward[k].extend_from_slice(&totals[..b]);
                }
                done += b;
            }
            Ok(())
        })();
        self.rng = main;
        self.prompt_rng = main_prompts;
        result?;
        Ok(per_reward)
    }

    /// Sets [`Ppo::shared_blocks`] from `model.train_top_blocks` and the two models'
    /// weights; call it again after replacing either model's weights (a resume).
    pub fn share_frozen_blocks(&mut self) {
        let top = self.cfg.model.train_top_blocks;
        self.shared_blocks = shared_blocks(&*self.policy, &*self.reference, top);
        if top > 0 && self.shared_blocks == 0 {
            crate::note!(
                "note: the policy's frozen blocks differ from the reference's; both run \
                 every block"
            );
        }
    }

    /// One iteration of Algorithm 1 (lines 5-13). Returns what it measured.
    pub fn step(&mut self) -> Result<StepMetrics, TrainerError> {
        let t0 = Instant::now();
        let dev = self.policy.device();
        let p = &self.cfg.ppo;
        let lr = p.lr_schedule.at(p.lr, self.step, p.steps);
        self.opt.lr = lr;
        let warmup = self.step < p.value_warmup_steps;
        // Line 5: sample a batch D_b from D.
        let batch = self.sample_prompts();
        // Line 6: sample y^i ~ pi_theta(. | x^i) for each x^i in D_b.
        let ro = self.rollout(&batch)?;
        let t_gen = phase_end(dev, t0);
        let old = self.score_tokens(&ro);
        let t_fwd = phase_end(dev, t0);
        // Line 7: rewards r_1, ..., r_n, and their batch means rbar_i.
        let (b, r) = (batch.len(), ro.mask.len() / batch.len());
        let dense = self.dense_channels();
        let scores = self.reward_channels(&ro, &batch, &dense, r)?;
        let means = batch_means(&scores, &dense, &ro.mask, Shape::new(b, r))?;
        let t_score = phase_end(dev, t0);
        // Lines 8 and 10: the weights for this batch (Eq. 4, 5: w^pre <- w^cur).
        let weights = self.composer.update(&means)?.to_vec();
        let diag = self.composer.diagnostics(&means)?;
        // Eq. (6) on what the composer composes (raw rewards or their z-scores) as raw
        // weights plus a batch-constant offset.
        let mix = Mix::of(&*self.composer, &scores, &dense, b)?;
        // Lines 8, 9, 11: composite (Eq. 4, 6), penalised reward (Eq. 7), advantages
        // and value targets; or, critic-free, group-relative advantages of the rewards
        // with these weights (the KL penalty then enters the loss).
        let beta = self.kl.beta();
        let params = self.cfg.ppo.fused_params(beta);
        let adv = match self.cfg.ppo.advantage {
            AdvantageChoice::Gae => advantages(
                &AdvantageInputs {
                    scores: &mix.scores,
                    dense: &mix.dense,
                    weights: &mix.weights,
                    logp: &old.logp,
                    ref_logp: &old.ref_logp,
                    values: &old.values,
                    mask: &ro.mask,
                    shape: Shape::new(b, r),
                    params: &params,
                    whiten: self.cfg.ppo.whiten,
                },
                &self.backend,
                dev,
            )?,
            // GDPO normalises each reward within its group (scale-free by itself) and
            // weights the normalised rewards by the simplex weights; the others compose
            // first, so they read Eq. (6)'s raw weights (the offset changes no
            // group-relative advantage).
            AdvantageChoice::Group(est) => self.group_relative(
                est,
                &scores,
                &dense,
                if est == GroupEstimator::Gdpo {
                    &weights
                } else {
                    &mix.weights[..weights.len()]
                },
                &ro.mask,
                Shape::new(b, r),
                &old,
            )?,
        };
        let t_fused = phase_end(dev, t0);
        let kl_mean = (adv.kl_sum / adv.valid_tokens.max(1.0)) as f32;
        self.kl.update(kl_mean, b as u64)?;
        let explained_var = match self.cfg.ppo.advantage {
            AdvantageChoice::Gae => explained_variance(&old.values, &adv.returns, &ro.mask)?,
            AdvantageChoice::Group(_) => 0.0,
        };
        let logp_gap = logp_gap(&old.logp, &ro.sample_logp, &ro.mask)?;
        // Lines 12, 13: policy and value updates.
        let losses = self.update(&ro, &old, &adv.advantages, &adv.returns, warmup)?;
        self.step += 1;
        let secs = t0.elapsed().as_secs_f64();
        let tokens: usize = ro.tokens.iter().map(Vec::len).sum();
        Ok(StepMetrics {
            beta: f64::from(beta),
            clip_frac: losses.clip_frac,
            composite: f64::from(diag.composite),
            disparity: f64::from(diag.disparity),
            kl: f64::from(kl_mean),
            min_reward: f64::from(diag.min),
            phase_s: PhaseSeconds {
                forward: t_fwd - t_gen,
                fused: t_fused - t_score,
                generate: t_gen,
                score: t_score - t_fwd,
                train: secs - t_fused,
            },
            policy_loss: losses.policy,
            response_len: tokens as f64 / b as f64,
            rewards: self.per_reward(&means),
            sample: ro.texts.first().cloned().unwrap_or_default(),
            step: self.step,
            step_s: secs,
            tokens_per_s: tokens as f64 / secs,
            value_loss: losses.value,
            weights: self.per_reward(&weights),
            explained_var,
            eos_share: ro.eos_share(self.tok.eos),
            logp_gap,
            lr,
            value_warmup: warmup,
        })
    }

    /// `batch_size` prompt indices, drawn with replacement; for a group-relative
    /// estimator `batch_size / group_size` draws, each repeated `group_size` times in a
    /// row (response `b` belongs to group `b / group_size`).
    pub fn sample_prompts(&mut self) -> Vec<usize> {
        let k = match self.cfg.ppo.advantage {
            AdvantageChoice::Gae => 1,
            AdvantageChoice::Group(_) => self.cfg.ppo.group_size.max(1),
        };
        let mut out = Vec::with_capacity(self.cfg.ppo.batch_size);
        for _ in 0..self.cfg.ppo.batch_size / k {
            let i = self.prompt_rng.below(self.prompts.len());
            out.extend(std::iter::repeat_n(i, k));
        }
        out
    }

    /// Critic-free advantages (composer-core's `group_advantages`): per response, the
    /// estimator's group-relative value of the rewards under `weights`, spread over its
    /// valid tokens; the KL to the reference is measured (`k3`, for the controller and
    /// the log) and enters the loss, not the reward. Returns are unused (no value loss).
    #[allow(clippy::too_many_arguments)]
    fn group_relative(
        &self,
        est: GroupEstimator,
        scores: &[Vec<f32>],
        dense: &[bool],
        weights: &[f32],
        mask: &[u8],
        shape: Shape,
        old: &Scored,
    ) -> Result<Advantages, TrainerError> {
        let p = &self.cfg.ppo;
        let k = p.group_size.max(1);
        let b = shape.batch;
        let channels = channels(scores, dense);
        let groups: Vec<u32> = (0..b).map(|i| (i / k) as u32).collect();
        let num_groups = b.div_ceil(k);
        let mut params = GroupParams::new(est, p.group_convention);
        params.scale = p.group_scale;
        params.group_size = Some(k);
        let mut scratch = vec![0.0f64; group_scratch_len(b, num_groups)];
        let mut seq = vec![0.0f32; b];
        group_advantages(
            &channels,
            weights,
            &groups,
            num_groups,
            mask,
            shape,
            &params,
            &mut scratch,
            &mut seq,
        )?;
        let mut tok = vec![0.0f32; shape.tokens()?];
        broadcast_rows(&seq, mask, shape, &mut tok)?;
        let dev = self.policy.device();
        let dims = [b as i64, shape.len as i64];
        let m = Tensor::from_slice(mask)
            .view(dims)
            .to_kind(Kind::Float)
            .to(dev);
        let valid = m.sum(Kind::Float).double_value(&[]);
        let kl_sum =
            kl_loss(&old.logp, &old.ref_logp, &m, &Tensor::from(1.0f32).to(dev)).double_value(&[]);
        let adv = Tensor::from_slice(&tok).view(dims).to(dev);
        Ok(Advantages {
            returns: adv.zeros_like(),
            advantages: adv,
            kl_sum,
            valid_tokens: valid,
        })
    }

    fn rollout(&mut self, batch: &[usize]) -> Result<Rollout, TrainerError> {
        let contexts: Vec<Vec<i64>> = batch.iter().map(|&i| self.prompts[i].0.clone()).collect();
        generate(
            &*self.policy,
            &self.tok,
            &contexts,
            self.cfg.tokenizer.max_response_tokens,
            Sampling::of(&self.cfg),
            &mut self.rng,
        )
    }

    fn score_tokens(&self, ro: &Rollout) -> Scored {
        let _g = tch::no_grad_guard();
        let k = self.shared_blocks;
        let lower = (k > 0).then(|| self.policy.lower(&ro.ids, &ro.attn, k));
        let from = |m: &dyn CausalLm, s: Sampling| match &lower {
            Some(h) => response_logp_values_from(m, h, k, &ro.ids, &ro.attn, ro.ctx_len, s),
            None => response_logp_values(m, &ro.ids, &ro.attn, ro.ctx_len, s),
        };
        // The policy's log-probabilities under the distribution the tokens were drawn
        // from; the reference's at the same temperature ([`Sampling::reference`]).
        let sampling = Sampling::of(&self.cfg);
        let (logp, values) = from(&*self.policy, sampling);
        let (ref_logp, _) = from(&*self.reference, sampling.reference());
        Scored {
            logp,
            values,
            ref_logp,
            lower,
        }
    }

    /// Per reward: whether it is placed per sentence (a dense channel).
    fn dense_channels(&self) -> Vec<bool> {
        let placement = &self.cfg.composer.placement;
        (0..self.rewards.len())
            .map(|k| placement.get(k) == Some(&Placement::Sentence))
            .collect()
    }

    /// Sequence-level scores (`[B]`) or, for sentence placement, per-token channels
    /// (`[B * R]`), of the responses to the prompts `batch` (indices into the prompts).
    fn reward_channels(
        &self,
        ro: &Rollout,
        batch: &[usize],
        dense: &[bool],
        r: usize,
    ) -> Result<Vec<Vec<f32>>, TrainerError> {
        let refs: Vec<String> = batch
            .iter()
            .map(|&i| self.prompts[i].1.response.clone())
            .collect();
        let last_turns: Vec<String> = batch
            .iter()
            .map(|&i| last_turn(&self.prompts[i].1.context))
            .collect();
        let targets = Targets {
            references: &refs,
            last_turns: &last_turns,
        };
        let mut scores = score_all(&self.rewards, &ro.texts, targets)?;
        let tok = &self.tok;
        let decode = |ids: &[i64]| tok.decode(ids);
        for (k, reward) in self.rewards.iter().enumerate() {
            if dense[k] {
                let against = targets.of(&**reward);
                scores[k] = sentence_channel(&**reward, &ro.tokens, against, r, &decode)?;
            }
        }
        Ok(scores)
    }

    /// PPO epochs over the rollout in shuffled minibatches of `minibatch_size` rows
    /// (the last minibatch of an epoch holds the remainder when it does not divide
    /// `batch_size`). A non-finite loss stops before the optimiser applies it. In a
    /// value warm-up step (`warmup`) only the value loss trains, and only the value
    /// head moves: the policy stays as it is.
    fn update(
        &mut self,
        ro: &Rollout,
        old: &Scored,
        adv_t: &Tensor,
        ret_t: &Tensor,
        warmup: bool,
    ) -> Result<Losses, TrainerError> {
        let p = self.cfg.ppo.clone();
        let sampling = Sampling::of(&self.cfg);
        let critic_free = p.advantage != AdvantageChoice::Gae;
        let dev = self.policy.device();
        let b = ro.tokens.len();
        let shape = [b as i64, (ro.mask.len() / b) as i64];
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
                let (ids, attn) = (sel(&ro.ids), sel(&ro.attn));
                let (new_logp, new_v) = match &old.lower {
                    Some(h) => response_logp_values_from(
                        &*self.policy,
                        &sel(h),
                        self.shared_blocks,
                        &ids,
                        &attn,
                        ro.ctx_len,
                        sampling,
                    ),
                    None => response_logp_values(&*self.policy, &ids, &attn, ro.ctx_len, sampling),
                };
                let m = sel(&mask_t);
                let denom = m.sum(Kind::Float).clamp_min(1.0);
                let mb_adv = sel(adv_t);
                let (pg, ratio) =
                    policy_loss(&new_logp, &sel(&old.logp), &mb_adv, &m, &denom, p.clip);
                // Critic-free: no value loss; the KL penalty is a loss term instead.
                let (vl, loss) = if critic_free {
                    let kl = kl_loss(&new_logp, &sel(&old.ref_logp), &m, &denom);
                    (kl.zeros_like(), &pg + kl * f64::from(p.kl_loss_coef))
                } else {
                    let vl = value_loss(
                        &new_v,
                        &sel(&old.values),
                        &sel(ret_t),
                        &m,
                        &denom,
                        p.value_clip,
                    );
                    // A warm-up step trains the value head alone.
                    let loss = if warmup {
                        &vl * p.vf_coef
                    } else {
                        &pg + &vl * p.vf_coef
                    };
                    (vl, loss)
                };
                let lv = loss.double_value(&[]);
                if !lv.is_finite() {
                    return Err(TrainerError::NonFiniteLoss {
                        phase: "PPO",
                        step: self.step + 1,
                        value: lv,
                        fix: "ppo.lr",
                    });
                }
                self.opt.zero_grad();
                loss.backward();
                self.opt.clip_grad_norm(p.max_grad_norm);
                if warmup {
                    self.opt.step_only(|name| name.starts_with(VALUE_HEAD));
                } else {
                    self.opt.step();
                }
                let clipped = clip_fraction(&ratio, &mb_adv, &m, &denom, p.clip);
                pl_sum += pg.double_value(&[]);
                vl_sum += vl.double_value(&[]);
                clip_sum += clipped.double_value(&[]);
                n_mb += 1.0;
            }
        }
        Ok(Losses {
            policy: pl_sum / n_mb,
            value: vl_sum / n_mb,
            clip_frac: clip_sum / n_mb,
        })
    }

    fn per_reward(&self, v: &[f32]) -> PerReward {
        self.rewards
            .iter()
            .zip(v)
            .map(|(r, &x)| (r.name().to_string(), f64::from(x)))
            .collect()
    }

    /// The resumable state (everything but the tensors).
    pub fn state(&self) -> Result<PpoState, TrainerError> {
        let mut record = vec![0u8; composer_core::RECORD_LEN];
        let n = self.composer.save_bytes(Some(&self.kl), &mut record)?;
        record.truncate(n);
        Ok(PpoState {
            step: self.step,
            rng: self.rng.s,
            prompt_rng: self.prompt_rng.s,
            composer: record,
        })
    }

    /// Restores [`Ppo::state`].
    pub fn restore(&mut self, st: &PpoState) -> Result<(), TrainerError> {
        self.composer
            .restore_bytes(Some(&mut self.kl), &st.composer)
            .map_err(|e| TrainerError::Checkpoint(format!("composer state: {e}")))?;
        self.rng.s = st.rng;
        self.prompt_rng.s = st.prompt_rng;
        self.step = st.step;
        Ok(())
    }
}

/// Fewer prompts per step than this on a group-relative path is said at the start.
const MIN_GROUP_PROMPTS: usize = 8;

/// The value head's variable prefix (both models name it `v_head`).
const VALUE_HEAD: &str = "v_head.";

/// The explained variance `1 - Var(R - V) / Var(R)` of `returns` by `values` (`[B, R]`
/// tensors) over the valid tokens of `mask` (population variances; 0 when the returns
/// do not vary).
pub fn explained_variance(
    values: &Tensor,
    returns: &Tensor,
    mask: &[u8],
) -> Result<f64, TrainerError> {
    let v: Vec<f32> = Vec::try_from(&values.to_device(Device::Cpu).reshape([-1]))?;
    let r: Vec<f32> = Vec::try_from(&returns.to_device(Device::Cpu).reshape([-1]))?;
    let var = |xs: Vec<f64>| {
        let n = xs.len().max(1) as f64;
        let mean = xs.iter().sum::<f64>() / n;
        xs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n
    };
    let valid: Vec<usize> = (0..mask.len()).filter(|&i| mask[i] != 0).collect();
    let var_r = var(valid.iter().map(|&i| f64::from(r[i])).collect());
    let var_e = var(valid
        .iter()
        .map(|&i| f64::from(r[i]) - f64::from(v[i]))
        .collect());
    Ok(if var_r > 0.0 {
        1.0 - var_e / var_r
    } else {
        0.0
    })
}

/// The largest `|logp - sampled|` over the valid tokens of `mask`: `logp` `[B, R]` as
/// the ratio uses them, `sampled` as the sampler drew them ([`Rollout::sample_logp`]).
pub fn logp_gap(logp: &Tensor, sampled: &[f32], mask: &[u8]) -> Result<f64, TrainerError> {
    let l: Vec<f32> = Vec::try_from(&logp.to_device(Device::Cpu).reshape([-1]))?;
    Ok(l.iter()
        .zip(sampled)
        .zip(mask)
        .filter(|(_, &m)| m != 0)
        .map(|((&a, &b), _)| f64::from((a - b).abs()))
        .fold(0.0, f64::max))
}

/// Mixed into the seed of [`Ppo::prompt_rng`].
const PROMPT_STREAM: u64 = 0x9E0D_1A5E_ED00_0001;

/// The prompt generator of a run seeded `seed`: a stream of its own, so the prompts a
/// step draws do not depend on how many tokens earlier steps sampled or how their
/// minibatches were shuffled (arms of one seed in `compare` see the same prompts).
pub fn prompt_rng(seed: u64) -> Rng {
    Rng::new(seed ^ PROMPT_STREAM)
}

/// The fused pass's view of Eq. (6): the reward channels, plus a constant channel
/// holding the composer's offset when it has one (a composer on z-scores), and the
/// composer's raw weights ([`Composer::composition`]), 1 on the offset channel.
#[derive(Debug, PartialEq)]
pub struct Mix {
    /// The channels.
    pub scores: Vec<Vec<f32>>,
    /// Which channels are dense.
    pub dense: Vec<bool>,
    /// One weight per channel.
    pub weights: Vec<f32>,
}

impl Mix {
    /// The channels and weights of `composer`'s current composition of `scores`
    /// (`batch` responses).
    pub fn of(
        composer: &dyn Composer,
        scores: &[Vec<f32>],
        dense: &[bool],
        batch: usize,
    ) -> Result<Mix, TrainerError> {
        let mut weights = vec![0.0f32; scores.len()];
        let offset = composer.composition(&mut weights)?;
        let mut mix = Mix {
            scores: scores.to_vec(),
            dense: dense.to_vec(),
            weights,
        };
        if offset != 0.0 {
            mix.scores.push(vec![offset; batch]);
            mix.dense.push(false);
            mix.weights.push(1.0);
        }
        Ok(mix)
    }
}

/// How many of the lowest blocks `policy` and `reference` can share when the top `top`
/// blocks train: `layers - top` when every embedding and lower-block weight of the two
/// is equal (they start as copies and those weights never train), else 0. `top = 0`
/// (everything trains) shares nothing.
pub fn shared_blocks(policy: &dyn CausalLm, reference: &dyn CausalLm, top: usize) -> usize {
    use crate::model::causal_lm::ParamGroup;
    let layers = policy.dims().layers as usize;
    if top == 0 || top >= layers || reference.dims() != policy.dims() {
        return 0;
    }
    let k = layers - top;
    let theirs: std::collections::HashMap<String, Tensor> =
        reference.named_parameters().into_iter().collect();
    let equal = policy.named_parameters().iter().all(|(name, t)| {
        let lower = match policy.param_group(name) {
            ParamGroup::Embedding => true,
            ParamGroup::Block(i) => i < k,
            ParamGroup::Head => false,
        };
        !lower || theirs.get(name).is_some_and(|r| r.equal(t))
    });
    if equal {
        k
    } else {
        0
    }
}

/// Each reward's batch mean `rbar_i` by composer-core's one definition
/// ([`reward_means`]): over the rows with a valid token. A dense (sentence-placed)
/// channel enters as its row sums, so its mean is the mean over rows of the row's total
/// (the mean sentence score), on the scale of the sequence-level form.
pub fn batch_means(
    scores: &[Vec<f32>],
    dense: &[bool],
    mask: &[u8],
    shape: Shape,
) -> Result<Vec<f32>, TrainerError> {
    let row_sums = row_totals(scores, dense, mask, shape.len);
    let channels: Vec<Channel<'_, f32>> =
        row_sums.iter().map(|s| Channel::Sequence(&s[..])).collect();
    let mut out = vec![0.0f32; scores.len()];
    reward_means(&channels, mask, shape, MaskMode::Prefix, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_composer_on_z_scores_composes_them_through_the_offset_channel() {
        use composer_core::{ComposeOn, FastRl, FastRlConfig, Fixed, Normalization, OnReference};
        // Two responses; rewards on very different scales.
        let scores = vec![vec![0.1f32, 0.3], vec![20.0, 10.0]];
        let (mean, std) = ([0.2f32, 15.0], [0.1f32, 5.0]);
        let z = |k: usize, b: usize| (scores[k][b] - mean[k]) / std[k];
        let composite = |m: &Mix, b: usize| -> f32 {
            m.scores.iter().zip(&m.weights).map(|(s, w)| w * s[b]).sum()
        };
        let fixed = OnReference::new(
            Fixed::new(&[0.25, 0.75]).unwrap(),
            &mean,
            &std,
            ComposeOn::Normalized,
        )
        .unwrap();
        let mut fast = FastRl::new(
            2,
            FastRlConfig {
                normalization: Normalization::Reference,
                compose_on: ComposeOn::Normalized,
                ..FastRlConfig::default()
            },
        )
        .unwrap();
        fast.set_reference(&mean, &std).unwrap();
        // Reward 0 lags (z = -1): it gains weight.
        fast.update(&[0.1, 15.0]).unwrap();
        assert!(fast.weights()[0] > 0.5);
        for c in [&fixed as &dyn Composer, &fast] {
            let m = Mix::of(c, &scores, &[false, false], 2).unwrap();
            let w = c.weights();
            for b in 0..2 {
                // By hand: sum_i w_i z_i (0.5 for the fixed weights on row 0). The raw
                // weights alone, what PPO composed before, give 0.025 + 15 there.
                let want = w[0] * z(0, b) + w[1] * z(1, b);
                assert!(
                    (composite(&m, b) - want).abs() < 1e-5,
                    "{:?} row {b}",
                    c.kind()
                );
            }
        }
        // A raw composer's mix is its weights, no extra channel.
        let raw = Fixed::new(&[0.25, 0.75]).unwrap();
        let m = Mix::of(&raw, &scores, &[false, false], 2).unwrap();
        assert_eq!(m.weights, [0.25, 0.75]);
        assert_eq!(m.scores.len(), 2);
    }

    #[test]
    fn batch_means_are_row_means_of_sequence_scores_and_dense_row_sums() {
        // Two rows of length 3, the second with one valid token.
        let mask = [1u8, 1, 1, 1, 0, 0];
        let seq = vec![0.25f32, 0.75];
        let dense = vec![0.5f32, 0.0, 0.25, 1.0, 9.0, 9.0];
        let m = batch_means(&[seq, dense], &[false, true], &mask, Shape::new(2, 3)).unwrap();
        assert_eq!(m, [0.5, 0.875]);
    }
}
