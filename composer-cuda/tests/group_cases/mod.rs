//! The group-relative pass's test bodies, shared by the GPU equivalence tests
//! (`tests/gpu.rs`) and the host model of the kernels (`tests/group_model.rs`): batches
//! with sequence and dense channels, singletons, zero-variance and empty groups,
//! contiguous and shuffled ids, every estimator x convention x whitening, bad input; each
//! run compared with `composer_core::group_advantages`, the oracle.

#![allow(dead_code)] // each test crate uses its own subset

use composer_core::{
    group_advantages, group_scratch_len, Channel, Convention, Error, GroupEstimator, GroupParams,
    GroupScale, GroupStats, Shape, Storage,
};
use composer_cuda::CudaError;

/// splitmix64 in [-1, 1).
pub struct CaseRng(pub u64);
impl CaseRng {
    pub fn f(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (((self.f() + 1.0) * 0.5) * n as f32) as usize % n.max(1)
    }
}

/// One batch, held as f32 and stored as `T` on both sides.
#[derive(Clone, Debug)]
pub struct GroupCase {
    pub shape: Shape,
    /// (scores, dense).
    pub channels: Vec<(Vec<f32>, bool)>,
    pub weights: Vec<f32>,
    pub groups: Vec<u32>,
    pub num_groups: usize,
    pub mask: Vec<u8>,
}

/// `batch` rows of `len` tokens, `n` channels (dense ones only when `dense` and
/// `len > 1`), groups of 1..=6 consecutive members (singletons included), every third
/// group made zero-variance by copying its first member into the others (scores and
/// mask row), two empty group ids at the end, ids shuffled across the batch when
/// `shuffle`. `exact`: scores in k/64 and weights in k/8, so every sum is exact in f64
/// and both sides' statistics agree bit for bit (zero-variance counts included).
pub fn group_case(
    seed: u64,
    batch: usize,
    len: usize,
    n: usize,
    dense: bool,
    exact: bool,
    shuffle: bool,
) -> GroupCase {
    let mut rng = CaseRng(seed);
    let tokens = batch * len;
    let value = |rng: &mut CaseRng| {
        if exact {
            (rng.below(129) as f32 - 64.0) / 64.0
        } else {
            2.0 * rng.f()
        }
    };
    let kinds: Vec<bool> = (0..n)
        .map(|i| dense && len > 1 && (i + seed as usize) % 2 == 0)
        .collect();
    let mut channels: Vec<(Vec<f32>, bool)> = kinds
        .iter()
        .map(|&d| {
            let m = if d { tokens } else { batch };
            ((0..m).map(|_| value(&mut rng)).collect(), d)
        })
        .collect();
    let weights: Vec<f32> = (0..n)
        .map(|_| {
            if exact {
                (rng.below(17) as f32 - 8.0) / 8.0
            } else {
                rng.f()
            }
        })
        .collect();
    let mut mask = vec![0u8; tokens];
    for b in 0..batch {
        for t in 0..len {
            mask[b * len + t] = (b % 7 != 3 && (len == 1 || rng.f() > -0.6)) as u8;
        }
    }
    // Groups of consecutive rows.
    let mut groups = vec![0u32; batch];
    let (mut b, mut g) = (0usize, 0u32);
    while b < batch {
        let k = (1 + rng.below(6)).min(batch - b);
        if g % 3 == 2 {
            for j in b + 1..b + k {
                for (x, d) in channels.iter_mut() {
                    if *d {
                        x.copy_within(b * len..(b + 1) * len, j * len);
                    } else {
                        x[j] = x[b];
                    }
                }
                mask.copy_within(b * len..(b + 1) * len, j * len);
            }
        }
        groups[b..b + k].fill(g);
        b += k;
        g += 1;
    }
    if shuffle {
        // Fisher-Yates over whole rows (scores, mask and id move together).
        for i in (1..batch).rev() {
            let j = rng.below(i + 1);
            groups.swap(i, j);
            for (x, d) in channels.iter_mut() {
                if *d {
                    for t in 0..len {
                        x.swap(i * len + t, j * len + t);
                    }
                } else {
                    x.swap(i, j);
                }
            }
            for t in 0..len {
                mask.swap(i * len + t, j * len + t);
            }
        }
    }
    GroupCase {
        shape: Shape::new(batch, len),
        channels,
        weights,
        groups,
        num_groups: g as usize + 2,
        mask,
    }
}

