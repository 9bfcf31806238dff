//! The [`Composer`] trait: one interface for Fast RL and the baseline composers, so a
//! trainer swaps them by configuration.

use crate::composers::diagnostics::Diagnostics;
pub use crate::composers::kind::ComposerKind;
use crate::error::Error;
use crate::error::Result;
use crate::ops::kl::KlController;
use crate::state::StateRecord;

/// A reward composer: turns this batch's per-reward means into the weights `w` that
/// compose this batch, `r_com = sum_i w_i r_i` (Eq. (6)).
///
/// Per Algorithm 1 the order of a step is: compute the batch means, call
/// [`update`](Composer::update) (which moves the weights using this batch), compose this
/// batch with the returned weights, keep them for the next step.
pub trait Composer {
    /// Which composer this is.
    fn kind(&self) -> ComposerKind;
    /// Number of reward channels `n`.
    fn num_rewards(&self) -> usize;
    /// Consumes this batch's reward means `rbar` (length `n`, finite) and returns the
    /// weights to compose this batch with.
    fn update(&mut self, reward_means: &[f32]) -> Result<&[f32]>;
    /// The current weights (length `n`).
    fn weights(&self) -> &[f32];
    /// Number of updates done so far.
    fn steps(&self) -> u64;
    /// Writes this composer's state into `record` (other fields are left as they are).
    fn save(&self, record: &mut StateRecord);
    /// Restores from `record`. Validates everything before changing anything: on error
    /// the composer is unchanged.
    fn restore(&mut self, record: &StateRecord) -> Result<()>;

    /// Sets the reference statistics of [`Normalization::Reference`](crate::Normalization):
    /// per reward the starting policy's mean and per-response standard deviation. Only a
    /// composer that normalises by a reference has them ([`FastRl`](crate::FastRl)); the
    /// others return [`Error::Incompatible`] and are unchanged.
    fn set_reference(&mut self, mean: &[f32], std: &[f32]) -> Result<()> {
        let _ = (mean, std);
        Err(Error::Incompatible {
            arg: "set_reference",
            reason: "only a Fast RL composer normalises by reference statistics",
        })
    }

    /// The reference statistics `(mean, std)` once set; `None` for a composer without
    /// them.
    fn reference(&self) -> Option<(&[f64], &[f64])> {
        None
    }

    /// The step size of the weight update in effect, for a composer that has one (Fast
    /// RL's eta); `None` otherwise.
    fn step_size(&self) -> Option<f32> {
        None
    }

    /// Eq. (6) as the fused pass applies it: weights on the *raw* rewards written to
    /// `out[..n]`, and a batch-constant offset, so that a response's composite is
    /// `sum_i out_i r_i + offset`. The default is the weights themselves and 0; a
    /// composer on z-scores returns `(w_i / sigma_i, -sum_i w_i mu_i / sigma_i)`
    /// ([`FastRl::composition`](crate::FastRl::composition),
    /// [`OnReference`](crate::OnReference)).
    fn composition(&self, out: &mut [f32]) -> Result<f32> {
        let w = self.weights();
        crate::error::length("out", w.len(), out.len())?;
        out.copy_from_slice(w);
        Ok(0.0)
    }

    /// Per-step diagnostics of the current weights against `reward_means`.
    fn diagnostics(&self, reward_means: &[f32]) -> Result<Diagnostics> {
        Diagnostics::new(self.weights(), reward_means)
    }

    /// Encodes this composer's state (and the KL controller's `beta`, when given) into
    /// `out`, which must hold [`RECORD_LEN`](crate::RECORD_LEN) bytes. Returns the bytes
    /// written.
    fn save_bytes(&self, kl: Option<&KlController>, out: &mut [u8]) -> Result<usize> {
        let mut record = StateRecord::empty(self.kind(), self.num_rewards() as u32);
        self.save(&mut record);
        if let Some(kl) = kl {
            kl.save(&mut record);
        }
        record.encode(out)
    }

    /// Decodes `bytes` and restores this composer (and `kl`, when given). Nothing changes
    /// on error: a truncated, corrupted, wrong-version or wrong-kind record is an error.
    fn restore_bytes(&mut self, kl: Option<&mut KlController>, bytes: &[u8]) -> Result<()> {
        let record = StateRecord::decode(bytes)?;
        record.expect(self.kind(), self.num_rewards())?;
        let mut kl_next = None;
        if let Some(k) = kl.as_deref() {
            let mut copy = *k;
            copy.restore(&record)?;
            kl_next = Some(copy);
        }
        self.restore(&record)?;
        if let (Some(k), Some(next)) = (kl, kl_next) {
            *k = next;
        }
        Ok(())
    }
}

/// Checks a reward-means slice: length `n`, all finite.
pub(crate) fn check_means(reward_means: &[f32], n: usize) -> Result<()> {
    crate::error::length("reward_means", n, reward_means.len())?;
    match reward_means.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            arg: "reward_means",
            index,
        }),
        None => Ok(()),
    }
}
