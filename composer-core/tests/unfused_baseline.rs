//! The benches' unfused baseline (`benches/common/`, the frameworks' multi-pass pattern)
//! computes what the core's fused pass computes, so the bench ratio compares equal work.

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod baseline;

use baseline::{unfused, Batch, Scratch};
use composer_core::{
    fused_pass, whiten, Channel, FusedInputs, FusedOutputs, FusedParams, GaeParams, Shape,
};

/// The baseline computes the same advantages as the core (so the ratio compares
/// equal work).
#[test]
fn baseline_matches_core() {
    let b = Batch::<f32>::new(7, 33, 3);
    let tokens = b.batch * b.len;
    let mut s = Scratch::new(tokens);
    unfused(&b, 0.1, 0.99, 0.95, &mut s);
    let ch: Vec<Channel<'_, f32>> = b.rewards.iter().map(|r| Channel::Dense(&r[..])).collect();
    let (mut r, mut a, mut ret) = (vec![0.0; tokens], vec![0.0; tokens], vec![0.0; tokens]);
    let inputs = FusedInputs {
        channels: &ch,
        weights: &b.weights,
        logp: &b.logp,
        ref_logp: &b.ref_logp,
        values: &b.values,
        mask: &b.mask,
    };
    let p = FusedParams {
        gae: GaeParams {
            gamma: 0.99,
            lambda: 0.95,
        },
        beta: 0.1,
        ..Default::default()
    };
    fused_pass(
        &inputs,
        Shape::new(b.batch, b.len),
        &p,
        &mut FusedOutputs {
            rewards: &mut r,
            advantages: &mut a,
            returns: &mut ret,
        },
    )
    .unwrap();
    for i in 0..tokens {
        if b.mask[i] != 0 {
            assert!(
                (ret[i] - s.returns[i]).abs() <= 1e-4 * (1.0 + ret[i].abs()),
                "{i}: {} vs {}",
                ret[i],
                s.returns[i]
            );
        }
    }
    whiten(&mut a, &b.mask).unwrap();
    for i in 0..tokens {
        assert!(
            (a[i] - s.advantages[i]).abs() <= 1e-4,
            "{i}: {} vs {}",
            a[i],
            s.advantages[i]
        );
    }
}