/// Advantages and stats, or the error.
pub type GroupResult = Result<(Vec<f32>, GroupStats), CudaError>;

/// What the oracle is compared with: the GPU, or the host model of its kernels.
pub trait GroupRun {
    /// The pass over `c` with its channels stored as `T` (`chs`).
    fn run<T: Storage>(
        &self,
        chs: &[Channel<'_, T>],
        c: &GroupCase,
        p: &GroupParams,
    ) -> GroupResult;
}

/// The case's channels stored as `T`.
pub fn stored<T: Storage>(c: &GroupCase) -> Vec<Vec<T>> {
    c.channels
        .iter()
        .map(|(x, _)| x.iter().map(|&v| T::from_f32(v)).collect())
        .collect()
}

/// Channel views of `stored`.
pub fn views<'a, T: Storage>(c: &GroupCase, stored: &'a [Vec<T>]) -> Vec<Channel<'a, T>> {
    stored
        .iter()
        .zip(&c.channels)
        .map(|(x, (_, d))| {
            if *d {
                Channel::Dense(&x[..])
            } else {
                Channel::Sequence(&x[..])
            }
        })
        .collect()
}

/// The oracle on `T` channels.
pub fn oracle<T: Storage>(chs: &[Channel<'_, T>], c: &GroupCase, p: &GroupParams) -> GroupResult {
    let b = c.shape.batch;
    let mut scratch = vec![0.0f64; group_scratch_len(b, c.num_groups)];
    let mut out = vec![0.0f32; b];
    group_advantages(
        chs,
        &c.weights,
        &c.groups,
        c.num_groups,
        &c.mask,
        c.shape,
        p,
        &mut scratch,
        &mut out,
    )
    .map(|st| (out, st))
    .map_err(CudaError::Invalid)
}

/// The oracle and `r` on the same `T` inputs.
pub fn both<T: Storage, R: GroupRun>(
    r: &R,
    c: &GroupCase,
    p: &GroupParams,
) -> (GroupResult, GroupResult) {
    let st = stored::<T>(c);
    let chs = views(c, &st);
    (oracle(&chs, c, p), r.run(&chs, c, p))
}

/// Asserts `other` equals the oracle: the same error, or advantages within `1e-5 * (1 +
/// |cpu|)` and the same stats (zero-variance counts only when `exact`).
pub fn group_check(cpu: &GroupResult, other: &GroupResult, exact: bool, what: &str) {
    match (cpu, other) {
        (Ok((a, sa)), Ok((b, sb))) => {
            assert_eq!(
                (sa.groups, sa.singletons, sa.tokens),
                (sb.groups, sb.singletons, sb.tokens),
                "{what}: stats"
            );
            if exact {
                assert_eq!(
                    sa.zero_variance, sb.zero_variance,
                    "{what}: zero-variance groups"
                );
            }
            assert_eq!(a.len(), b.len(), "{what}: lengths");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(
                    y.is_finite() && (x - y).abs() as f64 <= 1e-5 * (1.0 + x.abs() as f64),
                    "{what}: row {i}: cpu {x} other {y}"
                );
            }
        }
        (c, g) => assert_eq!(c.as_ref().err(), g.as_ref().err(), "{what}"),
    }
}

