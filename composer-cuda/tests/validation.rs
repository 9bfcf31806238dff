//! Host-side validation and the no-CUDA path: no GPU needed.

use composer_core::{Error, FusedParams, GaeParams, Shape};
use composer_cuda::launch::{plan_fused, plan_whiten, threads_for};
use composer_cuda::source::driver_available;
use composer_cuda::{
    fused_shared_bytes, CudaError, DevChannel, DevPtr, FusedBuffers, FusedVariant, Gpu,
    STAGED_MAX_LEN,
};

fn p(ptr: u64, len: usize) -> DevPtr {
    DevPtr { ptr, len }
}

fn buffers<'a>(chs: &'a [DevChannel], w: &'a [f32], tokens: usize) -> FusedBuffers<'a> {
    FusedBuffers {
        channels: chs,
        weights: w,
        logp: p(0x1000, tokens),
        ref_logp: p(0x2000, tokens),
        values: p(0x3000, tokens),
        mask: p(0x4000, tokens),
        out_rewards: p(0x5000, tokens),
        out_adv: p(0x6000, tokens),
        out_ret: p(0x7000, tokens),
        stats: p(0x8000, 3),
        status: p(0x9000, 1),
    }
}

#[test]
fn a_valid_plan_mirrors_the_inputs() {
    let shape = Shape::new(4, 100);
    let chs = [
        DevChannel {
            data: p(0xa000, 4),
            dense: false,
        },
        DevChannel {
            data: p(0xb000, 400),
            dense: true,
        },
    ];
    let params = FusedParams {
        gae: GaeParams {
            gamma: 0.5,
            lambda: 0.5,
        },
        beta: 0.1,
        ..Default::default()
    };
    let (c, cfg) = plan_fused(&buffers(&chs, &[0.25, 0.75], 400), shape, &params).unwrap();
    assert_eq!((c.batch, c.len, c.ch.n), (4, 100, 2));
    assert_eq!((c.ch.dense[0], c.ch.dense[1]), (0, 1));
    assert_eq!((c.ch.ptr[1], c.ch.w[1]), (0xb000, 0.75));
    assert_eq!((c.gamma, c.gl, c.beta), (0.5, 0.25, 0.1));
    assert_eq!(cfg.grid_dim, (4, 1, 1));
    assert_eq!(cfg.block_dim, (threads_for(100), 1, 1));
}

#[test]
fn threads_per_row() {
    assert_eq!(threads_for(1), 32);
    assert_eq!(threads_for(128), 32);
    assert_eq!(threads_for(1024), 128);
    assert_eq!(threads_for(4096), 512);
    assert_eq!(threads_for(1 << 20), 1024);
}

#[test]
fn bad_shapes_and_pointers_are_errors_before_any_launch() {
    let shape = Shape::new(2, 3);
    let ok = [DevChannel {
        data: p(0xa000, 6),
        dense: true,
    }];
    let params = FusedParams::default();
    let e =
        |chs: &[DevChannel], w: &[f32], f: &dyn Fn(&mut FusedBuffers<'_>), params: &FusedParams| {
            let mut b = buffers(chs, w, 6);
            f(&mut b);
            plan_fused(&b, shape, params).unwrap_err()
        };
    let none = |_: &mut FusedBuffers<'_>| {};
    assert_eq!(
        e(&[], &[], &none, &params),
        CudaError::Invalid(Error::NoRewards)
    );
    let many = vec![ok[0]; 17];
    assert!(matches!(
        e(&many, &[1.0; 17], &none, &params),
        CudaError::Invalid(Error::TooManyRewards { .. })
    ));
    assert_eq!(
        e(&ok, &[1.0, 2.0], &none, &params),
        CudaError::Invalid(Error::Length {
            arg: "weights",
            expected: 1,
            actual: 2
        })
    );
    assert_eq!(
        e(&ok, &[f32::NAN], &none, &params),
        CudaError::Invalid(Error::NonFinite {
            arg: "weights",
            index: 0
        })
    );
    let seq = [DevChannel {
        data: p(0xa000, 3),
        dense: false,
    }];
    assert_eq!(
        e(&seq, &[1.0], &none, &params),
        CudaError::Invalid(Error::Length {
            arg: "rewards (sequence-level channel)",
            expected: 2,
            actual: 3
        })
    );
    assert_eq!(
        e(&ok, &[1.0], &|b| b.values = p(0, 6), &params),
        CudaError::NullPointer { arg: "values" }
    );
    assert_eq!(
        e(&ok, &[1.0], &|b| b.out_adv = p(0x1, 5), &params),
        CudaError::Invalid(Error::Length {
            arg: "advantages",
            expected: 6,
            actual: 5
        })
    );
    assert_eq!(
        e(&ok, &[1.0], &|b| b.stats = p(0x1, 2), &params),
        CudaError::Invalid(Error::Length {
            arg: "stats",
            expected: 3,
            actual: 2
        })
    );
    let bad_gamma = FusedParams {
        gae: GaeParams {
            gamma: 1.5,
            lambda: 0.9,
        },
        ..Default::default()
    };
    assert!(matches!(
        e(&ok, &[1.0], &none, &bad_gamma),
        CudaError::Invalid(Error::OutOfRange { arg: "gamma", .. })
    ));
    let bad_beta = FusedParams {
        beta: -1.0,
        ..Default::default()
    };
    assert!(matches!(
        e(&ok, &[1.0], &none, &bad_beta),
        CudaError::Invalid(Error::OutOfRange { arg: "beta", .. })
    ));
    assert_eq!(
        plan_whiten(p(0x1, 4), p(0x2, 3), p(0x3, 3)).unwrap_err(),
        CudaError::Invalid(Error::Length {
            arg: "mask",
            expected: 4,
            actual: 3
        })
    );
}

