//! Group-relative advantages (GRPO, RLOO, REINFORCE++, GDPO) against values derived by
//! hand from verl 0.9.1's and trl 1.16.0's definitions (`composer_core::group` docs).
//! The Python tests check the same function against re-creations of the peers' torch code.

use composer_core::{
    broadcast_rows, group_advantages, group_scratch_len, Channel, Convention, Error,
    GroupEstimator, GroupParams, GroupScale, GroupStats, Shape,
};

/// Sequence-level channels with every row fully valid (len 1).
fn run(
    channels: &[&[f32]],
    weights: &[f32],
    groups: &[u32],
    params: GroupParams,
) -> Result<(Vec<f32>, GroupStats), Error> {
    let b = groups.len();
    let g = groups.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    let ch: Vec<Channel<'_, f32>> = channels.iter().map(|c| Channel::Sequence(c)).collect();
    let mask = vec![1u8; b];
    let mut scratch = vec![0.0f64; group_scratch_len(b, g)];
    let mut out = vec![0.0f32; b];
    let stats = group_advantages(
        &ch,
        weights,
        groups,
        g,
        &mask,
        Shape::new(b, 1),
        &params,
        &mut scratch,
        &mut out,
    )?;
    Ok((out, stats))
}

fn close(a: &[f32], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((*x as f64 - y).abs() <= tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn grpo_by_hand_both_conventions() {
    // Group 0: [1, 2, 3]: mean 2, unbiased std 1. Group 1: [4, 8]: mean 6, std sqrt(8).
    let r = [1.0f32, 2.0, 3.0, 4.0, 8.0];
    let g = [0u32, 0, 0, 1, 1];
    let s8 = 8f64.sqrt();
    for (conv, eps) in [(Convention::Verl, 1e-6), (Convention::Trl, 1e-4)] {
        let p = GroupParams::new(GroupEstimator::Grpo, conv);
        let (a, stats) = run(&[&r], &[1.0], &g, p).unwrap();
        let e1 = 1.0 / (1.0 + eps);
        close(
            &a,
            &[-e1, 0.0, e1, -2.0 / (s8 + eps), 2.0 / (s8 + eps)],
            1e-6,
        );
        assert_eq!(
            (stats.groups, stats.singletons, stats.zero_variance),
            (2, 0, 0)
        );
        // Dr. GRPO: no division.
        let p = GroupParams {
            scale: GroupScale::None,
            ..p
        };
        close(
            &run(&[&r], &[1.0], &g, p).unwrap().0,
            &[-1.0, 0.0, 1.0, -2.0, 2.0],
            0.0,
        );
        // trl "batch": group mean, batch std (of 1,2,3,4,8: mean 3.6, ss 29.2, std
        // sqrt(7.3)).
        let p = GroupParams {
            scale: GroupScale::Batch,
            ..p
        };
        let sb = 7.3f64.sqrt() + eps;
        close(
            &run(&[&r], &[1.0], &g, p).unwrap().0,
            &[-1.0 / sb, 0.0, 1.0 / sb, -2.0 / sb, 2.0 / sb],
            1e-6,
        );
    }
}

#[test]
fn the_composite_is_summed_before_normalising() {
    // R = 0.25 * a + 0.75 * b = [1, 2, 3] in one group.
    let a = [4.0f32, 2.0, 0.0];
    let b = [0.0f32, 2.0 / 1.5, 4.0];
    let p = GroupParams {
        scale: GroupScale::None,
        ..GroupParams::new(GroupEstimator::Grpo, Convention::Verl)
    };
    let (out, _) = run(&[&a, &b], &[0.25, 0.75], &[0, 0, 0], p).unwrap();
    // R = [1, 1.5, 3]: mean 5.5/3.
    let m = 5.5 / 3.0;
    close(&out, &[1.0 - m, 1.5 - m, 3.0 - m], 1e-6);
}

#[test]
fn rloo_is_the_leave_one_out_baseline() {
    let r = [1.0f32, 2.0, 3.0, 10.0];
    let g = [0u32, 0, 0, 1];
    // 1 - (2+3)/2 = -1.5, 2 - 2 = 0, 3 - 1.5 = 1.5; the singleton: verl keeps the raw
    // score, trl gives 0.
    let p = GroupParams::new(GroupEstimator::Rloo, Convention::Verl);
    let (a, stats) = run(&[&r], &[1.0], &g, p).unwrap();
    close(&a, &[-1.5, 0.0, 1.5, 10.0], 1e-6);
    assert_eq!(stats.singletons, 1);
    let p = GroupParams::new(GroupEstimator::Rloo, Convention::Trl);
    close(
        &run(&[&r], &[1.0], &g, p).unwrap().0,
        &[-1.5, 0.0, 1.5, 0.0],
        1e-6,
    );
}

#[test]
fn singletons_and_zero_variance_groups() {
    let r = [5.0f32, 0.3, 0.3, 0.3];
    let g = [0u32, 1, 1, 1];
    let p = GroupParams::new(GroupEstimator::Grpo, Convention::Verl);
    let (a, stats) = run(&[&r], &[1.0], &g, p).unwrap();
    // verl: singleton mean 0, std 1; the constant group gives exactly 0.
    close(&a, &[5.0 / (1.0 + 1e-6), 0.0, 0.0, 0.0], 1e-6);
    assert_eq!(&a[1..], &[0.0, 0.0, 0.0]);
    assert_eq!((stats.singletons, stats.zero_variance), (1, 1));
    let p = GroupParams::new(GroupEstimator::Grpo, Convention::Trl);
    assert_eq!(run(&[&r], &[1.0], &g, p).unwrap().0, vec![0.0; 4]);
}

#[test]
fn reinforce_pp_whitens_over_tokens() {
    // Rows of 1, 3, 2, 2 valid tokens; groups [0, 0], [1, 1].
    let r = [1.0f32, 3.0, 0.0, 4.0];
    let g = [0u32, 0, 1, 1];
    let len = 3;
    let mask = [1u8, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0];
    let t = [1.0f64, 3.0, 2.0, 2.0];
    // Baseline: [-1, 1, -2, 2]; token-weighted mean (-1 + 3 - 4 + 4)/8 = 0.25; var =
    // sum t (a - m)^2 / 8 * 8/7.
    let a = [-1.0f64, 1.0, -2.0, 2.0];
    let n: f64 = t.iter().sum();
    let m = a.iter().zip(&t).map(|(x, w)| x * w).sum::<f64>() / n;
    let var = a
        .iter()
        .zip(&t)
        .map(|(x, w)| w * (x - m) * (x - m))
        .sum::<f64>()
        / n
        * n
        / (n - 1.0);
    let want: Vec<f64> = a.iter().map(|x| (x - m) / (var + 1e-8).sqrt()).collect();
    let ch = [Channel::Sequence(&r[..])];
    let mut scratch = vec![0.0; group_scratch_len(4, 2)];
    let mut out = [0.0f32; 4];
    let p = GroupParams::new(GroupEstimator::ReinforcePlusPlus, Convention::Verl);
    group_advantages(
        &ch,
        &[1.0],
        &g,
        2,
        &mask,
        Shape::new(4, len),
        &p,
        &mut scratch,
        &mut out,
    )
    .unwrap();
    close(&out, &want, 1e-6);
    // Per token: the row's advantage at its valid tokens, 0 elsewhere.
    let mut tok = [9.0f32; 12];
    broadcast_rows(&out, &mask, Shape::new(4, len), &mut tok).unwrap();
    for (j, &x) in tok.iter().enumerate() {
        assert_eq!(x, if mask[j] != 0 { out[j / len] } else { 0.0 });
    }
}

#[test]
fn gdpo_normalises_each_reward_then_sums_then_whitens() {
    // Two rewards on scales 1000x apart, groups of two. Within each group each reward is
    // z-scored (std of two values a, b is |a - b| / sqrt 2), summed with weights, then
    // whitened; scaling reward 1 by 1000 must change nothing beyond rounding.
    let r0 = [0.1f32, 0.3, 0.2, 0.2];
    let r1 = [500.0f32, 100.0, 300.0, 900.0];
    let g = [0u32, 0, 1, 1];
    let w = [0.5f32, 1.5];
    let s2 = 2f64.sqrt();
    for conv in [Convention::Verl, Convention::Trl] {
        let eps = conv.eps();
        // z for a pair (a, b): +/- (|a-b|/2) / (|a-b|/sqrt2 + eps).
        let z = |a: f64, b: f64| {
            let d = (a - b).abs();
            if d == 0.0 {
                (0.0, 0.0)
            } else {
                let v = (d / 2.0) / (d / s2 + eps);
                if a > b {
                    (v, -v)
                } else {
                    (-v, v)
                }
            }
        };
        let (a0, b0) = z(0.1f32 as f64, 0.3f32 as f64);
        let (c0, d0) = z(0.2, 0.2);
        let (a1, b1) = z(500.0, 100.0);
        let (c1, d1) = z(300.0, 900.0);
        let s = [
            0.5 * a0 + 1.5 * a1,
            0.5 * b0 + 1.5 * b1,
            0.5 * c0 + 1.5 * c1,
            0.5 * d0 + 1.5 * d1,
        ];
        let mean = s.iter().sum::<f64>() / 4.0;
        let ss: f64 = s.iter().map(|x| (x - mean) * (x - mean)).sum();
        let want: Vec<f64> = match conv {
            // Every row one token: token-weighted = per sequence, var = ss/3.
            Convention::Verl => s
                .iter()
                .map(|x| (x - mean) / (ss / 3.0 + 1e-8).sqrt())
                .collect(),
            Convention::Trl => s
                .iter()
                .map(|x| (x - mean) / ((ss / 3.0).sqrt() + 1e-4))
                .collect(),
        };
        let p = GroupParams::new(GroupEstimator::Gdpo, conv);
        let (out, _) = run(&[&r0, &r1], &w, &g, p).unwrap();
        close(&out, &want, 1e-5);
        let r1k: Vec<f32> = r1.iter().map(|x| x * 1000.0).collect();
        let (big, _) = run(&[&r0, &r1k], &w, &g, p).unwrap();
        close(
            &big,
            &out.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            1e-4,
        );
    }
}

#[test]
fn bad_input_is_named() {
    let r = [1.0f32, 2.0, 3.0];
    let p = GroupParams::new(GroupEstimator::Grpo, Convention::Verl);
    let ch = [Channel::Sequence(&r[..])];
    let mask = [1u8; 3];
    let mut out = [0.0f32; 3];
    let mut scratch = vec![0.0f64; group_scratch_len(3, 2)];
    let call =
        |groups: &[u32], ng: usize, p: &GroupParams, scratch: &mut [f64], out: &mut [f32]| {
            group_advantages(
                &ch,
                &[1.0],
                groups,
                ng,
                &mask,
                Shape::new(3, 1),
                p,
                scratch,
                out,
            )
        };
    assert!(matches!(
        call(&[0, 0, 2], 2, &p, &mut scratch, &mut out),
        Err(Error::OutOfRange { arg: "groups", .. })
    ));
    assert!(matches!(
        call(&[0, 0], 2, &p, &mut scratch, &mut out),
        Err(Error::Length { arg: "groups", .. })
    ));
    assert!(matches!(
        call(&[0, 0, 1], 2, &p, &mut scratch[..3], &mut out),
        Err(Error::Length {
            arg: "scratch",
            expected: 12,
            actual: 3
        })
    ));
    let sized = GroupParams {
        group_size: Some(2),
        ..p
    };
    assert_eq!(
        call(&[0, 0, 1], 2, &sized, &mut scratch, &mut out).unwrap_err(),
        Error::GroupSize {
            group: 1,
            expected: 2,
            actual: 1
        }
    );
    let nan = [1.0f32, f32::NAN, 3.0];
    assert!(matches!(
        group_advantages(
            &[Channel::Sequence(&nan[..])],
            &[1.0],
            &[0, 0, 0],
            1,
            &mask,
            Shape::new(3, 1),
            &p,
            &mut scratch,
            &mut out
        ),
        Err(Error::NonFinite {
            arg: "rewards",
            index: 1
        })
    ));
    assert!(matches!(
        call(
            &[0, 0, 0],
            1,
            &GroupParams { ..p },
            &mut scratch,
            &mut out[..2]
        ),
        Err(Error::Length { arg: "out", .. })
    ));
}

#[test]
fn outputs_are_finite_for_extreme_finite_input() {
    let big = [3e38f32, -3e38];
    let rloo = GroupParams::new(GroupEstimator::Rloo, Convention::Verl);
    assert_eq!(
        run(&[&big], &[1.0], &[0, 0], rloo).unwrap_err(),
        Error::Overflow {
            arg: "advantages",
            row: 0
        }
    );
    let r = [3e38f32, -3e38, 1e-38, 0.0, 7.0, 7.0];
    let g = [0u32, 0, 1, 1, 2, 2];
    for est in [
        GroupEstimator::Grpo,
        GroupEstimator::Rloo,
        GroupEstimator::ReinforcePlusPlus,
        GroupEstimator::Gdpo,
    ] {
        for conv in [Convention::Verl, Convention::Trl] {
            // Finite advantages, or a named overflow (RLOO's k/(k-1) doubles 3e38).
            match run(&[&r], &[1.0], &g, GroupParams::new(est, conv)) {
                Ok((a, _)) => assert!(a.iter().all(|x| x.is_finite()), "{est:?} {conv:?}: {a:?}"),
                Err(e) => assert_eq!(
                    e,
                    Error::Overflow {
                        arg: "advantages",
                        row: 0
                    }
                ),
            }
        }
    }
}
