//! The bounded uncertainty set: weights restricted to a KL ball around uniform, and its
//! Bregman projection.
//!
//! **Why.** Eq. (3)'s inner `min_w` ranges over the whole simplex, so its minimiser puts
//! all mass on the worst reward, and Eq. (4) accumulates toward it geometrically: the
//! rule ends optimising the hardest reward alone (and, for a reward the policy cannot
//! move, gives up the others). Distributionally robust optimisation (Namkoong and Duchi,
//! 2016) bounds the adversary instead: the weights live in an f-divergence ball around
//! the uniform distribution `u = 1/n`,
//!
//! ```text
//! W_rho = { w in simplex : KL(w || u) = sum_i w_i ln(n w_i) <= rho }
//! ```
//!
//! `rho = inf` (or any `rho >= ln n`, the largest KL from uniform) is the paper's rule;
//! `rho = 0` pins the weights to uniform.
//!
//! **The projection.** After each exponentiated-gradient step the iterate `v` is replaced
//! by its Bregman (KL) projection `argmin_{w in W_rho} KL(w || v)`. When `v` is inside the
//! ball this is `v` itself (the rule equals plain Eq. (4)). Otherwise the constraint is
//! active; the Lagrangian `KL(w||v) + mu (KL(w||u) - rho) + nu (sum w - 1)` is stationary
//! at `ln(w_i / v_i) + mu ln(n w_i) = const`, i.e.
//!
//! ```text
//! w_i(tau) = v_i^tau / sum_j v_j^tau,        tau = 1 / (1 + mu) in (0, 1)
//! ```
//!
//! a *tempering* of `v` toward uniform. `f(tau) = KL(w(tau) || u)` rises from `f(0) = 0`
//! to `f(1) = KL(v || u) > rho` with `f'(tau) = tau * Var_{w(tau)}(ln v) > 0`, so one
//! `tau` solves `f(tau) = rho`; it is found by Newton's method safeguarded by bisection
//! (two or three iterations when `v` is just outside, the steady state of a run pressed
//! against the boundary). In the dual view this is a softmin of the accumulated signal
//! whose temperature is set so the ball's constraint holds.
//!
//! **What the ball allows.** For `n >= 2` the largest and smallest weights in `W_rho` are
//! the roots of `h(p) = rho` on `[1/n, 1]` and `[0, 1/n]` with
//! `h(p) = p ln(n p) + (1 - p) ln(n (1 - p) / (n - 1))` (one weight `p`, the others equal,
//! which minimises the divergence for a given `p`): [`kl_ball_max_weight`],
//! [`kl_ball_min_weight`]. E.g. `n = 4, rho = 0.1`: every weight stays in
//! `[0.0776, 0.4567]`; `n = 3, rho = 0.1`: `[0.1378, 0.5516]`. The floor is 0 once `rho >= ln(n / (n - 1))`.

use crate::error::Error;
use crate::error::Result;

/// `h(p) = KL(w || u)` for `w = (p, (1-p)/(n-1), ...)`, `n >= 2`.
fn h(n: usize, p: f64) -> f64 {
    let nf = n as f64;
    let xlogx = |x: f64, y: f64| if x > 0.0 { x * libm::log(y) } else { 0.0 };
    xlogx(p, nf * p) + xlogx(1.0 - p, nf * (1.0 - p) / (nf - 1.0))
}

fn check(n: usize, rho: f64) -> Result<()> {
    crate::shape::check_channel_count(n)?;
    if rho.is_nan() || rho < 0.0 {
        return Err(Error::OutOfRange {
            arg: "radius",
            expected: "[0, inf]",
            actual: rho,
        });
    }
    Ok(())
}

/// Bisection for `h(p) = rho` on `[lo, hi]` where `h(lo) <= rho < h(hi)` (`rising`) or
/// `h(lo) > rho >= h(hi)`.
fn solve(n: usize, rho: f64, mut lo: f64, mut hi: f64, rising: bool) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if (h(n, mid) <= rho) == rising {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if rising {
        lo
    } else {
        hi
    }
}

/// The largest weight any reward can have in the KL ball of radius `rho` around uniform
/// over `n` rewards (the module docs' `h(p) = rho` on `[1/n, 1]`); 1 for `n = 1` or
/// `rho >= ln n`.
pub fn kl_ball_max_weight(n: usize, rho: f64) -> Result<f64> {
    check(n, rho)?;
    let nf = n as f64;
    if n == 1 || rho >= libm::log(nf) {
        return Ok(1.0);
    }
    if rho == 0.0 {
        return Ok(1.0 / nf);
    }
    Ok(solve(n, rho, 1.0 / nf, 1.0, true))
}