#[test]
fn no_driver_is_a_typed_error_not_a_panic() {
    if driver_available() {
        println!("SKIPPED: a CUDA driver is present here");
        return;
    }
    match Gpu::new(0) {
        Err(CudaError::NoCuda { library, .. }) => assert_eq!(library, "libcuda"),
        other => panic!("expected NoCuda, got {other:?}"),
    }
    let msg = Gpu::new(0).unwrap_err().to_string();
    assert!(msg.contains("no CUDA") && msg.contains("CPU"), "{msg}");
}

#[test]
fn staged_kernel_limits() {
    // Hand-derived: 4096 tokens -> 512 threads -> 10240 bytes of scan maps; 4096 + 128 pad
    // + 1 floats per array, two arrays, then 4096 mask bytes: 10240 + 2 * 4225 * 4 + 4096
    // = 48136, rounded up to 16.
    assert_eq!(fused_shared_bytes(4096, true), 48144);
    assert_eq!(fused_shared_bytes(4096, false), 10240);
    assert_eq!(fused_shared_bytes(1, true), 32 * 20 + 2 * 2 * 4 + 1 + 15);
    // The longest staged row and the block reductions' static 400 bytes fit 99 KiB
    // (sm_86/89/120).
    assert!(fused_shared_bytes(STAGED_MAX_LEN, true) + 512 <= 99 * 1024);
    assert!(FusedVariant::Auto.staged_for(STAGED_MAX_LEN).unwrap());
    assert!(!FusedVariant::Auto.staged_for(STAGED_MAX_LEN + 1).unwrap());
    assert!(!FusedVariant::Streaming.staged_for(1).unwrap());
    assert!(FusedVariant::Staged.staged_for(STAGED_MAX_LEN).unwrap());
    let err = FusedVariant::Staged
        .staged_for(STAGED_MAX_LEN + 1)
        .unwrap_err();
    assert!(err.to_string().contains("8192"), "{err}");
}

#[test]
fn status_bits_read_as_words() {
    let msg = CudaError::Status { bits: 3 }.to_string();
    assert!(msg.contains("prefix") && msg.contains("NaN"), "{msg}");
}

mod group {
    use super::p;
    use composer_core::{
        group_advantages, group_scratch_len, Channel, Convention, Error, GroupEstimator,
        GroupParams, GroupScale, GroupStats, Shape,
    };
    use composer_cuda::launch::{group_device_scratch_len, group_outcome, plan_group, GroupPlan};
    use composer_cuda::params::{
        GROUP_BIT_BAD_ID, GROUP_BIT_BAD_REWARD, GROUP_BIT_BAD_SIZE, GROUP_BIT_OVERFLOW,
        GROUP_R_BAD_ID, GROUP_R_BAD_REWARD, GROUP_R_BAD_SIZE, GROUP_R_BITS, GROUP_R_GROUPS,
        GROUP_R_OVERFLOW, GROUP_R_SINGLETONS, GROUP_R_TOKENS, GROUP_R_ZERO_VAR,
    };
    use composer_cuda::{CudaError, DevChannel, Dtype, GroupBuffers, GROUP_REPORT_LEN};