/// Every estimator configuration: GRPO with each scale, RLOO, REINFORCE++, GDPO; each
/// convention; whitening off and on.
pub fn group_configs() -> Vec<GroupParams> {
    let mut v = Vec::new();
    for conv in [Convention::Verl, Convention::Trl] {
        for (est, scale) in [
            (GroupEstimator::Grpo, GroupScale::Group),
            (GroupEstimator::Grpo, GroupScale::Batch),
            (GroupEstimator::Grpo, GroupScale::None),
            (GroupEstimator::Rloo, GroupScale::Group),
            (GroupEstimator::ReinforcePlusPlus, GroupScale::Group),
            (GroupEstimator::Gdpo, GroupScale::Group),
        ] {
            for whiten in [false, true] {
                v.push(GroupParams {
                    scale,
                    whiten,
                    ..GroupParams::new(est, conv)
                });
            }
        }
    }
    v
}

/// Sizes around the warp (32), the apply block (256) and the whitening block (1024), one
/// row, rows of one token (sequence-level), and dense rows around the score block sizes.
pub const GROUP_SHAPES: [(usize, usize, usize); 12] = [
    (1, 1, 1),
    (2, 1, 2),
    (5, 1, 3),
    (33, 1, 1),
    (257, 1, 4),
    (1025, 1, 2),
    (7, 5, 2),
    (40, 33, 3),
    (64, 257, 5),
    (300, 70, 8),
    (16, 1030, 16),
    (1030, 9, 3),
];

/// Every configuration on every shape, exact and rounded data, contiguous and shuffled.
pub fn sweep<T: Storage, R: GroupRun>(r: &R, shapes: &[(usize, usize, usize)]) {
    let mut seed = 1000;
    for &(b, t, n) in shapes {
        for exact in [true, false] {
            for shuffle in [false, true] {
                seed += 1;
                let c = group_case(seed, b, t, n, true, exact, shuffle);
                for p in group_configs() {
                    let (cpu, other) = both::<T, R>(r, &c, &p);
                    let what = format!(
                        "{} B={b} T={t} n={n} exact={exact} shuffle={shuffle} {p:?}",
                        T::NAME
                    );
                    assert!(cpu.is_ok(), "{what}: the oracle refused: {cpu:?}");
                    group_check(&cpu, &other, exact, &what);
                }
            }
        }
    }
}

/// Sequence-level channels (also on rows of 8 tokens, where the mask only feeds verl's
/// whitening) on exact data: the same zero-variance counts, and zero-variance groups
/// exactly 0 on both sides before whitening.
pub fn sequence_only_and_zero_variance<R: GroupRun>(r: &R) {
    for (i, &(b, t)) in [(6, 1), (96, 8), (4096, 1)].iter().enumerate() {
        let c = group_case(7 + i as u64, b, t, 4, false, true, i == 1);
        for p in group_configs() {
            let (cpu, other) = both::<f32, R>(r, &c, &p);
            group_check(&cpu, &other, true, &format!("B={b} T={t} {p:?}"));
            if let (Ok((a, _)), Ok((b2, _)), false) = (&cpu, &other, p.whiten) {
                for (x, y) in a.iter().zip(b2) {
                    assert_eq!(
                        *x == 0.0,
                        *y == 0.0,
                        "{p:?}: exact zeros differ: {x} vs {y}"
                    );
                }
            }
        }
    }
}

/// The same input gives the same bits, every time.
pub fn deterministic<R: GroupRun>(r: &R) {
    let c = group_case(99, 2000, 40, 6, true, false, true);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for p in group_configs() {
        let (_, first) = both::<f32, R>(r, &c, &p);
        let first = first.expect("first run");
        for _ in 0..3 {
            let (_, again) = both::<f32, R>(r, &c, &p);
            let again = again.expect("rerun");
            assert_eq!(
                bits(&first.0),
                bits(&again.0),
                "{p:?}: not bitwise reproducible"
            );
            assert_eq!(first.1, again.1);
        }
    }
}

