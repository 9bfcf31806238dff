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
