//! The PPO losses of Algorithm 1, lines 12-13, over the valid tokens of a minibatch.
//! `m` is the response mask and `N = max(1, sum m)` the valid-token count; sums run over
//! rows `b` and response positions `t`.

use tch::{Kind, Tensor};

/// Clipped surrogate policy loss (Algorithm 1, line 12, as a loss to minimise):
///
/// ```text
/// rho_t  = exp(log pi_theta(a_t|s_t) - log pi_old(a_t|s_t))
/// L_pi   = (1/N) sum_{b,t} m_{b,t} max(-A_t rho_t, -A_t clip(rho_t, 1 - eps, 1 + eps))
/// ```
///
/// Returns `(L_pi, rho)`. (The paper writes the ratio against `pi_ref`; as in PPO and
/// every implementation, the ratio here is against the policy that sampled the batch,
/// and the reference enters through the KL penalty of Eq. 7.)
pub fn policy_loss(
    new_logp: &Tensor,
    old_logp: &Tensor,
    adv: &Tensor,
    mask: &Tensor,
    denom: &Tensor,
    eps: f64,
) -> (Tensor, Tensor) {
    let ratio = (new_logp - old_logp).exp();
    let pg1 = -adv * &ratio;
    let pg2 = -adv * ratio.clamp(1.0 - eps, 1.0 + eps);
    let pg = (pg1.maximum(&pg2) * mask).sum(Kind::Float) / denom;
    (pg, ratio)
}

/// Clipped value loss (Algorithm 1, line 13, with PPO's value clipping):
///
/// ```text
/// V_clip = V_old + clip(V - V_old, -c, c)
/// L_V    = (1/N) sum_{b,t} m_{b,t} 0.5 max((V - R)^2, (V_clip - R)^2)
/// ```
///
/// `R` are the returns (GAE advantages + old values).
pub fn value_loss(
    new_v: &Tensor,
    old_v: &Tensor,
    returns: &Tensor,
    mask: &Tensor,
    denom: &Tensor,
    c: f64,
) -> Tensor {
    let vclip = old_v + (new_v - old_v).clamp(-c, c);
    let vl = (new_v - returns)
        .square()
        .maximum(&(vclip - returns).square())
        * 0.5;
    (vl * mask).sum(Kind::Float) / denom
}

/// The KL term of the critic-free estimators' loss (verl's `low_var_kl`, Schulman's
/// `k3`), the penalty of Eq. (7) moved from the reward into the loss:
///
/// ```text
/// d_t  = log pi_theta(a_t|s_t) - log pi_ref(a_t|s_t)
/// L_KL = (1/N) sum_{b,t} m_{b,t} (exp(-d_t) + d_t - 1)
/// ```
pub fn kl_loss(new_logp: &Tensor, ref_logp: &Tensor, mask: &Tensor, denom: &Tensor) -> Tensor {
    let d = new_logp - ref_logp;
    let k3 = (-&d).exp() + &d - 1.0;
    (k3 * mask).sum(Kind::Float) / denom
}

/// Fraction of valid tokens where the clipped term is the active one, as trl counts it
/// (`pg_losses2 > pg_losses`): `(1/N) sum m [-A clip(rho, 1 - eps, 1 + eps) > -A rho]`.
/// A ratio outside the range whose clipped term is not the maximum (it moved against
/// the advantage) still has a gradient and is not counted.
pub fn clip_fraction(
    ratio: &Tensor,
    adv: &Tensor,
    mask: &Tensor,
    denom: &Tensor,
    eps: f64,
) -> Tensor {
    let pg1 = -adv * ratio;
    let pg2 = -adv * ratio.clamp(1.0 - eps, 1.0 + eps);
    (pg2.gt_tensor(&pg1).to_kind(Kind::Float) * mask).sum(Kind::Float) / denom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(x: &[f32]) -> Tensor {
        Tensor::from_slice(x).view([1, x.len() as i64])
    }

    #[test]
    fn the_losses_are_their_equations_on_hand_values() {
        // Ratios e^0.5 (clipped to 1.2 for A > 0) and e^-0.5 (clipped to 0.8 for A < 0),
        // and a masked third token.
        // A fourth token's ratio e^0.5 went against its advantage -1: unclipped.
        let (new, old) = (t(&[0.5, -0.5, 3.0, 0.5]), t(&[0.0, 0.0, 0.0, 0.0]));
        let adv = t(&[1.0, -2.0, 5.0, -1.0]);
        let m = t(&[1.0, 1.0, 0.0, 1.0]);
        let n = m.sum(Kind::Float);
        let (pg, ratio) = policy_loss(&new, &old, &adv, &m, &n, 0.2);
        let r0 = 0.5f64.exp();
        let r1 = (-0.5f64).exp();
        let want = ((-r0).max(-1.2) + (2.0 * r1).max(2.0 * 0.8) + r0.max(1.2)) / 3.0;
        assert!((pg.double_value(&[]) - want).abs() < 1e-6, "{pg} vs {want}");
        // trl's count: the clipped term is active on tokens 0 and 1, not on 3 (whose
        // |rho - 1| > eps too: the old count said 3 of 3).
        let cf = clip_fraction(&ratio, &adv, &m, &n, 0.2).double_value(&[]);
        assert!((cf - 2.0 / 3.0).abs() < 1e-6, "{cf}");
        // V moves 0.5 from V_old = 0 with c = 0.2, target 1: max(0.25, 0.64) / 2.
        let vl = value_loss(
            &t(&[0.5]),
            &t(&[0.0]),
            &t(&[1.0]),
            &t(&[1.0]),
            &t(&[1.0]).sum(Kind::Float),
            0.2,
        );
        assert!((vl.double_value(&[]) - 0.32).abs() < 1e-6, "{vl}");
        // k3 of d = 0.5, -0.5 and 0.5 (the masked third token left out).
        let kl = kl_loss(&new, &old, &m, &n).double_value(&[]);
        let k3 = |d: f64| (-d).exp() + d - 1.0;
        let want = (k3(0.5) + k3(-0.5) + k3(0.5)) / 3.0;
        assert!((kl - want).abs() < 1e-6, "{kl} vs {want}");
    }
}
