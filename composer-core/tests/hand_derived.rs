//! Hand-derived values for each equation. Every expected number is written out from the
//! formula in the comment beside it, not produced by the code under test.

use composer_core::{
    compose, fused_pass, gae, kl_penalty, whiten, Channel, Composer, Constraint, Diagnostics,
    Error, FastRl, FastRlConfig, Fixed, FusedInputs, FusedOutputs, FusedParams, GaeParams,
    KlController, KlEstimator, Lagrangian, LagrangianConfig, MaskMode, Normalization, Shape,
    Smoothing,
};
#[allow(dead_code)]
mod common;
use common::appendix_update;

fn close(a: f32, b: f64, tol: f64) {
    assert!((a as f64 - b).abs() <= tol, "{a} != {b} (tol {tol})");
}

fn fastrl(cfg: FastRlConfig) -> FastRl {
    FastRl::new(2, cfg).unwrap()
}

#[test]
fn eq4_two_rewards_from_uniform() {
    // w1 = e^-1 / (e^-1 + e^-0.3) = 1 / (1 + e^0.7) = 0.331812...
    let mut c = fastrl(FastRlConfig::default());
    let w = c.update(&[1.0, 0.3]).unwrap();
    close(w[0], 1.0 / (1.0 + 0.7f64.exp()), 1e-7);
    close(w[1], 1.0 / (1.0 + (-0.7f64).exp()), 1e-7);
    assert!(w[1] > w[0], "the lagging reward (0.3) gains weight");
    // A second identical step: w1 = 1 / (1 + e^1.4).
    let w = c.update(&[1.0, 0.3]).unwrap();
    close(w[0], 1.0 / (1.0 + 1.4f64.exp()), 1e-7);
}

#[test]
fn eq4_matches_appendix_pseudocode_with_negative_lambda() {
    let eta = 0.7;
    let temperature = 1.5;
    let mut c = FastRl::new(
        3,
        FastRlConfig {
            eta,
            temperature,
            ..Default::default()
        },
    )
    .unwrap();
    let mut w = vec![1.0 / 3.0; 3];
    for means in [[0.2, 0.9, 0.5], [0.4, 0.1, 0.3], [1.0, 1.0, -2.0]] {
        appendix_update(
            &mut w,
            &means.map(|x: f32| x as f64),
            -(eta as f64),
            temperature as f64,
        );
        let got = c.update(&means).unwrap();
        for i in 0..3 {
            close(got[i], w[i], 1e-6);
        }
    }
}

#[test]
fn eq5_bias_temperature_smoothing_floor() {
    // Bias b = [0.5, 0]: w1 = e^(-1+0.5) / (e^(-0.5) + e^(-0.3)) = 1 / (1 + e^0.2).
    let mut c = fastrl(FastRlConfig::default())
        .with_bias(&[0.5, 0.0])
        .unwrap();
    close(
        c.update(&[1.0, 0.3]).unwrap()[0],
        1.0 / (1.0 + 0.2f64.exp()),
        1e-7,
    );
    // Temperature 2: w1 = 1 / (1 + e^0.35).
    let mut c = fastrl(FastRlConfig {
        temperature: 2.0,
        ..Default::default()
    });
    close(
        c.update(&[1.0, 0.3]).unwrap()[0],
        1.0 / (1.0 + 0.35f64.exp()),
        1e-7,
    );
    // EMA decay 0.5: s1 = [1, 0.3], s2 = [0.5*1 + 0.5*0, 0.3]; total logit gap
    // (1 - 0.3) + (0.5 - 0.3) = 0.9: w1 = 1 / (1 + e^0.9).
    let mut c = fastrl(FastRlConfig {
        smoothing: Smoothing::Ema { decay: 0.5 },
        ..Default::default()
    });
    c.update(&[1.0, 0.3]).unwrap();
    close(
        c.update(&[0.0, 0.3]).unwrap()[0],
        1.0 / (1.0 + 0.9f64.exp()),
        1e-7,
    );
    // Clip to [0, 0.5]: s = [0.5, 0.3]: w1 = 1 / (1 + e^0.2).
    let mut c = fastrl(FastRlConfig {
        smoothing: Smoothing::Clip { min: 0.0, max: 0.5 },
        ..Default::default()
    });
    close(
        c.update(&[1.0, 0.3]).unwrap()[0],
        1.0 / (1.0 + 0.2f64.exp()),
        1e-7,
    );
    // Tanh, scale 1: s = [tanh 1, tanh 0.3]: w1 = 1 / (1 + e^(tanh 1 - tanh 0.3)).
    let mut c = fastrl(FastRlConfig {
        smoothing: Smoothing::Tanh { scale: 1.0 },
        ..Default::default()
    });
    let gap = 1.0f64.tanh() - 0.3f64.tanh();
    close(
        c.update(&[1.0, 0.3]).unwrap()[0],
        1.0 / (1.0 + gap.exp()),
        1e-7,
    );
    // Floor 0.2: w = 0.8 * [0.331812, 0.668188] + 0.1.
    let mut c = fastrl(FastRlConfig {
        floor: 0.2,
        ..Default::default()
    });
    let w = c.update(&[1.0, 0.3]).unwrap();
    close(w[0], 0.8 / (1.0 + 0.7f64.exp()) + 0.1, 1e-7);
    close(w[1], 0.8 / (1.0 + (-0.7f64).exp()) + 0.1, 1e-7);
}