    /// Buffers for `batch` rows of `len` tokens, `n` channels alternating sequence/dense.
    fn chans(batch: usize, len: usize, n: usize) -> Vec<DevChannel> {
        (0..n)
            .map(|i| DevChannel {
                data: p(
                    0xa000 + i as u64 * 0x100,
                    if i % 2 == 1 { batch * len } else { batch },
                ),
                dense: i % 2 == 1,
            })
            .collect()
    }

    fn bufs<'a>(
        chs: &'a [DevChannel],
        w: &'a [f32],
        shape: Shape,
        groups: usize,
    ) -> GroupBuffers<'a> {
        GroupBuffers {
            channels: chs,
            weights: w,
            groups: p(0x1000, shape.batch),
            mask: p(0x2000, shape.batch * shape.len),
            out: p(0x3000, shape.batch),
            scratch: p(
                0x4000,
                group_device_scratch_len(shape.batch, chs.len(), groups),
            ),
            report: p(0x5000, GROUP_REPORT_LEN),
        }
    }

    fn plan(b: &GroupBuffers<'_>, g: usize, shape: Shape, params: &GroupParams) -> GroupPlan {
        plan_group(b, g, shape, params).unwrap()
    }

    #[test]
    fn scratch_length_by_hand() {
        // (n + 2) B + (2 n + 2) G + 1 = 5 * 10 + 8 * 4 + 1.
        assert_eq!(group_device_scratch_len(10, 3, 4), 83);
        assert_eq!(group_device_scratch_len(1, 1, 1), 3 + 4 + 1);
        assert_eq!(group_device_scratch_len(usize::MAX, 2, 1), usize::MAX);
        assert_eq!(GROUP_REPORT_LEN, 24);
    }

    #[test]
    fn a_valid_group_plan_mirrors_the_inputs() {
        let shape = Shape::new(1000, 100);
        let chs = chans(1000, 100, 3);
        let w = [0.5f32, 0.25, 2.0];
        let b = bufs(&chs, &w, shape, 125);
        let grpo_batch = GroupParams {
            scale: GroupScale::Batch,
            group_size: Some(8),
            ..GroupParams::new(GroupEstimator::Grpo, Convention::Trl)
        };
        let pl = plan(&b, 125, shape, &grpo_batch);
        let c = pl.params;
        assert_eq!((c.batch, c.len, c.num_groups, c.ch.n), (1000, 100, 125, 3));
        assert_eq!((c.ch.dense[0], c.ch.dense[1], c.ch.w[2]), (0, 1, 2.0));
        assert_eq!(
            (c.groups, c.mask, c.out, c.scratch, c.report),
            (0x1000, 0x2000, 0x3000, 0x4000, 0x5000)
        );
        assert_eq!((c.estimator, c.scale, c.convention, c.whiten), (0, 1, 1, 0));
        assert_eq!((c.eps, c.group_size), (1e-4, 8));
        // Kernels: init over max(2G, report) words, a block per row, a warp per group.
        assert_eq!(pl.init.grid_dim.0, 1);
        assert_eq!(pl.scores.grid_dim.0, 1000);
        assert_eq!(pl.scores.block_dim.0, super::threads_for(100));
        assert_eq!(pl.affine.grid_dim.0, 16);
        assert_eq!(pl.affine.block_dim.0, 256);
        assert!(pl.batch_std.is_some() && pl.whiten.is_none());
        assert_eq!(pl.apply.unwrap().grid_dim.0, 4);
        // GDPO whitens (the peers' default): a single block, no per-row apply, no batch std.
        let gdpo = GroupParams::new(GroupEstimator::Gdpo, Convention::Verl);
        let pl = plan(&b, 125, shape, &gdpo);
        assert_eq!(
            (pl.params.estimator, pl.params.convention, pl.params.whiten),
            (3, 0, 1)
        );
        assert_eq!((pl.params.eps, pl.params.group_size), (1e-6, -1));
        assert!(pl.batch_std.is_none() && pl.apply.is_none());
        assert_eq!(pl.whiten.unwrap().block_dim.0, 1024);
        // The scale is GRPO's alone: RLOO with "batch" computes no batch std.
        let rloo = GroupParams {
            scale: GroupScale::Batch,
            ..GroupParams::new(GroupEstimator::Rloo, Convention::Verl)
        };
        assert!(plan(&b, 125, shape, &rloo).batch_std.is_none());
        let many = bufs(&chs, &w, Shape::new(1000, 100), 1000);
        assert_eq!(plan(&many, 1000, shape, &gdpo).init.grid_dim.0, 8);
        // len 0 (sequence channels only): a null mask of length 0 is accepted.
        let seq = [DevChannel {
            data: p(0xa000, 4),
            dense: false,
        }];
        let s0 = Shape::new(4, 0);
        let mut b0 = bufs(&seq, &[1.0], s0, 2);
        b0.mask = p(0, 0);
        assert_eq!(plan(&b0, 2, s0, &gdpo).params.len, 0);
    }

    #[test]
    fn bad_group_input_is_named_before_any_launch() {
        let shape = Shape::new(4, 3);
        let chs = chans(4, 3, 2);
        let w = [1.0f32, 1.0];
        let params = GroupParams::default();
        let e = |chs: &[DevChannel], w: &[f32], g: usize, f: &dyn Fn(&mut GroupBuffers<'_>)| {
            let mut b = bufs(chs, w, shape, g.max(1));
            f(&mut b);
            plan_group(&b, g, shape, &params).unwrap_err()
        };
        let none = |_: &mut GroupBuffers<'_>| {};
        let inv = CudaError::Invalid;
        assert_eq!(e(&[], &[], 2, &none), inv(Error::NoRewards));
        let many = vec![chs[0]; 17];
        assert!(matches!(
            e(&many, &[1.0; 17], 2, &none),
            CudaError::Invalid(Error::TooManyRewards {
                max: 16,
                actual: 17
            })
        ));
        assert_eq!(
            e(&chs, &[1.0], 2, &none),
            inv(Error::Length {
                arg: "weights",
                expected: 2,
                actual: 1
            })
        );
        assert_eq!(
            e(&chs, &[1.0, f32::INFINITY], 2, &none),
            inv(Error::NonFinite {
                arg: "weights",
                index: 1
            })
        );
        let mut short = chs.clone();
        short[1].data.len = 11;
        assert_eq!(
            e(&short, &w, 2, &none),
            inv(Error::Length {
                arg: "rewards (dense channel)",
                expected: 12,
                actual: 11
            })
        );
        for (arg, f, expected, actual) in [
            (
                "mask",
                &(|b: &mut GroupBuffers<'_>| b.mask.len = 13) as &dyn Fn(&mut GroupBuffers<'_>),
                12,
                13,
            ),
            ("groups", &|b: &mut GroupBuffers<'_>| b.groups.len = 5, 4, 5),
            ("out", &|b: &mut GroupBuffers<'_>| b.out.len = 3, 4, 3),
            (
                "scratch",
                &|b: &mut GroupBuffers<'_>| b.scratch.len -= 1,
                group_device_scratch_len(4, 2, 2),
                group_device_scratch_len(4, 2, 2) - 1,
            ),
            (
                "report",
                &|b: &mut GroupBuffers<'_>| b.report.len = 23,
                24,
                23,
            ),
        ] {
            assert_eq!(
                e(&chs, &w, 2, f),
                inv(Error::Length {
                    arg,
                    expected,
                    actual
                })
            );
        }
        assert_eq!(
            e(&chs, &w, 2, &|b| b.out.ptr = 0),
            CudaError::NullPointer { arg: "out" }
        );
        assert_eq!(
            e(&chs, &w, 2, &|b| b.report.ptr = 0),
            CudaError::NullPointer { arg: "report" }
        );
        assert!(matches!(
            e(&chs, &w, 0, &none),
            CudaError::Invalid(Error::OutOfRange {
                arg: "num_groups",
                ..
            })
        ));
        assert!(matches!(
            e(&chs, &w, 1 << 31, &none),
            CudaError::Invalid(Error::OutOfRange {
                arg: "num_groups",
                ..
            })
        ));
        // An empty batch, as the oracle names it.
        let s0 = Shape::new(0, 3);
        let seq = [DevChannel {
            data: p(0, 0),
            dense: false,
        }];
        let b0 = GroupBuffers {
            channels: &seq,
            weights: &[1.0],
            groups: p(0, 0),
            mask: p(0, 0),
            out: p(0, 0),
            scratch: p(0x1, 100),
            report: p(0x2, GROUP_REPORT_LEN),
        };
        let err = plan_group(&b0, 1, s0, &params).unwrap_err();
        let (mut scratch, mut out) = (vec![0.0f64; group_scratch_len(0, 1)], vec![]);
        let cpu = group_advantages::<f32>(
            &[Channel::Sequence(&[])],
            &[1.0],
            &[],
            1,
            &[],
            s0,
            &params,
            &mut scratch,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(err, CudaError::Invalid(cpu));
        assert_eq!(cpu, Error::EmptyBatch { arg: "groups" });
    }

    fn report() -> Vec<u64> {
        vec![0u64; GROUP_REPORT_LEN]
    }

    #[test]
    fn the_report_decodes_to_the_oracles_stats() {
        let mut r = report();
        r[GROUP_R_GROUPS] = 5;
        r[GROUP_R_SINGLETONS] = 1;
        r[GROUP_R_TOKENS] = 77;
        r[GROUP_R_ZERO_VAR] = 2;
        r[GROUP_R_ZERO_VAR + 1] = 1;
        r[GROUP_R_ZERO_VAR + 2] = 3;
        let grpo = GroupParams::default();
        let want = |zero_variance| GroupStats {
            groups: 5,
            singletons: 1,
            zero_variance,
            tokens: 77,
        };
        assert_eq!(group_outcome(&r, 3, &grpo).unwrap(), want(2));
        // GDPO: the fewest of any one reward (of the n used).
        let gdpo = GroupParams::new(GroupEstimator::Gdpo, Convention::Verl);
        assert_eq!(group_outcome(&r, 3, &gdpo).unwrap(), want(1));
        assert_eq!(group_outcome(&r, 1, &gdpo).unwrap(), want(2));
        assert_eq!(group_outcome(&r, 4, &gdpo).unwrap(), want(0));
        assert!(matches!(
            group_outcome(&r[..23], 1, &grpo),
            Err(CudaError::Invalid(Error::Length { arg: "report", .. }))
        ));
        assert_eq!(
            group_outcome(&r, 0, &grpo),
            Err(CudaError::Invalid(Error::NoRewards))
        );
    }

    #[test]
    fn the_report_decodes_to_the_oracles_errors_in_its_order() {
        let p = GroupParams {
            group_size: Some(4),
            ..GroupParams::default()
        };
        let mut r = report();
        // Every error at once: the oracle checks ids, then scores, then sizes, then
        // overflow; the report keys hold the complement of the smallest key.
        r[GROUP_R_BITS] =
            GROUP_BIT_BAD_ID | GROUP_BIT_BAD_REWARD | GROUP_BIT_BAD_SIZE | GROUP_BIT_OVERFLOW;
        r[GROUP_R_BAD_ID] = !((3u64 << 32) | 99);
        r[GROUP_R_BAD_REWARD] = !((2u64 << 56) | 1234);
        r[GROUP_R_BAD_SIZE] = !((7u64 << 32) | 3);
        r[GROUP_R_OVERFLOW] = !5u64;
        let step = |r: &mut Vec<u64>, bit: u64| r[GROUP_R_BITS] &= !bit;
        assert_eq!(
            group_outcome(&r, 3, &p),
            Err(CudaError::Invalid(Error::OutOfRange {
                arg: "groups",
                expected: "[0, num_groups)",
                actual: 99.0
            }))
        );
        step(&mut r, GROUP_BIT_BAD_ID);
        assert_eq!(
            group_outcome(&r, 3, &p),
            Err(CudaError::Invalid(Error::NonFinite {
                arg: "rewards",
                index: 1234
            }))
        );
        step(&mut r, GROUP_BIT_BAD_REWARD);
        assert_eq!(
            group_outcome(&r, 3, &p),
            Err(CudaError::Invalid(Error::GroupSize {
                group: 7,
                expected: 4,
                actual: 3
            }))
        );
        step(&mut r, GROUP_BIT_BAD_SIZE);
        assert_eq!(
            group_outcome(&r, 3, &p),
            Err(CudaError::Invalid(Error::Overflow {
                arg: "advantages",
                row: 5
            }))
        );
        step(&mut r, GROUP_BIT_OVERFLOW);
        assert!(group_outcome(&r, 3, &p).is_ok());
        r[GROUP_R_BITS] = 64;
        assert_eq!(
            group_outcome(&r, 3, &p),
            Err(CudaError::Status { bits: 64 })
        );
    }

    #[test]
    fn dtypes_of_the_storage_types() {
        assert_eq!(Dtype::of::<f32>().unwrap(), Dtype::F32);
        assert_eq!(Dtype::of::<composer_core::bf16>().unwrap(), Dtype::Bf16);
    }
}
