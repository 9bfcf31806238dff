//! Shared helpers for the integration tests: independent reference implementations
//! written the way the frameworks write them, used as oracles.

/// verl's `compute_gae_advantage_return` loop (carry-forward mask), in `f64`, over one
/// row: the oracle for [`composer_core::gae()`]. Returns `(advantages, returns)` with 0 at
/// masked positions (verl leaves the carried value there; its loss masks it).
pub fn verl_gae_row(
    r: &[f64],
    v: &[f64],
    mask: &[u8],
    gamma: f64,
    lam: f64,
) -> (Vec<f64>, Vec<f64>) {
    let t_len = r.len();
    let (mut next_v, mut last) = (0.0, 0.0);
    let mut adv = vec![0.0; t_len];
    let mut ret = vec![0.0; t_len];
    for t in (0..t_len).rev() {
        let m = if mask[t] != 0 { 1.0 } else { 0.0 };
        let delta = r[t] + gamma * next_v - v[t];
        let a = delta + gamma * lam * last;
        if m == 1.0 {
            next_v = v[t];
            last = a;
            adv[t] = a;
            ret[t] = a + v[t];
        }
    }
    (adv, ret)
}

/// The appendix pseudo-code of the paper, literally: `w_i *= exp(lambda * r_i / temperature)`,
/// then divide by the sum. The oracle for the Fast RL update (with `lambda = -eta`).
pub fn appendix_update(w: &mut [f64], rewards: &[f64], lambda: f64, temperature: f64) {
    let mut frac_base = 0.0;
    for i in 0..w.len() {
        w[i] *= (lambda * rewards[i] / temperature).exp();
        frac_base += w[i];
    }
    for wi in w.iter_mut() {
        *wi /= frac_base;
    }
}