#[test]
fn standardize_normalisation() {
    // Step 1: z = 0 (one sample) -> uniform. Step 2: reward 0 saw {1, 0}: mean 0.5,
    // unbiased var 0.5, z = -0.5/sqrt(0.5 + 1e-8); reward 1 saw {0, 0}: z = 0.
    // w1 = 1 / (1 + e^(z))  (the logit of reward 0 gains -z).
    let mut c = fastrl(FastRlConfig {
        normalization: Normalization::Standardize,
        ..Default::default()
    });
    let w = c.update(&[1.0, 0.0]).unwrap();
    close(w[0], 0.5, 1e-7);
    let z = -0.5 / (0.5f64 + 1e-8).sqrt();
    close(
        c.update(&[0.0, 0.0]).unwrap()[0],
        1.0 / (1.0 + z.exp()),
        1e-7,
    );
}

#[test]
fn eq6_composition_sequence_and_dense() {
    // B = 2, T = 3; row 0 has 2 valid tokens, row 1 has 3. w = [0.25, 0.75].
    // Sequence-level r1 = [0.4, 0.8] lands on t = 1 (row 0) and t = 2 (row 1).
    let shape = Shape::new(2, 3);
    let mask = [1, 1, 0, 1, 1, 1];
    let seq = [0.4f32, 0.8];
    let dense = [0.1f32, 0.2, 9.0, 0.3, 0.4, 0.5];
    let ch = [Channel::Sequence(&seq[..]), Channel::Dense(&dense[..])];
    let mut out = [7.0f32; 6];
    compose(&ch, &[0.25, 0.75], &mask, shape, MaskMode::Prefix, &mut out).unwrap();
    let want = [
        0.75 * 0.1,
        0.75 * 0.2 + 0.25 * 0.4,
        0.0,
        0.75 * 0.3,
        0.75 * 0.4,
        0.75 * 0.5 + 0.25 * 0.8,
    ];
    for (o, w) in out.iter().zip(want) {
        close(*o, w, 1e-7);
    }
    // Carry mode: a hole in row 1 at t = 2 moves the sequence score to t = 1.
    let mask = [1, 1, 0, 1, 1, 0];
    compose(&ch, &[0.25, 0.75], &mask, shape, MaskMode::Carry, &mut out).unwrap();
    close(out[4], 0.75 * 0.4 + 0.25 * 0.8, 1e-7);
    close(out[5], 0.0, 0.0);
}

