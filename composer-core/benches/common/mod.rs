//! Benchmark inputs and the baseline the fused pass is measured against.
//!
//! The baseline is the pattern every RLHF framework uses (trl, verl, OpenRLHF): each
//! step is its own pass over the batch, vectorised over rows, and GAE loops over time
//! steps, reading column `t` of every row per step (`values[:, t]`). It is written in
//! plain Rust, so the ratio measures the cost of the pattern (passes, strided columns),
//! not of Python.

use composer_core::{bf16, Storage};

/// A deterministic batch of `n` dense reward channels plus logp, ref_logp, values, mask.
pub struct Batch<T> {
    /// Rows.
    pub batch: usize,
    /// Tokens per row.
    pub len: usize,
    /// `n` dense reward channels, `[batch * len]` each.
    pub rewards: Vec<Vec<T>>,
    /// Composition weights.
    pub weights: Vec<f32>,
    /// Policy log-probs.
    pub logp: Vec<T>,
    /// Reference log-probs.
    pub ref_logp: Vec<T>,
    /// Values.
    pub values: Vec<T>,
    /// Valid-prefix mask; row lengths spread over `[len/2, len]`.
    pub mask: Vec<u8>,
}

/// splitmix64 mapped to `[-1, 1)`.
fn unit(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

impl<T: Storage> Batch<T> {
    /// A batch of `batch x len` tokens with `n` dense channels.
    pub fn new(batch: usize, len: usize, n: usize) -> Self {
        let mut s = 42u64;
        let tokens = batch * len;
        let mut v = |scale: f32, off: f32| -> Vec<T> {
            (0..tokens)
                .map(|_| T::from_f32(off + scale * unit(&mut s)))
                .collect()
        };
        let rewards = (0..n).map(|_| v(1.0, 0.0)).collect();
        let logp = v(1.0, -2.0);
        let ref_logp = v(1.0, -2.0);
        let values = v(0.5, 0.0);
        let mut mask = vec![0u8; tokens];
        for b in 0..batch {
            let l = len / 2 + ((unit(&mut s) + 1.0) * 0.5 * (len / 2) as f32) as usize;
            mask[b * len..b * len + l.clamp(1, len)].fill(1);
        }
        Batch {
            batch,
            len,
            rewards,
            weights: (0..n).map(|i| 1.0 / (i + 1) as f32).collect(),
            logp,
            ref_logp,
            values,
            mask,
        }
    }

    /// Bytes one fused pass moves per token: inputs read once, three f32 outputs written.
    pub fn bytes_per_token(&self) -> usize {
        (self.rewards.len() + 3) * core::mem::size_of::<T>() + 1 + 3 * 4
    }
}

/// Scratch buffers of the baseline (allocated once, outside the timed region).
pub struct Scratch {
    /// Composite reward.
    pub rewards: Vec<f32>,
    /// Advantages.
    pub advantages: Vec<f32>,
    /// Returns.
    pub returns: Vec<f32>,
    /// Float mask, as frameworks keep it.
    pub maskf: Vec<f32>,
}

impl Scratch {
    /// Buffers for `tokens` tokens.
    pub fn new(tokens: usize) -> Self {
        Scratch {
            rewards: vec![0.0; tokens],
            advantages: vec![0.0; tokens],
            returns: vec![0.0; tokens],
            maskf: vec![0.0; tokens],
        }
    }
}

/// The frameworks' multi-pass pattern: compose (one pass per channel), KL penalty (one
/// pass), GAE (a loop over `t`, each step touching column `t` of all rows, verl's masked
/// arithmetic `x*m + (1-m)*y`), returns (one pass), masked whitening (two passes).
pub fn unfused<T: Storage>(b: &Batch<T>, beta: f32, gamma: f32, lam: f32, s: &mut Scratch) {
    let (rows, len) = (b.batch, b.len);
    for (m, &x) in s.maskf.iter_mut().zip(&b.mask) {
        *m = x as f32;
    }
    // compose: r = sum_i w_i r_i, one pass per channel, then * mask
    s.rewards.fill(0.0);
    for (r, &w) in b.rewards.iter().zip(&b.weights) {
        for (o, x) in s.rewards.iter_mut().zip(r) {
            *o += w * x.to_f32();
        }
    }
    for (o, m) in s.rewards.iter_mut().zip(&s.maskf) {
        *o *= m;
    }
    // KL penalty (k1)
    for ((o, lp), rl) in s.rewards.iter_mut().zip(&b.logp).zip(&b.ref_logp) {
        *o -= beta * (lp.to_f32() - rl.to_f32());
    }
    // GAE: loop over time steps, vectorised over rows (strided column access)
    let mut next_v = vec![0.0f32; rows];
    let mut last = vec![0.0f32; rows];
    for t in (0..len).rev() {
        for row in 0..rows {
            let i = row * len + t;
            let m = s.maskf[i];
            let v = b.values[i].to_f32();
            let delta = s.rewards[i] + gamma * next_v[row] - v;
            let a = delta + gamma * lam * last[row];
            next_v[row] = v * m + (1.0 - m) * next_v[row];
            last[row] = a * m + (1.0 - m) * last[row];
            s.advantages[i] = last[row];
        }
    }
    // returns
    for ((r, a), v) in s.returns.iter_mut().zip(&s.advantages).zip(&b.values) {
        *r = a + v.to_f32();
    }
    // masked whitening
    let (mut sum, mut cnt) = (0.0f64, 0.0f64);
    for (a, m) in s.advantages.iter().zip(&s.maskf) {
        sum += (a * m) as f64;
        cnt += *m as f64;
    }
    let mean = sum / cnt.max(1.0);
    let mut ss = 0.0f64;
    for (a, m) in s.advantages.iter().zip(&s.maskf) {
        ss += ((*a as f64 - mean) * (*a as f64 - mean)) * *m as f64;
    }
    let inv = (1.0 / ((ss / (cnt - 1.0).max(1.0)) + 1e-8).sqrt()) as f32;
    for (a, m) in s.advantages.iter_mut().zip(&s.maskf) {
        *a = (*a - mean as f32) * inv * m;
    }
}

/// Keeps `bf16` nameable from the bench without another dependency.
pub type Bf16 = bf16;
