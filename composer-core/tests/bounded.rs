//! Scale-free and bounded Fast RL: reference normalisation, the KL ball around uniform,
//! Hedge's step size, optimistic updates, and the state record that carries them.
//! Oracles: hand-derived values (the bisection roots of the ball's `h(p) = rho` computed
//! independently in Python, the regret bound of Hedge), the plain rule as the peer, and a
//! synthetic game whose answer is known.

use composer_core::{
    kl_ball_max_weight, kl_ball_min_weight, kl_from_uniform, reference_stats, AutoEta, ComposeOn,
    Composer, Error, FastRl, FastRlConfig, Normalization, StateRecord, UpdateRule, RECORD_LEN,
    RECORD_LEN_V1,
};

fn kl_of(w: &[f32]) -> f64 {
    let n = w.len() as f64;
    w.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x as f64 * (n * x as f64).ln())
        .sum()
}

/// A deterministic pseudo-random stream in [0, 1) (xorshift64*).
struct Stream(u64);
impl Stream {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn ball_extremes_equal_the_roots_computed_independently() {
    // Roots of h(p) = rho by bisection in Python (float64), see ball.rs.
    let cases = [
        (4, 0.1, 0.077_648_050_948_157_8, 0.456_672_316_362_597_2),
        (2, 0.05, 0.343_218_401_635_033_1, 0.656_781_598_364_966_7),
        (3, 0.1, 0.137_827_297_780_843_3, 0.551_608_302_613_724_6),
    ];
    for (n, rho, lo, hi) in cases {
        assert!(
            (kl_ball_min_weight(n, rho).unwrap() - lo).abs() < 1e-12,
            "{n} {rho}"
        );
        assert!(
            (kl_ball_max_weight(n, rho).unwrap() - hi).abs() < 1e-12,
            "{n} {rho}"
        );
    }
    // Past ln(n/(n-1)) the floor is 0, past ln n the ceiling is 1; rho = 0 pins 1/n.
    assert_eq!(
        kl_ball_min_weight(4, (4.0f64 / 3.0).ln() + 1e-12).unwrap(),
        0.0
    );
    assert_eq!(kl_ball_max_weight(4, 4.0f64.ln()).unwrap(), 1.0);
    assert!((kl_ball_min_weight(4, 0.0).unwrap() - 0.25).abs() < 1e-12);
    assert!((kl_ball_max_weight(4, 0.0).unwrap() - 0.25).abs() < 1e-12);
    assert!(matches!(
        kl_ball_max_weight(4, -1.0),
        Err(Error::OutOfRange { arg: "radius", .. })
    ));
}

#[test]
fn bounded_weights_never_leave_the_ball_and_reach_its_edge() {
    let mut s = Stream(7);
    for n in [2usize, 3, 5, 8, 16] {
        for rho in [0.0f32, 0.01, 0.1, 0.5] {
            let cfg = FastRlConfig {
                eta: 3.0,
                radius: rho,
                ..Default::default()
            };
            let mut c = FastRl::new(n, cfg).unwrap();
            let mut seen_max = 0.0f64;
            for _ in 0..300 {
                // Reward 0 always lags, so the plain rule would run to a vertex.
                let means: Vec<f32> = (0..n)
                    .map(|i| if i == 0 { -1.0 } else { s.next() as f32 })
                    .collect();
                let w = c.update(&means).unwrap().to_vec();
                let kl = kl_of(&w);
                assert!(
                    kl <= rho as f64 + 1e-6,
                    "n {n} rho {rho}: KL {kl} outside the ball, w {w:?}"
                );
                assert!((w.iter().map(|&x| x as f64).sum::<f64>() - 1.0).abs() < 1e-5);
                let floor = kl_ball_min_weight(n, rho as f64).unwrap();
                for &x in &w {
                    assert!(
                        x as f64 >= floor - 1e-5,
                        "n {n} rho {rho}: {x} < floor {floor}"
                    );
                }
                seen_max = seen_max.max(w[0] as f64);
            }
            // Pressed against the boundary, reward 0's weight sits at the ball's edge in
            // its direction, which is at most the ball's largest weight.
            let top = kl_ball_max_weight(n, rho as f64).unwrap();
            assert!(
                seen_max <= top + 1e-5,
                "n {n} rho {rho}: {seen_max} > {top}"
            );
            if n == 2 {
                // For n = 2 the edge is exactly the largest weight.
                assert!((seen_max - top).abs() < 1e-5, "{seen_max} vs {top}");
            }
            assert!(kl_from_uniform(c.log_weights()) <= rho as f64 + 1e-6);
        }
    }
}

#[test]
fn inside_the_ball_the_rule_is_plain_eq4() {
    let mut s = Stream(11);
    let n = 4;
    let eta = 0.05;
    let mut plain = FastRl::new(
        n,
        FastRlConfig {
            eta,
            ..Default::default()
        },
    )
    .unwrap();
    let mut bounded = FastRl::new(
        n,
        FastRlConfig {
            eta,
            radius: 0.2,
            ..Default::default()
        },
    )
    .unwrap();
    let mut steps_inside = 0;
    for _ in 0..200 {
        let means: Vec<f32> = (0..n).map(|_| s.next() as f32).collect();
        let wp = plain.update(&means).unwrap().to_vec();
        let wb = bounded.update(&means).unwrap().to_vec();
        if kl_of(&wp) < 0.2 {
            assert_eq!(wp, wb, "inside the ball the two rules must agree exactly");
            steps_inside += 1;
        } else {
            break;
        }
    }
    assert!(
        steps_inside > 20,
        "the test must exercise the interior: {steps_inside}"
    );
}

/// The synthetic max-min game with a third reward the policy cannot move (always 0.05,
/// below everything the others reach): the plain rule runs to the vertex of that reward
/// and stops caring about the others; the bounded rule keeps every weight above the
/// ball's floor, and the policy still balances the two rewards it can move.
#[test]
fn an_unimprovable_reward_takes_the_plain_rule_to_a_vertex_but_not_the_bounded_rule() {
    const R: [[f64; 3]; 3] = [[1.0, 0.1, 0.05], [0.2, 0.6, 0.05], [0.3, 0.3, 0.05]];
    let run = |radius: f32| {
        let mut c = FastRl::new(
            3,
            FastRlConfig {
                eta: 0.5,
                radius,
                ..Default::default()
            },
        )
        .unwrap();
        let mut th = [0.0f64; 3];
        let mut min_w = 1.0f32;
        for _ in 0..20_000 {
            let m = th.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e = th.map(|x| (x - m).exp());
            let z: f64 = e.iter().sum();
            let pi = e.map(|x| x / z);
            let r: [f64; 3] = [0, 1, 2].map(|i| (0..3).map(|a| pi[a] * R[a][i]).sum());
            let w = c.update(&r.map(|x| x as f32)).unwrap().to_vec();
            min_w = min_w.min(w.iter().cloned().fold(1.0, f32::min));
            let cc: [f64; 3] = [0, 1, 2].map(|a| (0..3).map(|i| w[i] as f64 * R[a][i]).sum());
            let j: f64 = (0..3).map(|a| pi[a] * cc[a]).sum();
            for a in 0..3 {
                th[a] += 0.5 * pi[a] * (cc[a] - j);
            }
        }
        (c.weights().to_vec(), min_w)
    };
    let (plain, _) = run(f32::INFINITY);
    assert!(
        plain[2] > 0.999,
        "the plain rule goes to the vertex: {plain:?}"
    );
    let rho = 0.1;
    let (bounded, min_w) = run(rho);
    let floor = kl_ball_min_weight(3, rho as f64).unwrap();
    assert!(
        min_w as f64 >= floor - 1e-5,
        "bounded weights stay above the floor {floor}: min seen {min_w}, final {bounded:?}"
    );
    assert!(bounded[0] > 0.1 && bounded[1] > 0.1, "{bounded:?}");
}

/// Runs a composer against an adaptive adversary for `t_len` steps: the reward holding
/// the most weight gets loss 1, a pseudo-random one of the others 0.5, the rest 0. The
/// weights that face step t's signal are those before its update (the learner commits
/// first). Returns the regret against the best fixed reward.
fn regret_against_adversary(c: &mut FastRl, n: usize, t_len: u64, seed: u64) -> f64 {
    let mut s = Stream(seed);
    let mut learner = 0.0f64;
    let mut totals = vec![0.0f64; n];
    for _ in 0..t_len {
        let w = c.weights().to_vec();
        let top = (0..n).fold(0, |b, i| if w[i] > w[b] { i } else { b });
        let other = (top + 1 + (s.next() * (n - 1) as f64) as usize) % n;
        let losses: Vec<f64> = (0..n)
            .map(|i| {
                if i == top {
                    1.0
                } else if i == other {
                    0.5
                } else {
                    0.0
                }
            })
            .collect();
        learner += w
            .iter()
            .zip(&losses)
            .map(|(&w, &l)| w as f64 * l)
            .sum::<f64>();
        for i in 0..n {
            totals[i] += losses[i];
        }
        c.update(&losses.iter().map(|&l| l as f32).collect::<Vec<_>>())
            .unwrap();
    }
    learner - totals.iter().cloned().fold(f64::INFINITY, f64::min)
}

/// Hedge's guarantee with eta "auto": over T steps of losses in [0, 1] the regret against
/// the best fixed reward is at most sqrt(T ln n / 2), even against an adaptive adversary;
/// a step 20x larger breaks the bound on the same adversary (so the check can fail).
#[test]
fn auto_eta_keeps_hedges_regret_bound() {
    for (n, t_len, seed) in [(2usize, 500u64, 1u64), (4, 2000, 2), (8, 3000, 3)] {
        let cfg = FastRlConfig {
            eta_auto: Some(AutoEta {
                horizon: t_len,
                range: 1.0,
            }),
            ..Default::default()
        };
        let mut c = FastRl::new(n, cfg).unwrap();
        let expected = (8.0 * (n as f64).ln() / t_len as f64).sqrt() as f32;
        assert!((c.eta() - expected).abs() <= 1e-6 * expected);
        let regret = regret_against_adversary(&mut c, n, t_len, seed);
        let bound = (t_len as f64 * (n as f64).ln() / 2.0).sqrt();
        let mut big = FastRl::new(
            n,
            FastRlConfig {
                eta: 20.0 * expected,
                ..Default::default()
            },
        )
        .unwrap();
        let big_regret = regret_against_adversary(&mut big, n, t_len, seed);
        println!(
            "n {n} T {t_len}: regret {regret:.2} (eta x20: {big_regret:.2}), bound {bound:.2}"
        );
        assert!(regret <= bound, "n {n}: regret {regret} > bound {bound}");
        assert!(
            big_regret > bound,
            "n {n}: a too-large step should break the bound"
        );
    }
}

#[test]
fn reference_z_scores_by_hand() {
    // mu = (0.1, 0.5), sigma = (0.05, 0.2); rbar = (0.15, 0.5) gives z = (1, 0), so with
    // eta = 1: w = softmax(-z) = (1/(1+e), e/(1+e)).
    let cfg = FastRlConfig {
        eta: 1.0,
        normalization: Normalization::Reference,
        compose_on: ComposeOn::Normalized,
        ..Default::default()
    };
    let mut c = FastRl::new(2, cfg).unwrap();
    assert_eq!(c.update(&[0.1, 0.5]).unwrap_err(), Error::NotCalibrated);
    c.set_reference(&[0.1, 0.5], &[0.05, 0.2]).unwrap();
    let w = c.update(&[0.15, 0.5]).unwrap().to_vec();
    let e = std::f64::consts::E;
    assert!((w[0] as f64 - 1.0 / (1.0 + e)).abs() < 1e-6, "{w:?}");
    assert!((w[1] as f64 - e / (1.0 + e)).abs() < 1e-6, "{w:?}");
    // Composition on z: weights w_i / sigma_i on the raw rewards and the offset
    // -sum w_i mu_i / sigma_i reproduce sum_i w_i (r_i - mu_i) / sigma_i.
    let mut k = [0.0f32; 2];
    let offset = c.composition(&mut k).unwrap();
    let r = [0.3f32, 0.9];
    let via = k[0] * r[0] + k[1] * r[1] + offset;
    let direct = w[0] * (r[0] - 0.1) / 0.05 + w[1] * (r[1] - 0.5) / 0.2;
    assert!((via - direct).abs() < 1e-5, "{via} vs {direct}");
    // Scale-free: multiplying reward 1 (scores, mean and std) by 1000 changes nothing.
    let mut scaled = FastRl::new(2, cfg).unwrap();
    scaled.set_reference(&[0.1, 500.0], &[0.05, 200.0]).unwrap();
    let ws = scaled.update(&[0.15, 500.0]).unwrap().to_vec();
    assert!((ws[0] - w[0]).abs() < 1e-6 && (ws[1] - w[1]).abs() < 1e-6);
    // Bad reference statistics are named.
    assert!(matches!(
        c.set_reference(&[0.1, 0.5], &[0.0, 0.2]),
        Err(Error::OutOfRange {
            arg: "reference_std",
            ..
        })
    ));
    assert!(matches!(
        c.set_reference(&[f32::NAN, 0.5], &[0.1, 0.2]),
        Err(Error::NonFinite {
            arg: "reference_mean",
            ..
        })
    ));
    // Composing z-scores without the reference normalisation is refused.
    assert!(matches!(
        FastRl::new(
            2,
            FastRlConfig {
                compose_on: ComposeOn::Normalized,
                ..Default::default()
            }
        ),
        Err(Error::Incompatible {
            arg: "compose_on",
            ..
        })
    ));
}

#[test]
fn the_reference_is_set_through_the_trait_and_refused_by_composers_without_one() {
    let cfg = FastRlConfig {
        eta: 1.0,
        normalization: Normalization::Reference,
        compose_on: ComposeOn::Normalized,
        ..Default::default()
    };
    // Through `dyn Composer`, as the C and Python bindings hold every composer.
    let mut fast: Box<dyn Composer> = Box::new(FastRl::new(2, cfg).unwrap());
    assert!(fast.reference().is_none());
    fast.set_reference(&[0.1, 0.5], &[0.05, 0.2]).unwrap();
    let (m, s) = fast.reference().unwrap();
    assert_eq!(
        (m[0] as f32, m[1] as f32, s[0] as f32, s[1] as f32),
        (0.1, 0.5, 0.05, 0.2)
    );
    assert_eq!(fast.step_size(), Some(1.0));
    // The same z = (1, 0) as `reference_z_scores_by_hand`: the trait call took effect.
    let w = fast.update(&[0.15, 0.5]).unwrap();
    assert!(
        (w[0] as f64 - 1.0 / (1.0 + std::f64::consts::E)).abs() < 1e-6,
        "{w:?}"
    );
    // A bad std through the trait: the inherent method's error, nothing changed.
    assert!(fast.set_reference(&[0.1, 0.5], &[0.0, 0.2]).is_err());
    assert_eq!(fast.reference().unwrap().1[0] as f32, 0.05);
    let mut fixed: Box<dyn Composer> = Box::new(composer_core::Fixed::new(&[0.5, 0.5]).unwrap());
    assert!(matches!(
        fixed.set_reference(&[0.1, 0.5], &[0.05, 0.2]),
        Err(Error::Incompatible {
            arg: "set_reference",
            ..
        })
    ));
    assert!(fixed.reference().is_none() && fixed.step_size().is_none());
    assert_eq!(fixed.weights(), &[0.5, 0.5]);
}

#[test]
fn reference_stats_are_mean_and_sample_std() {
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let b = [10.0f32, 10.0, 10.0, 14.0];
    let (mut m, mut s) = ([0.0f32; 2], [0.0f32; 2]);
    reference_stats(&[&a, &b], &mut m, &mut s).unwrap();
    // By hand: mean 2.5, ss = 5, std = sqrt(5/3); mean 11, ss = 12, std = 2.
    assert_eq!(m, [2.5, 11.0]);
    assert!((s[0] as f64 - (5.0f64 / 3.0).sqrt()).abs() < 1e-6);
    assert!((s[1] - 2.0).abs() < 1e-6);
    let flat = [3.0f32; 4];
    assert_eq!(
        reference_stats(&[&a, &flat], &mut m, &mut s).unwrap_err(),
        Error::ConstantReward { index: 1 }
    );
    assert!(matches!(
        reference_stats(&[&a[..1]], &mut m[..1], &mut s[..1]),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        reference_stats(&[&a, &b[..3]], &mut m, &mut s),
        Err(Error::Length { .. })
    ));
}

#[test]
fn optimistic_step_by_hand() {
    // g_1 = s_1 (no previous signal), g_2 = 2 s_2 - s_1.
    let mut c = FastRl::new(
        2,
        FastRlConfig {
            eta: 1.0,
            rule: UpdateRule::Optimistic,
            ..Default::default()
        },
    )
    .unwrap();
    let w1 = c.update(&[1.0, 0.0]).unwrap().to_vec();
    let e = std::f64::consts::E;
    assert!((w1[0] as f64 - 1.0 / (1.0 + e)).abs() < 1e-6);
    // log w after step 2: (-1 - (2*0 - 1), 0 - (2*1 - 0)) = (0, -2) relative.
    let w2 = c.update(&[0.0, 1.0]).unwrap().to_vec();
    let want0 = 1.0 / (1.0 + (-2.0f64).exp());
    assert!((w2[0] as f64 - want0).abs() < 1e-6, "{w2:?} vs {want0}");
}

#[test]
fn averaging_returns_the_mean_iterate() {
    let mut avg = FastRl::new(
        2,
        FastRlConfig {
            eta: 1.0,
            averaging: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut plain = FastRl::new(
        2,
        FastRlConfig {
            eta: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let mut sum = [0.0f64; 2];
    for (t, m) in [[1.0f32, 0.0], [0.5, 0.2], [-1.0, 0.3]].iter().enumerate() {
        let wp = plain.update(m).unwrap().to_vec();
        sum[0] += wp[0] as f64;
        sum[1] += wp[1] as f64;
        let wa = avg.update(m).unwrap().to_vec();
        let k = (t + 1) as f64;
        assert!((wa[0] as f64 - sum[0] / k).abs() < 1e-6);
        assert!((wa[1] as f64 - sum[1] / k).abs() < 1e-6);
    }
}

#[test]
fn the_record_carries_reference_previous_signal_and_average() {
    let cfg = FastRlConfig {
        eta: 0.7,
        normalization: Normalization::Reference,
        rule: UpdateRule::Optimistic,
        averaging: true,
        radius: 0.05,
        ..Default::default()
    };
    let mut a = FastRl::new(3, cfg).unwrap();
    a.set_reference(&[0.1, 0.2, 0.3], &[0.5, 0.5, 0.25])
        .unwrap();
    let seq = [
        [0.3f32, 0.1, 0.2],
        [0.0, 0.5, 0.4],
        [0.2, 0.2, 0.9],
        [0.6, 0.1, 0.0],
    ];
    for m in &seq[..2] {
        a.update(m).unwrap();
    }
    let mut buf = [0u8; RECORD_LEN];
    a.save_bytes(None, &mut buf).unwrap();
    // A fresh composer, never calibrated: the record brings the reference.
    let mut b = FastRl::new(3, cfg).unwrap();
    b.restore_bytes(None, &buf).unwrap();
    for m in &seq[2..] {
        assert_eq!(a.update(m).unwrap(), b.update(m).unwrap());
    }
    let rec = StateRecord::decode(&buf).unwrap();
    assert!(rec.reference.is_some() && rec.prev_signal.is_some());
}

/// A version-1 record (written by the previous build: 696 bytes, no reference, previous
/// signal or average) still loads.
#[test]
fn a_version_1_record_still_loads() {
    fn fnv(bytes: &[u8]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
    let mut v1 = vec![0u8; RECORD_LEN_V1];
    v1[..8].copy_from_slice(b"FASTRLCS");
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    v1[12..16].copy_from_slice(&1u32.to_le_bytes()); // Fast RL
    v1[16..20].copy_from_slice(&2u32.to_le_bytes()); // n = 2
    v1[24..32].copy_from_slice(&5u64.to_le_bytes()); // step 5
    let lw = [0.25f64.ln(), 0.75f64.ln()];
    for (i, l) in lw.iter().enumerate() {
        v1[48 + 8 * i..56 + 8 * i].copy_from_slice(&l.to_le_bytes());
    }
    let sum = fnv(&v1[..688]);
    v1[688..].copy_from_slice(&sum.to_le_bytes());
    let rec = StateRecord::decode(&v1).unwrap();
    assert_eq!(rec.step, 5);
    assert!(rec.reference.is_none() && rec.prev_signal.is_none());
    let mut c = FastRl::new(2, FastRlConfig::default()).unwrap();
    c.restore_bytes(None, &v1).unwrap();
    assert!((c.weights()[1] - 0.75).abs() < 1e-6);
    // The same bytes labelled version 3 are refused by name.
    v1[8..12].copy_from_slice(&3u32.to_le_bytes());
    assert!(matches!(
        StateRecord::decode(&v1),
        Err(Error::RecordVersion {
            expected: 2,
            actual: 3
        })
    ));
}