#[test]
fn eq7_kl_estimators_and_penalty() {
    // d = logp - ref = 0.5: k1 = 0.5, k2 = 0.125, k3 = e^-0.5 + 0.5 - 1, abs = 0.5.
    close(KlEstimator::K1.eval(-1.0, -1.5), 0.5, 0.0);
    close(KlEstimator::K2.eval(-1.0, -1.5), 0.125, 0.0);
    close(
        KlEstimator::K3.eval(-1.0, -1.5),
        (-0.5f64).exp() - 0.5,
        1e-7,
    );
    close(KlEstimator::Abs.eval(-1.0, -1.5), 0.5, 0.0);
    // d = -0.5: k3 = e^0.5 - 0.5 - 1, abs = 0.5, k1 = -0.5.
    close(KlEstimator::K3.eval(-1.5, -1.0), 0.5f64.exp() - 1.5, 1e-7);
    close(KlEstimator::Abs.eval(-1.5, -1.0), 0.5, 0.0);
    close(KlEstimator::K1.eval(-1.5, -1.0), -0.5, 0.0);
    // k3 near d = 0 keeps f32 relative precision (no cancellation): with d = 1e-4f32,
    // k3 = d^2/2 - d^3/6 + d^4/24 (series; the next term is below 1e-21).
    let d = 1e-4f32 as f64;
    let k3 = d * d / 2.0 - d * d * d / 6.0 + d * d * d * d / 24.0;
    close(KlEstimator::K3.eval(1e-4, 0.0), k3, k3 * 1e-6);

    // r_exp = r - beta * k2 with beta = 0.2, at valid tokens only.
    let shape = Shape::new(1, 3);
    let r = [1.0f32, 2.0, 3.0];
    let logp = [-1.0f32, -2.0, -3.0];
    let refl = [-1.5f32, -2.0, -1.0];
    let mut out = [0.0f32; 3];
    let s = kl_penalty(
        &r,
        &logp,
        &refl,
        &[1, 1, 0],
        shape,
        MaskMode::Prefix,
        0.2,
        KlEstimator::K2,
        &mut out,
    )
    .unwrap();
    close(out[0], 1.0 - 0.2 * 0.125, 1e-7);
    close(out[1], 2.0, 0.0);
    close(out[2], 0.0, 0.0);
    assert_eq!(s.tokens, 2);
    close(s.mean(), 0.0625, 1e-9);
}

#[test]
fn adaptive_kl_controller() {
    // kl = 9 vs target 6: err = clip(0.5, -0.2, 0.2) = 0.2, K = 64/10000:
    // beta = 0.2 * (1 + 0.2 * 0.0064) = 0.200256.
    let mut k = KlController::adaptive(0.2, 6.0, 10000.0).unwrap();
    close(k.update(9.0, 64).unwrap(), 0.200256, 1e-7);
    // kl = 5.7: err = -0.05: beta *= 1 - 0.05 * 0.0064.
    close(
        k.update(5.7, 64).unwrap(),
        0.200256 * (1.0 - 0.05 * 0.0064),
        1e-7,
    );
    let mut f = KlController::fixed(0.3).unwrap();
    close(f.update(100.0, 64).unwrap(), 0.3, 1e-7);
}

