//! A conflicting-rewards problem with a known answer (the evaluation issue's synthetic
//! check), run with the real `FastRl` composer.
//!
//! A categorical policy over three actions, each with a vector of two rewards:
//! `R = [[1.0, 0.1], [0.2, 0.6], [0.3, 0.3]]`. The max-min optimum
//! `max_pi min_i sum_a pi_a R[a][i]` mixes actions 0 and 1 so the rewards are equal:
//! `0.2 + 0.8 p = 0.6 - 0.5 p`, so `p = 4/13`, `pi* = (4/13, 9/13, 0)`, value `5.8/13`
//! (mixes with action 2 reach only 0.3). Fixed weights (0.5, 0.5) instead maximise
//! `0.5 r_0 + 0.5 r_1`: action 0 alone (0.55 > 0.4 > 0.3), whose worse reward is 0.1.
//!
//! The policy ascends the exact gradient of the composite `sum_i w_i r_i` each step, the
//! composer updates `w` from the step's rewards (Algorithm 1's order). Fast RL and the
//! policy then play no-regret dynamics of the bilinear game of Eq. (3): the time-averaged
//! policy converges to the max-min optimum (asserted within 1%), while the last iterate
//! keeps cycling (asserted: its worse reward stays far from the optimum). With the
//! optimistic rule (`UpdateRule::Optimistic`, `w <- w exp(-eta (2 s_t - s_{t-1}))`) the
//! *last* iterate converges to the optimum (asserted within 1%).

use composer_core::{Composer, FastRl, FastRlConfig, Fixed, UpdateRule};

const R: [[f64; 2]; 3] = [[1.0, 0.1], [0.2, 0.6], [0.3, 0.3]];

fn softmax(th: &[f64; 3]) -> [f64; 3] {
    let m = th.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e = th.map(|x| (x - m).exp());
    let s: f64 = e.iter().sum();
    e.map(|x| x / s)
}

fn rewards(pi: &[f64; 3]) -> [f64; 2] {
    [0, 1].map(|i| (0..3).map(|a| pi[a] * R[a][i]).sum())
}

/// Runs `steps` of policy gradient on the composite; returns (time-averaged policy, last policy).
fn train(composer: &mut dyn Composer, lr: f64, steps: usize) -> ([f64; 3], [f64; 3]) {
    let mut th = [0.0f64; 3];
    let mut avg = [0.0f64; 3];
    for _ in 0..steps {
        let pi = softmax(&th);
        let r = rewards(&pi);
        let w = composer.update(&[r[0] as f32, r[1] as f32]).unwrap();
        let c: [f64; 3] = [0, 1, 2].map(|a| w[0] as f64 * R[a][0] + w[1] as f64 * R[a][1]);
        let j: f64 = (0..3).map(|a| pi[a] * c[a]).sum();
        for a in 0..3 {
            th[a] += lr * pi[a] * (c[a] - j); // d J / d theta_a for a softmax policy
            avg[a] += pi[a] / steps as f64;
        }
    }
    (avg, softmax(&th))
}

#[test]
fn fast_rl_reaches_the_max_min_optimum_fixed_weights_the_weighted_sum_optimum() {
    let opt = 5.8 / 13.0;
    let star = [4.0 / 13.0, 9.0 / 13.0, 0.0];

    let mut fast = FastRl::new(
        2,
        FastRlConfig {
            eta: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    let (avg, last) = train(&mut fast, 0.5, 100_000);
    let worst = rewards(&avg).into_iter().fold(f64::INFINITY, f64::min);
    println!("Fast RL: averaged policy {avg:?}, min reward {worst:.5} (optimum {opt:.5}); last iterate {last:?}, min reward {:.5}",
        rewards(&last).into_iter().fold(f64::INFINITY, f64::min));
    assert!(
        (worst - opt).abs() <= 0.01 * opt,
        "averaged min reward {worst} vs {opt}"
    );
    for a in 0..3 {
        assert!(
            (avg[a] - star[a]).abs() <= 0.01,
            "averaged policy {avg:?} vs {star:?}"
        );
    }

    let last_worst = rewards(&last).into_iter().fold(f64::INFINITY, f64::min);
    assert!(
        last_worst < 0.9 * opt,
        "the plain rule's last iterate cycles: min reward {last_worst} vs {opt}"
    );

    let mut optimistic = FastRl::new(
        2,
        FastRlConfig {
            eta: 0.5,
            rule: UpdateRule::Optimistic,
            ..Default::default()
        },
    )
    .unwrap();
    let (_, olast) = train(&mut optimistic, 0.5, 100_000);
    let oworst = rewards(&olast).into_iter().fold(f64::INFINITY, f64::min);
    println!(
        "Optimistic Fast RL: last iterate {olast:?}, min reward {oworst:.5} (optimum {opt:.5})"
    );
    assert!(
        (oworst - opt).abs() <= 0.01 * opt,
        "optimistic last-iterate min reward {oworst} vs {opt}"
    );
    for a in 0..3 {
        assert!(
            (olast[a] - star[a]).abs() <= 0.01,
            "optimistic last iterate {olast:?} vs {star:?}"
        );
    }

    let mut fixed = Fixed::new(&[0.5, 0.5]).unwrap();
    let (favg, flast) = train(&mut fixed, 0.5, 100_000);
    let fr = rewards(&flast);
    println!("Fixed 0.5/0.5: last policy {flast:?}, rewards {fr:?}");
    assert!(
        flast[0] > 0.99,
        "fixed weights converge to the weighted-sum optimum (action 0): {flast:?}"
    );
    assert!(
        (fr[1] - 0.1).abs() < 0.01,
        "its worse reward is about 0.1: {fr:?}"
    );
    assert!(favg[0] > 0.95, "{favg:?}");
    assert!(
        worst > 4.0 * fr[1],
        "Fast RL's worst reward ({worst}) far above fixed weights' ({})",
        fr[1]
    );
}
