//! Row kernels: the one home of the per-token arithmetic. [`compose`](crate::compose()),
//! [`kl_penalty`](crate::kl_penalty()), [`gae`](crate::gae()) and the fused pass all run
//! these, so the fused pass is bit-identical to the separate functions.
//!
//! Each kernel walks one row held in contiguous slices of equal length (so the compiler
//! drops bounds checks and vectorises the forward loops). The fused pass runs the three
//! kernels back to back on a row while it is in cache: every input is read from memory
//! once.

use crate::error::Error;
use crate::error::Result;
use crate::ops::kl_estimator::KlEstimator;
use crate::ops::prepared::Prepared;
use crate::shape::MaskMode;
use crate::storage::Storage;

/// What a row's mask says: its last valid token, and whether masked tokens sit before it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RowMask {
    pub(crate) last: Option<usize>,
    pub(crate) holes: bool,
}

/// Reads row `row`'s mask; in [`MaskMode::Prefix`] a hole is an error.
pub(crate) fn scan(mask: &[u8], row: usize, mode: MaskMode) -> Result<RowMask> {
    let Some(last) = mask.iter().rposition(|&m| m != 0) else {
        return Ok(RowMask {
            last: None,
            holes: false,
        });
    };
    // A fold, not `any`, so it vectorises; holes are the rare case.
    let holes = !mask[..last].iter().fold(true, |all, &m| all & (m != 0));
    if !holes || mode == MaskMode::Carry {
        return Ok(RowMask {
            last: Some(last),
            holes,
        });
    }
    if let Some(h) = mask[..last].iter().position(|&m| m == 0) {
        let position = mask[h + 1..]
            .iter()
            .position(|&m| m != 0)
            .map_or(last, |p| h + 1 + p);
        return Err(Error::MaskNotPrefix { row, position });
    }
    Ok(RowMask {
        last: Some(last),
        holes,
    })
}

/// Eq. (6) on one row: `out[t] = sum_dense w_i r_i[t] (+ sum_seq w_i r_i[b] at the last
/// valid token)` at valid tokens, 0 at masked ones. `lo` is the row's flat offset.
/// Returns whether every output is finite.
pub(crate) fn compose_row<T: Storage>(
    p: &Prepared<'_, T>,
    b: usize,
    lo: usize,
    mask: &[u8],
    info: RowMask,
    out: &mut [f32],
) -> bool {
    let len = out.len();
    out.fill(0.0);
    for k in 0..p.nd {
        let w = p.dense_w[k];
        for (o, x) in out.iter_mut().zip(&p.dense[k][lo..lo + len]) {
            *o += w * x.to_f32();
        }
    }
    if let Some(l) = info.last {
        if p.ns > 0 {
            out[l] += p.row_sequence(b);
        }
    }
    let mut ok = true;
    for (o, &m) in out.iter_mut().zip(mask) {
        *o = if m != 0 { *o } else { 0.0 };
        ok &= o.is_finite();
    }
    ok
}

/// Lanes of the per-row partial sums: `LANES` independent `f32` accumulators (a vector
/// register's worth), so the loop vectorises instead of serialising on one add. Each
/// lane sums at most `len / LANES` terms; the lanes are added in `f64`.
const LANES: usize = 8;

/// Eq. (7) on one row, in place: `r[t] <- r[t] - beta * kl(logp[t], ref[t])` at valid
/// tokens, 0 at masked ones. Returns `(sum kl, sum r_com, all outputs finite)` over valid
/// tokens.
pub(crate) fn penalize_row<T: Storage>(
    r: &mut [f32],
    logp: &[T],
    ref_logp: &[T],
    mask: &[u8],
    beta: f32,
    est: KlEstimator,
) -> (f64, f64, bool) {
    match est {
        KlEstimator::K1 => penalize_with(r, logp, ref_logp, mask, beta, |a, b| {
            KlEstimator::K1.eval(a, b)
        }),
        KlEstimator::K2 => penalize_with(r, logp, ref_logp, mask, beta, |a, b| {
            KlEstimator::K2.eval(a, b)
        }),
        KlEstimator::K3 => penalize_with(r, logp, ref_logp, mask, beta, |a, b| {
            KlEstimator::K3.eval(a, b)
        }),
        KlEstimator::Abs => penalize_with(r, logp, ref_logp, mask, beta, |a, b| {
            KlEstimator::Abs.eval(a, b)
        }),
    }
}