#[test]
fn gae_short_masked_batch() {
    // gamma = lambda = 0.5, so gamma*lambda = 0.25.
    // Row 0, prefix [1, 1, 0], r = [1, 2, x], V = [0.5, 1, x]:
    //   t=1: delta = 2 + 0 - 1 = 1, A = 1, R = 2
    //   t=0: delta = 1 + 0.5*1 - 0.5 = 1, A = 1 + 0.25*1 = 1.25, R = 1.75
    // Row 1, carry [1, 0, 1], r = [1, 100, 3], V = [1, 100, 2]:
    //   t=2: delta = 3 - 2 = 1, A = 1, R = 3
    //   t=1: masked -> 0
    //   t=0: delta = 1 + 0.5*2 - 1 = 1, A = 1 + 0.25*1 = 1.25, R = 2.25
    let shape = Shape::new(2, 3);
    let r = [1.0f32, 2.0, 55.0, 1.0, 100.0, 3.0];
    let v = [0.5f32, 1.0, f32::NAN, 1.0, 100.0, 2.0];
    let mask = [1, 1, 0, 1, 0, 1];
    let p = GaeParams {
        gamma: 0.5,
        lambda: 0.5,
    };
    let (mut a, mut ret) = ([0.0f32; 6], [0.0f32; 6]);
    gae(&r, &v, &mask, shape, MaskMode::Carry, p, &mut a, &mut ret).unwrap();
    assert_eq!(a, [1.25, 1.0, 0.0, 1.25, 0.0, 1.0]);
    assert_eq!(ret, [1.75, 2.0, 0.0, 2.25, 0.0, 3.0]);
    // The same batch in prefix mode is an error naming row 1, position 2.
    let e = gae(&r, &v, &mask, shape, MaskMode::Prefix, p, &mut a, &mut ret).unwrap_err();
    assert_eq!(
        e,
        Error::MaskNotPrefix {
            row: 1,
            position: 2
        }
    );
}

#[test]
fn fused_by_hand() {
    // One row, T = 2, both valid; one sequence channel (w = 1) scoring 1.0; k1 with
    // d = [0.1, 0.2], beta = 0.5; V = [0.0, 0.5]; gamma = 1, lambda = 0.5.
    //   r_exp = [0 - 0.05, 1 - 0.1] = [-0.05, 0.9]
    //   t=1: A = 0.9 - 0.5 = 0.4, R = 0.9
    //   t=0: delta = -0.05 + 0.5 - 0 = 0.45, A = 0.45 + 0.5*0.4 = 0.65, R = 0.65
    let seq = [1.0f32];
    let ch = [Channel::Sequence(&seq[..])];
    let inputs = FusedInputs {
        channels: &ch,
        weights: &[1.0],
        logp: &[-1.0, -1.0],
        ref_logp: &[-1.1, -1.2],
        values: &[0.0, 0.5],
        mask: &[1, 1],
    };
    let params = FusedParams {
        gae: GaeParams {
            gamma: 1.0,
            lambda: 0.5,
        },
        beta: 0.5,
        ..Default::default()
    };
    let (mut r, mut a, mut ret) = ([0.0f32; 2], [0.0f32; 2], [0.0f32; 2]);
    let st = fused_pass(
        &inputs,
        Shape::new(1, 2),
        &params,
        &mut FusedOutputs {
            rewards: &mut r,
            advantages: &mut a,
            returns: &mut ret,
        },
    )
    .unwrap();
    close(r[0], -0.05, 1e-6);
    close(r[1], 0.9, 1e-6);
    close(a[1], 0.4, 1e-6);
    close(a[0], 0.65, 1e-6);
    close(ret[0], 0.65, 1e-6);
    close(ret[1], 0.9, 1e-6);
    assert_eq!(st.valid_tokens, 2);
    close(st.kl_sum as f32, 0.3, 1e-6);
    close(st.reward_sum as f32, 1.0, 1e-7);
}

#[test]
fn whitening_over_valid_tokens_only() {
    // Valid [1, 2, 3]: mean 2, unbiased var 1 -> (x - 2)/sqrt(1 + 1e-8); masked -> 0.
    let mut x = [1.0f32, 100.0, 2.0, 3.0];
    let s = whiten(&mut x, &[1, 0, 1, 1]).unwrap();
    let k = 1.0 / (1.0f64 + 1e-8).sqrt();
    close(x[0], -k, 1e-7);
    close(x[1], 0.0, 0.0);
    close(x[2], 0.0, 1e-7);
    close(x[3], k, 1e-7);
    assert_eq!((s.mean, s.tokens), (2.0, 3));
    // All masked: zeros.
    let mut y = [5.0f32, 6.0];
    whiten(&mut y, &[0, 0]).unwrap();
    assert_eq!(y, [0.0, 0.0]);
}