/// Small cases (gpu-check.sh runs them under compute-sanitizer): bad ids, NaN and inf
/// scores (used and masked), group sizes, overflow, one row, an all-masked batch.
pub fn edge_cases<R: GroupRun>(r: &R) {
    let check = |c: &GroupCase, p: &GroupParams, what: &str| {
        let (cpu, other) = both::<f32, R>(r, c, p);
        group_check(&cpu, &other, true, what);
        cpu
    };
    let fresh = || group_case(5, 12, 4, 3, true, true, false);
    for p in &group_configs() {
        // Group ids out of range (the first offending row is named by its id).
        let mut c = fresh();
        c.groups[5] = c.num_groups as u32 + 7;
        c.groups[3] = c.num_groups as u32;
        let r = check(&c, p, "bad ids");
        assert_eq!(
            r.unwrap_err(),
            CudaError::Invalid(Error::OutOfRange {
                arg: "groups",
                expected: "[0, num_groups)",
                actual: c.num_groups as f64
            })
        );
        // A NaN in a sequence-level channel, an inf in a dense one at a valid token, and
        // a NaN at a masked token (ignored).
        for chan in 0..3 {
            let mut c = fresh();
            let dense = c.channels[chan].1;
            let j = if dense {
                (0..c.mask.len()).rev().find(|&j| c.mask[j] != 0).unwrap()
            } else {
                7
            };
            c.channels[chan].0[j] = if dense { f32::INFINITY } else { f32::NAN };
            let r = check(&c, p, "non-finite score");
            assert_eq!(
                r.unwrap_err(),
                CudaError::Invalid(Error::NonFinite {
                    arg: "rewards",
                    index: j
                })
            );
            if dense {
                let mut c = fresh();
                let j = c.mask.iter().position(|&m| m == 0).unwrap();
                c.channels[chan].0[j] = f32::NAN;
                assert!(check(&c, p, "NaN at a masked token").is_ok());
            }
        }
        // Group sizes: whole groups of 3 pass; groups of 4 and 2 name the first.
        let mut c = fresh();
        c.groups = (0..12).map(|b| b / 3).collect();
        c.num_groups = 4;
        let sized = GroupParams {
            group_size: Some(3),
            ..*p
        };
        assert!(check(&c, &sized, "whole groups").is_ok());
        c.groups[11] = 2;
        let r = check(&c, &sized, "groups of 4 and 2");
        assert_eq!(
            r.unwrap_err(),
            CudaError::Invalid(Error::GroupSize {
                group: 2,
                expected: 3,
                actual: 4
            })
        );
        // Extreme finite scores: finite advantages or the same named overflow.
        let mut c = group_case(5, 6, 1, 1, false, true, false);
        c.channels[0].0 = vec![3e38, -3e38, 1e-38, 0.0, 7.0, 7.0];
        c.groups = vec![0, 0, 1, 1, 2, 2];
        c.num_groups = 3;
        let r = check(&c, p, "extreme scores");
        assert!(
            r.is_ok()
                || r == Err(CudaError::Invalid(Error::Overflow {
                    arg: "advantages",
                    row: 0
                })),
            "{r:?}"
        );
        // One row; an all-masked batch (verl's whitening then gives 0).
        assert!(check(&group_case(5, 1, 3, 2, true, true, false), p, "one row").is_ok());
        let mut c = group_case(5, 10, 3, 2, true, true, false);
        c.mask.fill(0);
        assert!(check(&c, p, "all masked").is_ok());
    }
    // RLOO doubles 3e38: the overflow is named with its row on both.
    let mut c = group_case(5, 2, 1, 1, false, true, false);
    c.channels[0].0 = vec![3e38, -3e38];
    c.groups = vec![0, 0];
    c.num_groups = 1;
    let rloo = GroupParams::new(GroupEstimator::Rloo, Convention::Verl);
    assert_eq!(
        check(&c, &rloo, "overflow").unwrap_err(),
        CudaError::Invalid(Error::Overflow {
            arg: "advantages",
            row: 0
        })
    );
}