/// One token of [`penalize_row`]; returns `(k, r_com)` as they enter the sums (0 when masked).
#[inline(always)]
fn penalize_token<T: Storage>(
    r: &mut f32,
    lp: T,
    rl: T,
    m: u8,
    beta: f32,
    kl: &impl Fn(f32, f32) -> f32,
) -> (f32, f32) {
    let k = kl(lp.to_f32(), rl.to_f32());
    let valid = m != 0;
    let com = *r;
    *r = if valid { com - beta * k } else { 0.0 };
    if valid {
        (k, com)
    } else {
        (0.0, 0.0)
    }
}

#[inline(always)]
fn penalize_with<T: Storage>(
    r: &mut [f32],
    logp: &[T],
    ref_logp: &[T],
    mask: &[u8],
    beta: f32,
    kl: impl Fn(f32, f32) -> f32,
) -> (f64, f64, bool) {
    let n = r.len();
    let (logp, ref_logp, mask) = (&logp[..n], &ref_logp[..n], &mask[..n]);
    let mut kacc = [0.0f32; LANES];
    let mut racc = [0.0f32; LANES];
    let mut finite = [true; LANES];
    let body = n - n % LANES;
    let chunks = r[..body]
        .chunks_exact_mut(LANES)
        .zip(logp[..body].chunks_exact(LANES))
        .zip(
            ref_logp[..body]
                .chunks_exact(LANES)
                .zip(mask[..body].chunks_exact(LANES)),
        );
    for ((rc, lc), (fc, mc)) in chunks {
        for j in 0..LANES {
            let (k, com) = penalize_token(&mut rc[j], lc[j], fc[j], mc[j], beta, &kl);
            kacc[j] += k;
            racc[j] += com;
            finite[j] &= rc[j].is_finite();
        }
    }
    let (mut ks, mut rs) = (0.0f64, 0.0f64);
    let mut ok = finite.iter().all(|&f| f);
    for t in body..n {
        let (k, com) = penalize_token(&mut r[t], logp[t], ref_logp[t], mask[t], beta, &kl);
        ks += k as f64;
        rs += com as f64;
        ok &= r[t].is_finite();
    }
    for j in 0..LANES {
        ks += kacc[j] as f64;
        rs += racc[j] as f64;
    }
    (ks, rs, ok)
}

/// Rows whose recursions [`gae_group`] interleaves: independent chains hide the latency
/// of the serial `A_t = delta_t + gamma lambda A_{t+1}` (a multiply then an add).
pub(crate) const GAE_GROUP: usize = 4;

/// The row groups of a batch of `batch` rows: `(first row, rows)`, [`GAE_GROUP`] rows at
/// a time, then the remainder.
pub(crate) fn groups(batch: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..batch)
        .step_by(GAE_GROUP)
        .map(move |b| (b, GAE_GROUP.min(batch - b)))
}

/// GAE and returns (see [`gae`](crate::gae())) on up to [`GAE_GROUP`] consecutive rows
/// of length `len`, held back to back in `r`, `v`, `mask`, `adv`, `ret`; `infos[g]` is row
/// `g`'s mask summary and `gl = gamma * lambda`. Returns the first row (within the
/// group) with a non-finite valid output.
///
/// For a valid-prefix row the recursion is split in three, each token's arithmetic
/// unchanged (`delta = r + gamma * v_next - v`, `A = delta + gl * A_next`, `R = A + v`),
/// so the results are the same bits as the plain backward loop:
/// 1. `delta_t` for every valid `t`, into `adv` (vectorised: no dependency between tokens);
/// 2. `A_t = delta_t + gl * A_{t+1}` in place, the only serial part, interleaved across
///    the group's rows ([`finish_group`]);
/// 3. `R_t = A_t + V_t` (vectorised).
///
/// A row with masked tokens inside (carry mode) takes the plain loop, skipping them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gae_group<R: Storage, T: Storage>(
    len: usize,
    r: &[R],
    v: &[T],
    mask: &[u8],
    infos: &[RowMask],
    gamma: f32,
    gl: f32,
    adv: &mut [f32],
    ret: &mut [f32],
) -> Option<usize> {
    let mut ends = [0usize; GAE_GROUP];
    for (g, info) in infos.iter().enumerate() {
        let span = g * len..(g + 1) * len;
        let (r, v, m) = (&r[span.clone()], &v[span.clone()], &mask[span.clone()]);
        let (a, rt) = (&mut adv[span.clone()], &mut ret[span]);
        match *info {
            RowMask { last: None, .. } => {
                a.fill(0.0);
                rt.fill(0.0);
            }
            RowMask {
                last: Some(last),
                holes: true,
            } => holey_row(r, v, m, last, gamma, gl, a, rt),
            RowMask {
                last: Some(last),
                holes: false,
            } => {
                deltas(&r[..=last], &v[..=last], gamma, &mut a[..=last]);
                a[last + 1..].fill(0.0);
                rt[last + 1..].fill(0.0);
                ends[g] = last + 1;
            }
        }
    }
    finish_group(len, v, &ends[..infos.len()], gl, adv, ret)
}

