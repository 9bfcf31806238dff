//! Invariants, checked with proptest over random shapes, masks, channel mixes and
//! configurations. Failures persist in `composer-core/tests/proptest-regressions/` (committed).

use composer_core::{
    bf16, compose, fused_pass, gae, kl_penalty, Channel, Composer, Constraint, Diagnostics, FastRl,
    FastRlConfig, FusedInputs, FusedOutputs, FusedParams, GaeParams, KlController, KlEstimator,
    Lagrangian, LagrangianConfig, MaskMode, Normalization, Shape, Smoothing, Squash, StateRecord,
    Storage, UpdateRule, RECORD_LEN,
};
#[allow(dead_code)]
mod common;
use common::verl_gae_row;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// A random batch with `n` reward channels, each sequence-level or dense.
#[derive(Clone, Debug)]
struct Batch {
    shape: Shape,
    dense: Vec<bool>,
    rewards: Vec<Vec<f32>>,
    weights: Vec<f32>,
    logp: Vec<f32>,
    ref_logp: Vec<f32>,
    values: Vec<f32>,
    mask: Vec<u8>,
    mode: MaskMode,
}

impl Batch {
    fn channels<'a, T: Storage>(&self, r: &'a [Vec<T>]) -> Vec<Channel<'a, T>> {
        r.iter()
            .zip(&self.dense)
            .map(|(x, &d)| {
                if d {
                    Channel::Dense(&x[..])
                } else {
                    Channel::Sequence(&x[..])
                }
            })
            .collect()
    }
}

fn batch_strategy(max_b: usize, max_t: usize) -> impl Strategy<Value = Batch> {
    (1usize..=max_b, 1usize..=max_t, 1usize..=8, any::<bool>()).prop_flat_map(
        move |(b, t, n, carry)| {
            let tokens = b * t;
            let mask = if carry {
                prop::collection::vec(prop::bool::weighted(0.7).prop_map(u8::from), tokens).boxed()
            } else {
                prop::collection::vec(0..=t, b)
                    .prop_map(move |lens| {
                        let mut m = vec![0u8; b * t];
                        for (row, &l) in lens.iter().enumerate() {
                            m[row * t..row * t + l].fill(1);
                        }
                        m
                    })
                    .boxed()
            };
            (
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec(-2.0f32..2.0, n),
                prop::collection::vec(prop::collection::vec(-5.0f32..5.0, tokens), n),
                prop::collection::vec(-8.0f32..0.0, tokens),
                prop::collection::vec(-8.0f32..0.0, tokens),
                prop::collection::vec(-5.0f32..5.0, tokens),
                mask,
            )
                .prop_map(
                    move |(dense, weights, mut rewards, logp, ref_logp, values, mask)| {
                        for (r, &d) in rewards.iter_mut().zip(&dense) {
                            if !d {
                                r.truncate(b);
                            }
                        }
                        Batch {
                            shape: Shape::new(b, t),
                            dense,
                            rewards,
                            weights,
                            logp,
                            ref_logp,
                            values,
                            mask,
                            mode: if carry {
                                MaskMode::Carry
                            } else {
                                MaskMode::Prefix
                            },
                        }
                    },
                )
        },
    )
}

fn estimator() -> impl Strategy<Value = KlEstimator> {
    prop_oneof![
        Just(KlEstimator::K1),
        Just(KlEstimator::K2),
        Just(KlEstimator::K3),
        Just(KlEstimator::Abs)
    ]
}

