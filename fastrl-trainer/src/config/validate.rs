//! Range checks the types cannot express, each naming the key, the expected and the
//! actual value. Checks against the data and the machine come later
//! ([`crate::jobs::limits`]), once the corpus is loaded.

use crate::config::schema::{smoothing_arity, AdvantageChoice, ComposerChoice, Config};
use crate::error::TrainerError;

impl Config {
    /// Checks every value against its domain and the lengths of the per-reward lists.
    pub fn validate(&self) -> Result<(), TrainerError> {
        let bad = |m: String| Err(TrainerError::Config(m));
        let p = &self.ppo;
        if self.sft.batch_size == 0 || p.batch_size == 0 || p.minibatch_size == 0 {
            return bad(format!(
                "sft.batch_size {}, ppo.batch_size {} and ppo.minibatch_size {} must be at least 1",
                self.sft.batch_size, p.batch_size, p.minibatch_size
            ));
        }
        if p.minibatch_size > p.batch_size {
            return bad(format!(
                "ppo.minibatch_size {} exceeds ppo.batch_size {}",
                p.minibatch_size, p.batch_size
            ));
        }
        if p.advantage != AdvantageChoice::Gae
            && (p.group_size < 2 || p.batch_size % p.group_size != 0)
        {
            return bad(format!(
                "ppo.advantage = {:?} needs ppo.group_size >= 2 responses per prompt dividing \
                 ppo.batch_size {}, got group_size {}",
                p.advantage.to_string(),
                p.batch_size,
                p.group_size
            ));
        }
        if self.run.keep_checkpoints == 0 {
            return bad("run.keep_checkpoints = 0: keep at least the newest checkpoint".into());
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        for (k, v) in [
            ("ppo.temperature", p.temperature),
            ("ppo.clip", p.clip),
            ("ppo.lr", p.lr),
            ("sft.lr", self.sft.lr),
        ] {
            if !positive(v) {
                return bad(format!("{k} = {v}: must be finite and > 0"));
            }
        }
        if !(p.value_lr.is_finite() && p.value_lr >= 0.0) {
            return bad(format!(
                "ppo.value_lr = {}: must be finite and >= 0 (0 = ppo.lr)",
                p.value_lr
            ));
        }
        if p.value_warmup_steps > 0 && p.value_warmup_steps >= p.steps {
            return bad(format!(
                "ppo.value_warmup_steps = {} would leave no policy update in ppo.steps = {}: \
                 give fewer warm-up steps than steps",
                p.value_warmup_steps, p.steps
            ));
        }
        if p.value_warmup_steps > 0 && p.advantage != AdvantageChoice::Gae {
            return bad(format!(
                "ppo.value_warmup_steps = {} warms up the critic, but ppo.advantage = {:?} has \
                 none: set it to 0",
                p.value_warmup_steps,
                p.advantage.to_string()
            ));
        }
        if !(p.kl_loss_coef.is_finite() && p.kl_loss_coef >= 0.0) {
            return bad(format!(
                "ppo.kl_loss_coef = {}: must be finite and >= 0",
                p.kl_loss_coef
            ));
        }
        for (k, v) in [("ppo.gamma", p.gamma), ("ppo.lam", p.lam)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{k} = {v}: must be in [0, 1]"));
            }
        }
        if self.tokenizer.max_response_tokens == 0 || self.tokenizer.max_context_tokens == 0 {
            return bad("tokenizer.max_context_tokens and max_response_tokens must be >= 1".into());
        }
        let need = (self.tokenizer.max_context_tokens + self.tokenizer.max_response_tokens) as i64;
        if self.model.pretrained.is_empty() && self.model.n_positions < need {
            return bad(format!(
                "model.n_positions {} < max_context_tokens + max_response_tokens = {need}",
                self.model.n_positions
            ));
        }
        self.validate_composer()
    }

    fn validate_composer(&self) -> Result<(), TrainerError> {
        let bad = |m: String| Err(TrainerError::Config(m));
        let c = &self.composer;
        if c.rewards.is_empty() {
            return bad("composer.rewards is empty: name at least one reward".into());
        }
        if let Some(r) = c
            .rewards
            .iter()
            .enumerate()
            .find(|(i, r)| c.rewards[..*i].contains(r))
        {
            return bad(format!("composer.rewards names {} twice", r.1));
        }
        let n = c.rewards.len();
        if n > composer_core::MAX_REWARDS {
            return bad(format!(
                "composer.rewards has {n} rewards; composer-core holds at most {}",
                composer_core::MAX_REWARDS
            ));
        }
        if c.compose_on == composer_core::ComposeOn::Normalized && n == composer_core::MAX_REWARDS {
            return bad(format!(
                "composer.compose_on = \"normalized\" composes z-scores through one extra \
                 constant channel: at most {} rewards",
                composer_core::MAX_REWARDS - 1
            ));
        }
        for (key, len) in [
            ("weights", c.weights.len()),
            ("thresholds", c.thresholds.len()),
            ("constraints", c.constraints.len()),
            ("placement", c.placement.len()),
            ("bias", c.bias.len()),
            ("reference_mean", c.reference_mean.len()),
            ("reference_std", c.reference_std.len()),
        ] {
            if len != 0 && len != n {
                return bad(format!(
                    "composer.{key} has {len} entries for {n} rewards (give one per reward, or none)"
                ));
            }
        }
        if c.reference_mean.is_empty() != c.reference_std.is_empty() {
            return bad(
                "composer.reference_mean and composer.reference_std go together: give both \
                 or neither"
                    .into(),
            );
        }
        let [lo, hi] = c.length_band;
        if c.rewards
            .contains(&crate::rewards::kind::RewardKind::Length)
            && (hi == 0 || lo > hi)
        {
            return bad(format!(
                "composer.length_band = [{lo}, {hi}]: give [lo, hi] words with 1 <= hi and lo <= hi"
            ));
        }
        if !c.constraints.is_empty() && c.thresholds.is_empty() {
            return bad("composer.constraints is set but composer.thresholds is empty".into());
        }
        let arity = smoothing_arity(c.smoothing);
        if c.smoothing_params.len() != arity {
            return bad(format!(
                "composer.smoothing = {:?} takes {arity} parameter(s) in composer.smoothing_params, got {:?}",
                c.smoothing.name(),
                c.smoothing_params
            ));
        }
        if c.kind == ComposerChoice::Shaping && n != 2 {
            return bad(format!(
                "composer.kind = \"shaping\" needs exactly two rewards (reward, cost), got {n}"
            ));
        }
        // The core checks every remaining domain (eta, temperature, floor, smoothing,
        // weights, multipliers) with its own messages.
        c.build(self.ppo.steps, None)?;
        Ok(())
    }
}