/// The smallest weight any reward can have in the KL ball of radius `rho` around uniform
/// over `n` rewards: the documented floor of the bounded rule (the module docs' `h(q) =
/// rho` on `[0, 1/n]`); 1 for `n = 1`, 0 once `rho >= ln(n / (n - 1))`.
pub fn kl_ball_min_weight(n: usize, rho: f64) -> Result<f64> {
    check(n, rho)?;
    let nf = n as f64;
    if n == 1 {
        return Ok(1.0);
    }
    if rho >= libm::log(nf / (nf - 1.0)) {
        return Ok(0.0);
    }
    if rho == 0.0 {
        return Ok(1.0 / nf);
    }
    // h falls from h(0) = ln(n/(n-1)) to h(1/n) = 0 on [0, 1/n]: the smallest feasible q
    // is the root, approached from above (feasible side).
    Ok(solve(n, rho, 0.0, 1.0 / nf, false))
}

/// `KL(w || u)` of normalised log-weights (`sum exp = 1`).
pub fn kl_from_uniform(log_w: &[f64]) -> f64 {
    let n = log_w.len() as f64;
    let mut kl = libm::log(n);
    for &l in log_w {
        if l > f64::NEG_INFINITY {
            kl += libm::exp(l) * l;
        }
    }
    kl.max(0.0)
}

/// For `w(tau) = softmax(tau * l)` (`l` normalised log-weights, `max_l` their largest):
/// `(KL(w(tau) || u), f'(tau) = tau * Var_w(l), log Z)` where `Z = sum_i exp(tau (l_i -
/// max_l))`. One `f64` exponential per reward (the `f32` routine's few ulp would blur
/// `f` by about `1e-7` times the spread of `l`, more than the tolerance), accumulated in
/// `f64`: `sum w ln w = sum e a / Z - ln Z` with `a = tau (l - max_l)`.
fn tempered(l: &[f64], max_l: f64, tau: f64) -> (f64, f64, f64) {
    let (mut z, mut e1, mut e2, mut ea) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for &x in l {
        let a = tau * (x - max_l);
        let e = libm::exp(a);
        z += e;
        e1 += e * x;
        e2 += e * x * x;
        ea += e * a;
    }
    let log_z = libm::log(z);
    let mean = e1 / z;
    let var = (e2 / z - mean * mean).max(0.0);
    let n = l.len() as f64;
    ((libm::log(n) + ea / z - log_z).max(0.0), tau * var, log_z)
}

/// Projects normalised log-weights `log_w` (length `n <= MAX_REWARDS`, `sum exp = 1`;
/// `w` their weights) onto the KL ball of radius `rho` around uniform, in place (the
/// module docs' Bregman projection). Returns the tempering exponent `tau` used (1 when
/// `log_w` was inside). On return `KL(w || u) <= rho (1 + 1e-9)`. `KL(w || u) = ln n + sum_i w_i ln w_i` needs no exponential.
pub(crate) fn project(log_w: &mut [f64], w: &[f32], rho: f64) -> f64 {
    let n = log_w.len();
    if n <= 1 {
        return 1.0;
    }
    let mut kl = libm::log(n as f64);
    for i in 0..n {
        if w[i] > 0.0 {
            kl += w[i] as f64 * log_w[i];
        }
    }
    if kl <= rho {
        return 1.0;
    }
    if rho <= 0.0 {
        log_w.fill(-libm::log(n as f64));
        return 0.0;
    }
    let mut l = [0.0f64; crate::shape::MAX_REWARDS];
    l[..n].copy_from_slice(log_w);
    let l = &l[..n];
    let mut max_l = f64::NEG_INFINITY;
    for &x in l {
        max_l = max_l.max(x);
    }
    // f(lo) <= rho < f(hi); Newton, bisection when a step leaves the bracket. Stop
    // within 1e-9 relative of the boundary: `KL(w || u) <= rho (1 + 1e-9)`.
    // First guess from the quadratic model f(tau) ~ tau^2 f(1) (exact near tau = 0,
    // where f = tau^2 Var(l) / 2 + O(tau^3)).
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let mut tau = libm::sqrt(rho / kl);
    let mut best = (0.0f64, libm::log(n as f64)); // (tau, log Z) known feasible
    let tol = 1e-9 * rho;
    for _ in 0..60 {
        let (f, d, log_z) = tempered(l, max_l, tau);
        let g = f - rho;
        if g <= 0.0 {
            lo = tau;
            best = (tau, log_z);
            if -g <= tol {
                break;
            }
        } else {
            hi = tau;
            if g <= tol {
                // Newton approaches from outside: within tolerance of the boundary.
                best = (tau, log_z);
                break;
            }
        }
        let newton = if d > 0.0 { tau - g / d } else { f64::NAN };
        tau = if newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if hi - lo <= 1e-12 {
            break;
        }
    }
    let (tau, log_z) = best;
    for i in 0..n {
        log_w[i] = tau * (l[i] - max_l) - log_z;
    }
    tau
}