fn fastrl_config() -> impl Strategy<Value = FastRlConfig> {
    let smoothing = prop_oneof![
        Just(Smoothing::None),
        (0.0f32..0.99).prop_map(|decay| Smoothing::Ema { decay }),
        (-1.0f32..0.0, 0.0f32..1.0).prop_map(|(min, max)| Smoothing::Clip { min, max }),
        (0.1f32..5.0).prop_map(|scale| Smoothing::Tanh { scale }),
    ];
    let norm = prop_oneof![Just(Normalization::None), Just(Normalization::Standardize)];
    (
        prop_oneof![0.0f32..10.0, Just(1e6f32)],
        0.05f32..10.0,
        smoothing,
        norm,
        prop_oneof![Just(0.0f32), 0.0f32..0.5],
        (
            prop_oneof![Just(f32::INFINITY), 0.0f32..1.0],
            prop_oneof![Just(UpdateRule::Plain), Just(UpdateRule::Optimistic)],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(eta, temperature, smoothing, normalization, floor, (radius, rule, averaging))| {
                FastRlConfig {
                    eta,
                    temperature,
                    smoothing,
                    normalization,
                    floor,
                    radius,
                    rule,
                    averaging,
                    ..FastRlConfig::default()
                }
            },
        )
}

fn means(n: usize, steps: usize) -> impl Strategy<Value = Vec<Vec<f32>>> {
    let x = prop_oneof![8 => -10.0f32..10.0, 1 => Just(1e30f32), 1 => Just(-1e30f32)];
    prop::collection::vec(prop::collection::vec(x, n), 1..=steps)
}

struct Out {
    r: Vec<f32>,
    a: Vec<f32>,
    ret: Vec<f32>,
}

fn run_fused<T: Storage>(
    bt: &Batch,
    rewards: &[Vec<T>],
    logp: &[T],
    refl: &[T],
    values: &[T],
    p: &FusedParams,
) -> Out {
    let n = bt.mask.len();
    let mut o = Out {
        r: vec![f32::NAN; n],
        a: vec![f32::NAN; n],
        ret: vec![f32::NAN; n],
    };
    let ch = bt.channels(rewards);
    let inputs = FusedInputs {
        channels: &ch,
        weights: &bt.weights,
        logp,
        ref_logp: refl,
        values,
        mask: &bt.mask,
    };
    fused_pass(
        &inputs,
        bt.shape,
        p,
        &mut FusedOutputs {
            rewards: &mut o.r,
            advantages: &mut o.a,
            returns: &mut o.ret,
        },
    )
    .unwrap();
    o
}

fn params(bt: &Batch, gamma: f32, lambda: f32, beta: f32, estimator: KlEstimator) -> FusedParams {
    FusedParams {
        gae: GaeParams { gamma, lambda },
        beta,
        estimator,
        mode: bt.mode,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Relative to the package directory (composer-core/).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("tests/proptest-regressions/invariants.txt"))),
        ..ProptestConfig::default()
    })]

    /// Weights stay on the simplex for any configuration and any finite means,
    /// including +/-1e30 and eta = 1e6.
    #[test]
    fn weights_on_simplex(n in 1usize..=16, cfg in fastrl_config(), seq in means(16, 12)) {
        let mut c = FastRl::new(n, cfg).unwrap();
        for m in &seq {
            let w = c.update(&m[..n]).unwrap();
            prop_assert!(w.iter().all(|x| x.is_finite() && *x >= 0.0), "{w:?}");
            let s: f64 = w.iter().map(|&x| x as f64).sum();
            prop_assert!((s - 1.0).abs() <= 1e-6, "sum {s}, {w:?}");
        }
    }

    /// Adding a constant to every reward leaves the update unchanged (no smoothing, EMA,
    /// or standardisation; clipping and tanh are deliberately not shift-invariant).
    #[test]
    // Means are multiples of 1/8 and the shift an integer, so `m + c0` is exact in f32:
    // the property is about the update, not about rounding of the shifted inputs.
    fn shift_invariance(n in 1usize..=8, eta in 0.0f32..5.0, c0 in (-50i32..50).prop_map(|c| c as f32),
                        kind in 0..3, seq in prop::collection::vec(prop::collection::vec((-24i32..24).prop_map(|q| q as f32 / 8.0), 8), 1..6)) {
        let smoothing = if kind == 1 { Smoothing::Ema { decay: 0.7 } } else { Smoothing::None };
        let normalization = if kind == 2 { Normalization::Standardize } else { Normalization::None };
        let cfg = FastRlConfig { eta, smoothing, normalization, ..Default::default() };
        let (mut a, mut b) = (FastRl::new(n, cfg).unwrap(), FastRl::new(n, cfg).unwrap());
        for m in &seq {
            let shifted: Vec<f32> = m[..n].iter().map(|x| x + c0).collect();
            let wa = a.update(&m[..n]).unwrap().to_vec();
            let wb = b.update(&shifted).unwrap();
            for (x, y) in wa.iter().zip(wb) {
                prop_assert!((x - y).abs() <= 2e-5, "{wa:?} vs {wb:?}");
            }
        }
    }

    /// With zero bias, no smoothing and no floor, the lowest reward's weight never falls.
    #[test]
    fn lowest_reward_weight_never_falls(n in 2usize..=16, eta in 0.0f32..20.0, seq in means(16, 10)) {
        let mut c = FastRl::new(n, FastRlConfig { eta, ..Default::default() }).unwrap();
        for m in &seq {
            let before = c.weights().to_vec();
            let m = &m[..n];
            let lo = (0..n).min_by(|&i, &j| m[i].total_cmp(&m[j])).unwrap();
            let w = c.update(m).unwrap();
            prop_assert!(w[lo] as f64 >= before[lo] as f64 * (1.0 - 1e-6), "{} -> {}", before[lo], w[lo]);
        }
    }

    /// k2 and k3 are non-negative for any finite log-probs; k1 is antisymmetric.
    #[test]
    fn kl_estimators_sign(a in -1e3f32..1e3, b in -1e3f32..1e3) {
        prop_assert!(KlEstimator::K2.eval(a, b) >= 0.0);
        prop_assert!(KlEstimator::K3.eval(a, b) >= 0.0);
        prop_assert!(KlEstimator::Abs.eval(a, b) >= 0.0);
        prop_assert_eq!(KlEstimator::K1.eval(a, b), -KlEstimator::K1.eval(b, a));
    }

    /// GAE equals verl's loop (carry-forward mask) computed independently in f64.
    #[test]
    fn gae_matches_verl_loop(bt in batch_strategy(6, 40), gamma in 0.0f32..=1.0, lambda in 0.0f32..=1.0) {
        let (b, t) = (bt.shape.batch, bt.shape.len);
        let r = &bt.logp; // any per-token array serves as rewards here
        let (mut a, mut ret) = (vec![0.0; b * t], vec![0.0; b * t]);
        gae(r, &bt.values, &bt.mask, bt.shape, bt.mode, GaeParams { gamma, lambda }, &mut a, &mut ret).unwrap();
        for row in 0..b {
            let s = row * t..(row + 1) * t;
            let f = |x: &[f32]| x[s.clone()].iter().map(|&v| v as f64).collect::<Vec<_>>();
            let (ea, er) = verl_gae_row(&f(r), &f(&bt.values), &bt.mask[s.clone()], gamma as f64, lambda as f64);
            for k in 0..t {
                let scale = 1.0 + ea[k].abs() + (t as f64) * 8.0;
                prop_assert!((a[s.start + k] as f64 - ea[k]).abs() <= 1e-5 * scale, "A {} vs {}", a[s.start + k], ea[k]);
                prop_assert!((ret[s.start + k] as f64 - er[k]).abs() <= 1e-5 * scale);
            }
        }
    }

    /// lambda = 0: A_t = delta_t = r_t + gamma V_{t'} - V_t (t' = next valid token).
    #[test]
    fn gae_lambda_zero_is_td_error(bt in batch_strategy(5, 30), gamma in 0.0f32..=1.0) {
        let (b, t) = (bt.shape.batch, bt.shape.len);
        let r = &bt.ref_logp;
        let (mut a, mut ret) = (vec![0.0; b * t], vec![0.0; b * t]);
        gae(r, &bt.values, &bt.mask, bt.shape, bt.mode, GaeParams { gamma, lambda: 0.0 }, &mut a, &mut ret).unwrap();
        for row in 0..b {
            let mut v_next = 0.0f32;
            for k in (row * t..(row + 1) * t).rev() {
                if bt.mask[k] == 0 { prop_assert_eq!(a[k], 0.0); continue; }
                let delta = r[k] + gamma * v_next - bt.values[k];
                prop_assert!((a[k] - delta).abs() <= 1e-6 * (1.0 + delta.abs()));
                v_next = bt.values[k];
            }
        }
    }

    /// gamma = lambda = 1: A_t = (sum of rewards from t on) - V_t; returns = reward-to-go.
    #[test]
    fn gae_gamma_lambda_one_is_reward_to_go(bt in batch_strategy(5, 30)) {
        let (b, t) = (bt.shape.batch, bt.shape.len);
        let r = &bt.logp;
        let (mut a, mut ret) = (vec![0.0; b * t], vec![0.0; b * t]);
        gae(r, &bt.values, &bt.mask, bt.shape, bt.mode, GaeParams { gamma: 1.0, lambda: 1.0 }, &mut a, &mut ret).unwrap();
        for row in 0..b {
            let mut togo = 0.0f64;
            for k in (row * t..(row + 1) * t).rev() {
                if bt.mask[k] == 0 { continue; }
                togo += r[k] as f64;
                let tol = 1e-5 * (8.0 * t as f64 + 10.0);
                prop_assert!((a[k] as f64 - (togo - bt.values[k] as f64)).abs() <= tol);
                prop_assert!((ret[k] as f64 - togo).abs() <= tol);
            }
        }
    }

    /// Whatever sits under masked positions (including NaN) does not change any output.
    #[test]
    fn masked_inputs_do_not_leak(bt in batch_strategy(5, 30), junk in prop_oneof![Just(f32::NAN), Just(1e30f32), -100.0f32..100.0],
                                 est in estimator()) {
        let p = params(&bt, 0.99, 0.95, 0.1, est);
        let clean = run_fused(&bt, &bt.rewards, &bt.logp, &bt.ref_logp, &bt.values, &p);
        let dirty = |x: &[f32]| x.iter().zip(&bt.mask).map(|(&v, &m)| if m == 0 { junk } else { v }).collect::<Vec<_>>();
        let rewards: Vec<Vec<f32>> = bt.rewards.iter().zip(&bt.dense).map(|(r, &d)| if d { dirty(r) } else { r.clone() }).collect();
        let got = run_fused(&bt, &rewards, &dirty(&bt.logp), &dirty(&bt.ref_logp), &dirty(&bt.values), &p);
        prop_assert_eq!(clean.a, got.a);
        prop_assert_eq!(clean.ret, got.ret);
        prop_assert_eq!(clean.r, got.r);
    }

    /// The fused pass equals compose -> kl_penalty -> gae, bit for bit.
    #[test]
    fn fused_equals_separate(bt in batch_strategy(6, 40), est in estimator(), beta in 0.0f32..1.0,
                             gamma in 0.0f32..=1.0, lambda in 0.0f32..=1.0) {
        let p = params(&bt, gamma, lambda, beta, est);
        let fused = run_fused(&bt, &bt.rewards, &bt.logp, &bt.ref_logp, &bt.values, &p);
        let n = bt.mask.len();
        let ch = bt.channels(&bt.rewards);
        let (mut com, mut pen, mut a, mut ret) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        compose(&ch, &bt.weights, &bt.mask, bt.shape, bt.mode, &mut com).unwrap();
        kl_penalty(&com, &bt.logp, &bt.ref_logp, &bt.mask, bt.shape, bt.mode, beta, est, &mut pen).unwrap();
        gae(&pen, &bt.values, &bt.mask, bt.shape, bt.mode, p.gae, &mut a, &mut ret).unwrap();
        prop_assert_eq!(fused.r, pen);
        prop_assert_eq!(fused.a, a);
        prop_assert_eq!(fused.ret, ret);
    }

    /// Prefix and carry semantics agree when the only masked tokens are trailing padding.
    #[test]
    fn prefix_and_carry_agree_on_trailing_padding(mut bt in batch_strategy(5, 30), est in estimator()) {
        if bt.mode == MaskMode::Carry { return Ok(()); }
        let a = run_fused(&bt, &bt.rewards, &bt.logp, &bt.ref_logp, &bt.values, &params(&bt, 0.9, 0.8, 0.2, est));
        bt.mode = MaskMode::Carry;
        let b = run_fused(&bt, &bt.rewards, &bt.logp, &bt.ref_logp, &bt.values, &params(&bt, 0.9, 0.8, 0.2, est));
        prop_assert_eq!(a.a, b.a);
        prop_assert_eq!(a.ret, b.ret);
    }

    /// bf16 storage: (1) exactly the f32 path on the widened values; (2) against the f32
    /// path on the unrounded values, within the documented bound for k1/abs:
    /// |dA_t| <= 2^-8 * M_t, M_t = sum_k (gamma lambda)^k (sum_i |w_i||r_i| + beta(|logp| + |ref|)
    /// + gamma |V_next| + |V|) over the valid tokens from t on (2^-9 per rounded input, doubled
    /// to cover f32 arithmetic).
    #[test]
    fn bf16_within_bound(bt in batch_strategy(5, 40), abs in any::<bool>(), gamma in 0.0f32..=1.0, lambda in 0.0f32..=1.0) {
        let est = if abs { KlEstimator::Abs } else { KlEstimator::K1 };
        let beta = 0.3;
        let p = params(&bt, gamma, lambda, beta, est);
        let h = |x: &[f32]| x.iter().map(|&v| bf16::from_f32(v)).collect::<Vec<_>>();
        let w = |x: &[bf16]| x.iter().map(|v| v.to_f32()).collect::<Vec<_>>();
        let rb: Vec<Vec<bf16>> = bt.rewards.iter().map(|r| h(r)).collect();
        let (lb, fb, vb) = (h(&bt.logp), h(&bt.ref_logp), h(&bt.values));
        let low = run_fused(&bt, &rb, &lb, &fb, &vb, &p);
        let widened: Vec<Vec<f32>> = rb.iter().map(|r| w(r)).collect();
        let exact = run_fused(&bt, &widened, &w(&lb), &w(&fb), &w(&vb), &p);
        prop_assert_eq!(&low.a, &exact.a);
        prop_assert_eq!(&low.ret, &exact.ret);
        let full = run_fused(&bt, &bt.rewards, &bt.logp, &bt.ref_logp, &bt.values, &p);
        let (b, t) = (bt.shape.batch, bt.shape.len);
        let gl = (gamma * lambda) as f64;
        for row in 0..b {
            let last = (0..t).rev().find(|&k| bt.mask[row * t + k] != 0);
            let (mut m_next, mut v_next) = (0.0f64, 0.0f64);
            for k in (0..t).rev() {
                let i = row * t + k;
                if bt.mask[i] == 0 { continue; }
                let mut mag = beta as f64 * (bt.logp[i].abs() + bt.ref_logp[i].abs()) as f64;
                for (c, (&d, &wi)) in bt.rewards.iter().zip(bt.dense.iter().zip(&bt.weights)) {
                    if d { mag += (wi.abs() * c[i].abs()) as f64; }
                    else if Some(k) == last { mag += (wi.abs() * c[row].abs()) as f64; }
                }
                let v = bt.values[i].abs() as f64;
                let m = mag + gamma as f64 * v_next + v + gl * m_next;
                let bound = m / 256.0 + 1e-6;
                prop_assert!((low.a[i] - full.a[i]).abs() as f64 <= bound, "A {} vs {} bound {}", low.a[i], full.a[i], bound);
                prop_assert!((low.ret[i] - full.ret[i]).abs() as f64 <= bound + v / 256.0);
                m_next = m;
                v_next = v;
            }
        }
    }

    /// Save -> restore -> the next update is identical, for every composer and the KL controller.
    #[test]
    fn state_round_trip(n in 1usize..=8, cfg in fastrl_config(), seq in means(8, 6), next in prop::collection::vec(-5.0f32..5.0, 8),
                        which in 0..3, kl_mean in 0.0f32..2.0) {
        let make = || -> Box<dyn Composer> {
            match which {
                0 => Box::new(FastRl::new(n, cfg).unwrap()),
                1 => {
                    let cons: Vec<Constraint> = (0..n).map(|i| if i % 2 == 0 { Constraint::AtLeast(0.5) } else { Constraint::AtMost(1.0) }).collect();
                    Box::new(Lagrangian::new(&vec![0.5; n], &cons, LagrangianConfig { lr: 0.3, squash: Squash::Sigmoid, init: 1.0, max_multiplier: 10.0, normalize: true }).unwrap())
                }
                _ => Box::new(composer_core::Fixed::new(&vec![0.25; n]).unwrap()),
            }
        };
        let mut a = make();
        let mut kl_a = KlController::adaptive(0.2, 0.5, 100.0).unwrap();
        for m in &seq {
            a.update(&m[..n]).unwrap();
            kl_a.update(kl_mean, 16).unwrap();
        }
        let mut buf = [0u8; RECORD_LEN];
        a.save_bytes(Some(&kl_a), &mut buf).unwrap();
        let mut b = make();
        let mut kl_b = KlController::adaptive(1.0, 0.5, 100.0).unwrap();
        b.restore_bytes(Some(&mut kl_b), &buf).unwrap();
        prop_assert_eq!(a.steps(), b.steps());
        prop_assert_eq!(kl_a, kl_b);
        prop_assert_eq!(a.update(&next[..n]).unwrap(), b.update(&next[..n]).unwrap());
    }

    /// Any single corrupted byte of a record is detected (never a silent default).
    #[test]
    fn corrupted_record_detected(n in 1usize..=8, pos in 0usize..RECORD_LEN, flip in 1u8..=255) {
        let mut c = FastRl::new(n, FastRlConfig::default()).unwrap();
        c.update(&vec![0.5; n]).unwrap();
        let mut buf = [0u8; RECORD_LEN];
        c.save_bytes(None, &mut buf).unwrap();
        buf[pos] ^= flip;
        prop_assert!(StateRecord::decode(&buf).is_err());
        let before = c.weights().to_vec();
        prop_assert!(c.restore_bytes(None, &buf).is_err());
        prop_assert_eq!(before, c.weights());
    }

    /// Decoding arbitrary bytes never panics.
    #[test]
    fn decode_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..800)) {
        let _ = StateRecord::decode(&bytes);
    }

    /// Theorems 1-2: composite = mean - C * disparity with |C| <= sqrt(n)||w - 1/n|| <= sqrt(n-1)
    /// for Fast RL's weights; the paper's (n+1)/n bound holds for n = 2.
    #[test]
    fn theorem_bound_holds(n in 1usize..=16, cfg in fastrl_config(), seq in means(16, 6), probe in prop::collection::vec(-10.0f32..10.0, 16)) {
        let mut c = FastRl::new(n, cfg).unwrap();
        for m in &seq { c.update(&m[..n]).unwrap(); }
        let d = Diagnostics::new(c.weights(), &probe[..n]).unwrap();
        prop_assert!(((d.mean - d.c * d.disparity) - d.composite).abs() <= 1e-4 * (1.0 + d.mean.abs() + d.disparity));
        prop_assert!(d.c.abs() <= d.c_bound * (1.0 + 1e-4) + 1e-4, "C {} bound {}", d.c, d.c_bound);
        prop_assert!(d.c_bound <= ((n - 1) as f32).sqrt() + 1e-4);
        if n == 2 { prop_assert!(d.c.abs() <= 1.5 + 1e-4); }
    }

    /// Random (including non-finite and huge) inputs never panic, and an Ok result holds
    /// only finite values.
    #[test]
    fn no_panic_no_nonfinite_output(bt in batch_strategy(4, 12), est in estimator(),
                                    junk in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(1e30f32), Just(-3e38f32), Just(0.0f32)],
                                    at in any::<prop::sample::Index>(), which in 0..4) {
        let mut bt = bt;
        let i = at.index(bt.mask.len());
        match which {
            0 => bt.logp[i] = junk,
            1 => bt.values[i] = junk,
            2 => { let l = bt.rewards[0].len(); bt.rewards[0][i % l] = junk; }
            _ => bt.ref_logp[i] = junk,
        }
        let p = params(&bt, 0.99, 0.95, 0.2, est);
        let n = bt.mask.len();
        let ch = bt.channels(&bt.rewards);
        let (mut r, mut a, mut ret) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let inputs = FusedInputs { channels: &ch, weights: &bt.weights, logp: &bt.logp, ref_logp: &bt.ref_logp, values: &bt.values, mask: &bt.mask };
        if fused_pass(&inputs, bt.shape, &p, &mut FusedOutputs { rewards: &mut r, advantages: &mut a, returns: &mut ret }).is_ok() {
            prop_assert!(r.iter().chain(&a).chain(&ret).all(|x| x.is_finite()));
        }
    }
}
