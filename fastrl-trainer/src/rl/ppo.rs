//! PPO with composed rewards: [`Ppo::step`] is one iteration of the paper's Algorithm 1
//! (lines 5-13), on any [`CausalLm`].

use crate::config::{AdvantageChoice, Config, Placement};
use crate::corpus::Corpus;
use crate::error::TrainerError;
use crate::io::checkpoint::{Parts, Restored};
use crate::io::records::{PerReward, PhaseSeconds, StepMetrics};
use crate::optim::Adam;
use crate::rewards::registry;
use crate::rewards::reward::{last_turn, score_one, Reward, Targets};
use crate::rewards::sentence::sentence_channel;
use crate::rl::advantages::{advantages, AdvantageInputs, Advantages, Backend};
use crate::rl::channels::{batch_means, core_channels, Mix, RewardChannel};
use crate::rl::loss::{clip_fraction, kl_loss, policy_loss, value_loss};
use crate::rl::rollout::{
    encode_with, generate, response_logp_values, response_logp_values_from, Rollout, Sampling,
};
use crate::rl::state::PpoState;
use crate::rng::Rng;
use composer_core::{
    broadcast_rows, group_advantages, group_scratch_len, reference_stats, Composer, GroupEstimator,
    GroupParams, KlController, Normalization, Shape,
};
use fastrl_data::Pair;
use fastrl_models::causal_lm::train_top_blocks;
use fastrl_models::causal_lm::CausalLm;
use fastrl_models::safetensors::copy_exact;
use fastrl_models::tokenizer::Tok;
use std::path::Path;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Everything the PPO loop carries between steps. Its state is private: the loop reads it
/// through the accessors below, and a checkpoint is taken by [`Ppo::checkpoint_parts`]
/// and put back by [`Ppo::restore_checkpoint`].
pub struct Ppo {
    /// Resolved config.
    cfg: Config,
    /// Policy (trunk + value head).
    policy: Box<dyn CausalLm>,
    /// Frozen reference.
    reference: Box<dyn CausalLm>,
    /// Tokenizer.
    tok: Tok,
    /// Optimiser.
    opt: Adam,
    /// Host generator (token sampling, minibatch shuffles).
    rng: Rng,
    /// Prompt generator ([`prompt_rng`]): only prompt draws read it, so runs of one seed
    /// see the same prompts at every step whatever else they draw.
    prompt_rng: Rng,
    /// Composer.
    composer: Box<dyn Composer>,
    /// KL controller.
    kl: KlController,
    /// Rewards.
    rewards: Vec<Box<dyn Reward>>,
    /// Training pairs, encoded.
    prompts: Vec<(Vec<i64>, Pair)>,
    /// Steps done.
    step: usize,
    /// Where the fused pass runs.
    backend: Backend,
    /// How many of the lowest blocks the policy and the reference share (frozen and
    /// equal, [`shared_blocks`]): their output is computed once per step and the
    /// policy's and the reference's forwards run only the blocks above. 0 = none.
    shared_blocks: usize,
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
                let channels = self.reward_channels(&ro, &batch, r)?;
                for (k, c) in channels.iter().enumerate() {
                    per_reward[k].extend_from_slice(&c.row_totals(&ro.mask, r)[..b]);
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
        let channels = self.reward_channels(&ro, &batch, r)?;
        let means = batch_means(&channels, &ro.mask, Shape::new(b, r))?;
        let t_score = phase_end(dev, t0);
        // Lines 8 and 10: the weights for this batch (Eq. 4, 5: w^pre <- w^cur).
        let weights = self.composer.update(&means)?.to_vec();
        let diag = self.composer.diagnostics(&means)?;
        // Eq. (6) on what the composer composes (raw rewards or their z-scores) as raw
        // weights plus a batch-constant offset.
        let mix = Mix::of(&*self.composer, &channels, b)?;
        // Lines 8, 9, 11: composite (Eq. 4, 6), penalised reward (Eq. 7), advantages
        // and value targets; or, critic-free, group-relative advantages of the rewards
        // with these weights (the KL penalty then enters the loss).
        let beta = self.kl.beta();
        let params = self.cfg.ppo.fused_params(beta);
        let adv = match self.cfg.ppo.advantage {
            AdvantageChoice::Gae => advantages(
                &AdvantageInputs {
                    channels: &mix.channels,
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
                &channels,
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
        channels: &[RewardChannel],
        weights: &[f32],
        mask: &[u8],
        shape: Shape,
        old: &Scored,
    ) -> Result<Advantages, TrainerError> {
        let p = &self.cfg.ppo;
        let k = p.group_size.max(1);
        let b = shape.batch;
        let channels = core_channels(channels);
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

    /// Per reward, the channel of the responses to the prompts `batch` (indices into the
    /// prompts): sequence-level scores, or per-token ones (`[B * R]`) for a reward placed
    /// per sentence (`composer.placement`).
    fn reward_channels(
        &self,
        ro: &Rollout,
        batch: &[usize],
        r: usize,
    ) -> Result<Vec<RewardChannel>, TrainerError> {
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
        let tok = &self.tok;
        let decode = |ids: &[i64]| tok.decode(ids).map_err(TrainerError::from);
        let placement = &self.cfg.composer.placement;
        // Each reward scores once: per sentence where it is placed so, else per response.
        self.rewards
            .iter()
            .enumerate()
            .map(|(k, reward)| {
                if placement.get(k) == Some(&Placement::Sentence) {
                    let against = targets.of(&**reward);
                    sentence_channel(&**reward, &ro.tokens, against, r, &decode)
                        .map(RewardChannel::Dense)
                } else {
                    score_one(&**reward, &ro.texts, targets).map(RewardChannel::Sequence)
                }
            })
            .collect()
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
    fn state(&self) -> Result<PpoState, TrainerError> {
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

    /// What a checkpoint of this run holds: the policy's tensors, the optimiser's and the
    /// resumable state (the reference is saved once per run, [`Ppo::reference`]).
    pub fn checkpoint_parts(&self) -> Result<Parts<PpoState>, TrainerError> {
        Ok(Parts {
            policy: self.policy.named_parameters(),
            optimizer: self.opt.state(),
            state: self.state()?,
        })
    }

    /// Puts back a checkpoint read from disk (`reference_file` names the reference's file
    /// in errors): the reference's and the policy's weights (every name and shape
    /// checked), the optimiser, the composer and KL controller, both generators and the
    /// step; then recomputes the blocks the two models share.
    pub fn restore_checkpoint(
        &mut self,
        r: Restored<PpoState>,
        reference_file: &Path,
    ) -> Result<(), TrainerError> {
        copy_exact(self.reference.vars(), r.reference, reference_file)?;
        copy_exact(
            self.policy.vars(),
            r.policy,
            &r.dir.join("policy.safetensors"),
        )?;
        self.opt.load_state(r.optimizer)?;
        let st = &r.state;
        self.composer
            .restore_bytes(Some(&mut self.kl), &st.composer)
            .map_err(|e| TrainerError::Checkpoint(format!("composer state: {e}")))?;
        self.rng.s = st.rng;
        self.prompt_rng.s = st.prompt_rng;
        self.step = st.step;
        self.share_frozen_blocks();
        Ok(())
    }

    /// The resolved config.
    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    /// The policy being trained.
    pub fn policy(&self) -> &dyn CausalLm {
        &*self.policy
    }

    /// The frozen reference policy.
    pub fn reference(&self) -> &dyn CausalLm {
        &*self.reference
    }

    /// The tokenizer.
    pub fn tok(&self) -> &Tok {
        &self.tok
    }

    /// The rewards, in the composer's order.
    pub fn rewards(&self) -> &[Box<dyn Reward>] {
        &self.rewards
    }

    /// Replaces the rewards from the next step on (a reward of one's own in place of the
    /// configured ones); their number must equal the composer's.
    pub fn set_rewards(&mut self, rewards: Vec<Box<dyn Reward>>) -> Result<(), TrainerError> {
        if rewards.len() != self.rewards.len() {
            return Err(TrainerError::Config(format!(
                "{} rewards given, the composer composes {}",
                rewards.len(),
                self.rewards.len()
            )));
        }
        self.rewards = rewards;
        Ok(())
    }

    /// PPO steps done (warm-up steps included).
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Optimiser steps taken (a step stopped by a non-finite loss takes none).
    pub fn optimizer_steps(&self) -> i64 {
        self.opt.step
    }

    /// How many of the lowest blocks the policy and the reference share
    /// ([`shared_blocks`]).
    pub fn shared_blocks(&self) -> usize {
        self.shared_blocks
    }

    /// Runs every block of both models from now on, sharing none: the same numbers as
    /// sharing, at more cost (a check that sharing changes nothing).
    pub fn share_no_blocks(&mut self) {
        self.shared_blocks = 0;
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

/// How many of the lowest blocks `policy` and `reference` can share when the top `top`
/// blocks train: `layers - top` when every embedding and lower-block weight of the two
/// is equal (they start as copies and those weights never train), else 0. `top = 0`
/// (everything trains) shares nothing.
pub fn shared_blocks(policy: &dyn CausalLm, reference: &dyn CausalLm, top: usize) -> usize {
    use fastrl_models::causal_lm::ParamGroup;
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
