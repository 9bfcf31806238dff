//! The fused pass's forward kernel for a valid-prefix row: composition (Eq. (6)), KL
//! penalty (Eq. (7)) and the TD error `delta_t` in one loop over the row, with the
//! channel count a compile-time constant so the loop vectorises over `t`.
//!
//! This is the fast specialisation of `compose_row -> penalize_row -> deltas` (`row.rs`):
//! each token's arithmetic is the same expressions in the same order, so results are the
//! same bits; the `fused_equals_separate` property test holds it to that.

use crate::ops::kl_estimator::KlEstimator;
use crate::ops::prepared::Prepared;
use crate::storage::Storage;

/// Per-row outputs of [`forward_row`].
pub(crate) struct RowSums {
    pub(crate) kl: f64,
    pub(crate) reward: f64,
}

/// Runs the forward kernel on tokens `0..=last` of row `b` (flat offset `lo`): writes
/// `r_exp` into `out_r[..=last]` and `delta` into `out_d[..=last]`. Returns `None`
/// (writing nothing) when the batch has more than 8 dense channels; such batches take
/// the row kernels.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_row<T: Storage>(
    p: &Prepared<'_, T>,
    b: usize,
    lo: usize,
    last: usize,
    logp: &[T],
    ref_logp: &[T],
    values: &[T],
    beta: f32,
    gamma: f32,
    est: KlEstimator,
    out_r: &mut [f32],
    out_d: &mut [f32],
) -> Option<RowSums> {
    let seq = (p.ns > 0).then(|| p.row_sequence(b));
    let row = Row {
        lo,
        n: last + 1,
        seq,
        logp,
        ref_logp,
        values,
        beta,
        gamma,
    };
    macro_rules! dispatch_n {
        ($kl:expr) => {
            match p.nd {
                0 => row.run::<0>(p, $kl, out_r, out_d),
                1 => row.run::<1>(p, $kl, out_r, out_d),
                2 => row.run::<2>(p, $kl, out_r, out_d),
                3 => row.run::<3>(p, $kl, out_r, out_d),
                4 => row.run::<4>(p, $kl, out_r, out_d),
                5 => row.run::<5>(p, $kl, out_r, out_d),
                6 => row.run::<6>(p, $kl, out_r, out_d),
                7 => row.run::<7>(p, $kl, out_r, out_d),
                8 => row.run::<8>(p, $kl, out_r, out_d),
                _ => return None,
            }
        };
    }
    Some(match est {
        KlEstimator::K1 => dispatch_n!(|a, b| KlEstimator::K1.eval(a, b)),
        KlEstimator::K2 => dispatch_n!(|a, b| KlEstimator::K2.eval(a, b)),
        KlEstimator::K3 => dispatch_n!(|a, b| KlEstimator::K3.eval(a, b)),
        KlEstimator::Abs => dispatch_n!(|a, b| KlEstimator::Abs.eval(a, b)),
    })
}

/// One row's inputs (already cut to the row) and scalars.
struct Row<'a, T> {
    lo: usize,
    n: usize,
    seq: Option<f32>,
    logp: &'a [T],
    ref_logp: &'a [T],
    values: &'a [T],
    beta: f32,
    gamma: f32,
}

const LANES: usize = 8;

impl<T: Storage> Row<'_, T> {
    #[inline(always)]
    fn run<const N: usize>(
        &self,
        p: &Prepared<'_, T>,
        kl: impl Fn(f32, f32) -> f32,
        out_r: &mut [f32],
        out_d: &mut [f32],
    ) -> RowSums {
        let n = self.n;
        let dense: [&[T]; N] = core::array::from_fn(|k| &p.dense[k][self.lo..self.lo + n]);
        let w: [f32; N] = core::array::from_fn(|k| p.dense_w[k]);
        let (logp, ref_logp, v) = (&self.logp[..n], &self.ref_logp[..n], &self.values[..n]);
        let (out_r, out_d) = (&mut out_r[..n], &mut out_d[..n]);
        let mut kacc = [0.0f32; LANES];
        let mut racc = [0.0f32; LANES];
        let x = Token {
            dense,
            w,
            logp,
            ref_logp,
            v,
            beta: self.beta,
            gamma: self.gamma,
        };
        let token =
            |t: usize, v_next: f32, extra: Option<f32>, out_r: &mut [f32], out_d: &mut [f32]| {
                x.eval(&kl, t, v_next, extra, out_r, out_d)
            };
        let inner = n - 1;
        let body = inner - inner % LANES;
        // Whole chunks, written a lane array at a time so the compiler vectorises them.
        for c in (0..body).step_by(LANES) {
            let mut acc = [0.0f32; LANES];
            for k in 0..N {
                let d = &x.dense[k][c..c + LANES];
                for j in 0..LANES {
                    acc[j] += x.w[k] * d[j].to_f32();
                }
            }
            let (lp, rl) = (&x.logp[c..c + LANES], &x.ref_logp[c..c + LANES]);
            let (vt, vn) = (&x.v[c..c + LANES], &x.v[c + 1..c + 1 + LANES]);
            let (or, od) = (&mut out_r[c..c + LANES], &mut out_d[c..c + LANES]);
            for j in 0..LANES {
                let k = kl(lp[j].to_f32(), rl[j].to_f32());
                let r = acc[j] - x.beta * k;
                or[j] = r;
                od[j] = r + x.gamma * vn[j].to_f32() - vt[j].to_f32();
                kacc[j] += k;
                racc[j] += acc[j];
            }
        }
        let (mut ks, mut rs) = (0.0f64, 0.0f64);
        for t in body..inner {
            let (k, com) = token(t, v[t + 1].to_f32(), None, out_r, out_d);
            ks += k as f64;
            rs += com as f64;
        }
        let (k, com) = token(inner, 0.0, self.seq, out_r, out_d);
        ks += k as f64;
        rs += com as f64;
        for j in 0..LANES {
            ks += kacc[j] as f64;
            rs += racc[j] as f64;
        }
        RowSums { kl: ks, reward: rs }
    }
}

/// The inputs one token reads, cut to the row.
struct Token<'a, T, const N: usize> {
    dense: [&'a [T]; N],
    w: [f32; N],
    logp: &'a [T],
    ref_logp: &'a [T],
    v: &'a [T],
    beta: f32,
    gamma: f32,
}

impl<T: Storage, const N: usize> Token<'_, T, N> {
    /// One token: composite (dense channels from 0.0, in channel order, then `extra`,
    /// the sequence-level sum at the last token), penalty, delta. Returns `(kl, r_com)`.
    /// The chunked loop in [`Row::run`] spells out the same expressions lane-wise.
    #[inline(always)]
    fn eval(
        &self,
        kl: &impl Fn(f32, f32) -> f32,
        t: usize,
        v_next: f32,
        extra: Option<f32>,
        out_r: &mut [f32],
        out_d: &mut [f32],
    ) -> (f32, f32) {
        let mut acc = 0.0f32;
        for k in 0..N {
            acc += self.w[k] * self.dense[k][t].to_f32();
        }
        if let Some(s) = extra {
            acc += s;
        }
        let k = kl(self.logp[t].to_f32(), self.ref_logp[t].to_f32());
        let r = acc - self.beta * k;
        out_r[t] = r;
        out_d[t] = r + self.gamma * v_next - self.v[t].to_f32();
        (k, acc)
    }
}