/// Steps 2 and 3 of [`gae_group`] for rows whose `adv[..ends[g]]` holds `delta` (rows
/// with `ends[g] = 0` are already complete); then checks every output of the group.
pub(crate) fn finish_group<T: Storage>(
    len: usize,
    v: &[T],
    ends: &[usize],
    gl: f32,
    adv: &mut [f32],
    ret: &mut [f32],
) -> Option<usize> {
    let rows = ends.len();
    let top = ends.iter().copied().max().unwrap_or(0).min(len);
    if rows == GAE_GROUP && ends.iter().all(|&e| e > 0) {
        // All rows chain: run them in lockstep from the longest. Past a row's own end its
        // delta is 0 and so is its A (0 + gl * 0), so the extra steps write back zeros.
        let (a0, rest) = adv.split_at_mut(len);
        let (a1, rest) = rest.split_at_mut(len);
        let (a2, a3) = rest.split_at_mut(len);
        let (a0, a1, a2, a3) = (
            &mut a0[..top],
            &mut a1[..top],
            &mut a2[..top],
            &mut a3[..top],
        );
        let (mut n0, mut n1, mut n2, mut n3) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for t in (0..top).rev() {
            n0 = a0[t] + gl * n0;
            n1 = a1[t] + gl * n1;
            n2 = a2[t] + gl * n2;
            n3 = a3[t] + gl * n3;
            a0[t] = n0;
            a1[t] = n1;
            a2[t] = n2;
            a3[t] = n3;
        }
    } else {
        for (g, &end) in ends.iter().enumerate() {
            let mut a_next = 0.0f32;
            for a in adv[g * len..g * len + end].iter_mut().rev() {
                a_next = *a + gl * a_next;
                *a = a_next;
            }
        }
    }
    let mut bad = None;
    for g in (0..rows).rev() {
        let span = g * len..g * len + ends[g];
        returns(&adv[span.clone()], &v[span.clone()], &mut ret[span]);
        let full = g * len..(g + 1) * len;
        if !(all_finite(&adv[full.clone()]) & all_finite(&ret[full])) {
            bad = Some(g);
        }
    }
    bad
}

/// `out[t] = r[t] + gamma * v[t+1] - v[t]`, with `v` past the end taken as 0.
#[inline(always)]
fn deltas<R: Storage, T: Storage>(r: &[R], v: &[T], gamma: f32, out: &mut [f32]) {
    let n = out.len();
    let (r, v) = (&r[..n], &v[..n]);
    for t in 0..n - 1 {
        out[t] = r[t].to_f32() + gamma * v[t + 1].to_f32() - v[t].to_f32();
    }
    out[n - 1] = r[n - 1].to_f32() + gamma * 0.0 - v[n - 1].to_f32();
}

/// `ret[t] = adv[t] + v[t]`.
#[inline(always)]
fn returns<T: Storage>(adv: &[f32], v: &[T], ret: &mut [f32]) {
    for ((o, a), x) in ret.iter_mut().zip(adv).zip(v) {
        *o = a + x.to_f32();
    }
}

/// Whether every value is finite (a fold, so it vectorises).
#[inline(always)]
fn all_finite(x: &[f32]) -> bool {
    x.iter().fold(true, |ok, v| ok & v.is_finite())
}

/// The plain backward loop over a row with masked tokens inside: masked tokens are
/// skipped (written 0) and `V_next`, `A_next` carry across them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn holey_row<R: Storage, T: Storage>(
    r: &[R],
    v: &[T],
    mask: &[u8],
    last: usize,
    gamma: f32,
    gl: f32,
    adv: &mut [f32],
    ret: &mut [f32],
) {
    adv[last + 1..].fill(0.0);
    ret[last + 1..].fill(0.0);
    let (mut v_next, mut a_next) = (0.0f32, 0.0f32);
    for t in (0..=last).rev() {
        if mask[t] == 0 {
            adv[t] = 0.0;
            ret[t] = 0.0;
            continue;
        }
        let vt = v[t].to_f32();
        let delta = r[t].to_f32() + gamma * v_next - vt;
        let a = delta + gl * a_next;
        adv[t] = a;
        ret[t] = a + vt;
        v_next = vt;
        a_next = a;
    }
}
