//! The rewards of one step as the RL step carries them: [`RewardChannel`], the owned twin
//! of composer-core's [`Channel`] (one score per response, or one per response token),
//! their batch means `rbar_i` ([`batch_means`]) and the composer's view of Eq. (6) over
//! them ([`Mix`]).

use crate::error::TrainerError;
use composer_core::{reward_means, Channel, Composer, MaskMode, Shape};

/// One reward's scores of a batch of `B` responses of `R` tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum RewardChannel {
    /// One score per response (`[B]`); it lands on the response's last valid token.
    Sequence(Vec<f32>),
    /// One score per response token (`[B * R]`, a sentence-placed reward: each sentence's
    /// score on its last token); masked positions are ignored.
    Dense(Vec<f32>),
}

impl RewardChannel {
    /// The borrowed form composer-core reads.
    pub fn as_core(&self) -> Channel<'_, f32> {
        match self {
            RewardChannel::Sequence(s) => Channel::Sequence(s),
            RewardChannel::Dense(s) => Channel::Dense(s),
        }
    }

    /// The scores, `[B]` or `[B * R]`.
    pub fn values(&self) -> &[f32] {
        match self {
            RewardChannel::Sequence(s) | RewardChannel::Dense(s) => s,
        }
    }

    /// Whether the channel holds one score per token.
    pub fn is_dense(&self) -> bool {
        matches!(self, RewardChannel::Dense(_))
    }

    /// Each response's value: its sequence-level score, or a dense channel's sum over the
    /// response's valid tokens (`len` tokens per row of `mask`).
    pub fn row_totals(&self, mask: &[u8], len: usize) -> Vec<f32> {
        match self {
            RewardChannel::Sequence(s) => s.clone(),
            RewardChannel::Dense(s) => {
                let len = len.max(1);
                s.chunks(len)
                    .zip(mask.chunks(len))
                    .map(|(row, m)| {
                        row.iter()
                            .zip(m)
                            .filter(|(_, &mi)| mi != 0)
                            .map(|(&x, _)| f64::from(x))
                            .sum::<f64>() as f32
                    })
                    .collect()
            }
        }
    }
}

/// The borrowed channels composer-core reads, in reward order.
pub fn core_channels(channels: &[RewardChannel]) -> Vec<Channel<'_, f32>> {
    channels.iter().map(RewardChannel::as_core).collect()
}

/// Each reward's batch mean `rbar_i` by composer-core's one definition
/// ([`reward_means`]): over the rows with a valid token. A dense (sentence-placed)
/// channel enters as its row sums, so its mean is the mean over rows of the row's total
/// (the mean sentence score), on the scale of the sequence-level form.
pub fn batch_means(
    channels: &[RewardChannel],
    mask: &[u8],
    shape: Shape,
) -> Result<Vec<f32>, TrainerError> {
    let row_sums: Vec<Vec<f32>> = channels
        .iter()
        .map(|c| c.row_totals(mask, shape.len))
        .collect();
    let seq: Vec<Channel<'_, f32>> = row_sums.iter().map(|s| Channel::Sequence(s)).collect();
    let mut out = vec![0.0f32; channels.len()];
    reward_means(&seq, mask, shape, MaskMode::Prefix, &mut out)?;
    Ok(out)
}

/// The fused pass's view of Eq. (6): the reward channels, plus a constant channel
/// holding the composer's offset when it has one (a composer on z-scores), and the
/// composer's raw weights ([`Composer::composition`]), 1 on the offset channel.
#[derive(Debug, PartialEq)]
pub struct Mix {
    /// The channels.
    pub channels: Vec<RewardChannel>,
    /// One weight per channel.
    pub weights: Vec<f32>,
}

impl Mix {
    /// The channels and weights of `composer`'s current composition of `channels`
    /// (`batch` responses).
    pub fn of(
        composer: &dyn Composer,
        channels: &[RewardChannel],
        batch: usize,
    ) -> Result<Mix, TrainerError> {
        let mut weights = vec![0.0f32; channels.len()];
        let offset = composer.composition(&mut weights)?;
        let mut mix = Mix {
            channels: channels.to_vec(),
            weights,
        };
        if offset != 0.0 {
            mix.channels
                .push(RewardChannel::Sequence(vec![offset; batch]));
            mix.weights.push(1.0);
        }
        Ok(mix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RewardChannel::{Dense, Sequence};

    #[test]
    fn a_composer_on_z_scores_composes_them_through_the_offset_channel() {
        use composer_core::{ComposeOn, FastRl, FastRlConfig, Fixed, Normalization, OnReference};
        // Two responses; rewards on very different scales.
        let scores = [vec![0.1f32, 0.3], vec![20.0, 10.0]];
        let channels: Vec<RewardChannel> = scores.iter().cloned().map(Sequence).collect();
        let (mean, std) = ([0.2f32, 15.0], [0.1f32, 5.0]);
        let z = |k: usize, b: usize| (scores[k][b] - mean[k]) / std[k];
        let composite = |m: &Mix, b: usize| -> f32 {
            m.channels
                .iter()
                .zip(&m.weights)
                .map(|(s, w)| w * s.values()[b])
                .sum()
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
            let m = Mix::of(c, &channels, 2).unwrap();
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
        let m = Mix::of(&raw, &channels, 2).unwrap();
        assert_eq!(m.weights, [0.25, 0.75]);
        assert_eq!(m.channels, channels);
    }

    #[test]
    fn batch_means_are_row_means_of_sequence_scores_and_dense_row_sums() {
        // Two rows of length 3, the second with one valid token.
        let mask = [1u8, 1, 1, 1, 0, 0];
        let seq = Sequence(vec![0.25f32, 0.75]);
        let dense = Dense(vec![0.5f32, 0.0, 0.25, 1.0, 9.0, 9.0]);
        assert_eq!(dense.row_totals(&mask, 3), [0.75, 1.0]);
        let m = batch_means(&[seq, dense], &mask, Shape::new(2, 3)).unwrap();
        assert_eq!(m, [0.5, 0.875]);
    }

    #[test]
    fn the_core_view_keeps_each_channel_kind_and_values() {
        let chans = [Sequence(vec![1.0, 2.0]), Dense(vec![3.0; 4])];
        let core = core_channels(&chans);
        assert!(matches!(core[0], Channel::Sequence(s) if s == [1.0, 2.0]));
        assert!(matches!(core[1], Channel::Dense(s) if s.len() == 4));
        assert!(!chans[0].is_dense() && chans[1].is_dense());
    }
}