#[test]
fn baselines_by_hand() {
    // safe-rlhf: threshold 0, lr 0.1, lambda_0 = 1 -> w = [1, -1]/2. Mean cost 2 > 0:
    // log_lambda = 0 + 0.1*2 = 0.2, lambda = e^0.2, w = [1, -e^0.2] / (1 + e^0.2).
    let mut s = Lagrangian::safe_rlhf(0.0, 0.1, 1.0, 100.0).unwrap();
    assert_eq!(s.weights(), &[0.5, -0.5]);
    let l = 0.2f64.exp();
    let w = s.update(&[0.7, 2.0]).unwrap();
    close(w[0], 1.0 / (1.0 + l), 1e-7);
    close(w[1], -l / (1.0 + l), 1e-7);
    // Projected multiplier on `reward 1 >= 0.5`, lr 1: mean 0.2 -> lambda 0.3, w = [1, 0.3];
    // then mean 0.9 -> lambda = max(0.3 - 0.4, 0) = 0, w = [1, 0].
    let mut p = Lagrangian::new(
        &[1.0, 0.0],
        &[Constraint::Free, Constraint::AtLeast(0.5)],
        LagrangianConfig {
            lr: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let w = p.update(&[0.0, 0.2]).unwrap();
    close(w[0], 1.0, 0.0);
    close(w[1], 0.3, 1e-7);
    assert_eq!(p.update(&[0.0, 0.9]).unwrap(), &[1.0, 0.0]);
    // Reward shaping R - 0.5 C and RL4LMs' fixed 0.25 / 0.75.
    assert_eq!(
        Fixed::reward_shaping(0.5)
            .unwrap()
            .update(&[1.0, 1.0])
            .unwrap(),
        &[1.0, -0.5]
    );
    assert_eq!(Fixed::new(&[0.25, 0.75]).unwrap().weights(), &[0.25, 0.75]);
}

#[test]
fn theorem_decomposition_and_paper_bound_counterexample() {
    // r = (1, 0.3), w = (0.25, 0.75): mean 0.65, sd 0.35, composite 0.475,
    // C = (0.65 - 0.475)/0.35 = 0.5; bound sqrt(2)*||(-0.25, 0.25)|| = 0.5.
    let d = Diagnostics::new(&[0.25, 0.75], &[1.0, 0.3]).unwrap();
    close(d.mean, 0.65, 1e-7);
    close(d.disparity, 0.35, 1e-7);
    close(d.composite, 0.475, 1e-7);
    close(d.c, 0.5, 1e-6);
    close(d.c_bound, 0.5, 1e-6);
    assert_eq!((d.min, d.argmin), (0.3, 1));
    // n = 3, r = (1, 0, 0), w = (1, 0, 0): mean 1/3, sd sqrt(2)/3, composite 1,
    // C = (1/3 - 1)/(sqrt(2)/3) = -sqrt(2): |C| = 1.414 > (n+1)/n = 1.333, the paper's
    // Theorem 2 bound, while the corrected bound sqrt(n-1) = sqrt(2) holds with equality.
    let d = Diagnostics::new(&[1.0, 0.0, 0.0], &[1.0, 0.0, 0.0]).unwrap();
    close(d.c, -(2.0f64.sqrt()), 1e-6);
    assert!(d.c.abs() > 4.0 / 3.0);
    close(d.c_bound, 2.0f64.sqrt(), 1e-6);
}

#[test]
fn extreme_inputs_stay_finite_and_on_simplex() {
    let mut c = FastRl::new(
        3,
        FastRlConfig {
            eta: 1e6,
            ..Default::default()
        },
    )
    .unwrap();
    for means in [
        [1e30f32, -1e30, 0.0],
        [-1e30, 1e30, 1e30],
        [f32::MAX, -f32::MAX, 1.0],
    ] {
        let w = c.update(&means).unwrap();
        assert!(w.iter().all(|x| x.is_finite() && *x >= 0.0), "{w:?}");
        assert!((w.iter().sum::<f32>() - 1.0).abs() <= 1e-6, "{w:?}");
    }
    // The most lagging reward of the last step holds all the weight.
    assert_eq!(c.weights()[1], 1.0);
}
