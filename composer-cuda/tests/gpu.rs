//! GPU equivalence: the kernels against composer-core (the oracle) over random shapes,
//! including T = 1, all-masked rows, sizes around the block and chunk sizes, both mask
//! semantics and n = 1..8, f32 (relative error <= 1e-5 of the row's scale) and bf16; and
//! the group-relative pass (every estimator x convention x whitening, GRPO's scales,
//! sequence and dense channels, singletons, zero-variance and empty groups, contiguous
//! and shuffled ids, bad input) against `composer_core::group_advantages`.
//! Without a driver every test prints SKIPPED (counted separately by scripts/gpu-check.sh).

use composer_core::{
    bf16, fused_pass, group_advantages, group_scratch_len, whiten, Channel, Composer, FastRl,
    FastRlConfig, FusedInputs, FusedOutputs, FusedParams, GaeParams, GroupParams, KlEstimator,
    MaskMode, Shape, Storage, MAX_REWARDS,
};
use composer_cuda::{
    group_device_scratch_len, group_outcome, initial_update_state, DevChannel, DevPtr, Dtype,
    FusedBuffers, FusedVariant, Gpu, GroupBuffers, GROUP_REPORT_LEN, STAGED_MAX_LEN,
};
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr, DeviceRepr, ValidAsZeroBits};
use group_cases::{GroupCase, GroupResult, GroupRun};
use std::sync::Arc;

mod group_cases;

fn gpu() -> Option<Gpu> {
    match Gpu::new(0) {
        Ok(g) => Some(g),
        Err(e) => {
            println!("SKIPPED: {e}");
            None
        }
    }
}

/// splitmix64 in [-1, 1).
struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        (((self.f() + 1.0) * 0.5) * n as f32) as usize % n.max(1)
    }
}

fn ptr<T>(s: &CudaSlice<T>, stream: &Arc<CudaStream>) -> DevPtr {
    let (p, _sync) = s.device_ptr(stream);
    DevPtr {
        ptr: p,
        len: s.len(),
    }
}

fn upload<T: DeviceRepr>(stream: &Arc<CudaStream>, x: &[T]) -> CudaSlice<T> {
    stream.clone_htod(x).expect("upload")
}

fn zeros<T: DeviceRepr + ValidAsZeroBits>(stream: &Arc<CudaStream>, n: usize) -> CudaSlice<T> {
    stream.alloc_zeros::<T>(n.max(1)).expect("alloc")
}

/// Runs the fused kernel and the CPU oracle on the same batch; returns the worst error
/// relative to each row's scale.
#[allow(clippy::too_many_arguments)]
fn compare<T: Storage + DeviceRepr>(
    g: &Gpu,
    variant: FusedVariant,
    dtype: Dtype,
    shape: Shape,
    n: usize,
    carry: bool,
    est: KlEstimator,
    seed: u64,
) -> f64 {
    let s = g.stream();
    let mut rng = Rng(seed);
    let tokens = shape.batch * shape.len;
    let dense: Vec<bool> = (0..n).map(|i| (i + seed as usize) % 2 == 0).collect();
    let rewards: Vec<Vec<T>> = dense
        .iter()
        .map(|&d| {
            (0..if d { tokens } else { shape.batch })
                .map(|_| T::from_f32(rng.f()))
                .collect()
        })
        .collect();
    let weights: Vec<f32> = (0..n).map(|_| rng.f()).collect();
    let gen = |rng: &mut Rng, off: f32| -> Vec<T> {
        (0..tokens).map(|_| T::from_f32(off + rng.f())).collect()
    };
    let (logp, ref_logp, values) = (gen(&mut rng, -2.0), gen(&mut rng, -2.0), gen(&mut rng, 0.0));
    let mut mask = vec![0u8; tokens];
    for b in 0..shape.batch {
        let l = if b % 7 == 3 {
            0
        } else {
            rng.below(shape.len + 1)
        };
        for t in 0..shape.len {
            mask[b * shape.len + t] = if carry {
                (rng.f() > -0.4) as u8
            } else {
                (t < l) as u8
            };
        }
    }
    let mode = if carry {
        MaskMode::Carry
    } else {
        MaskMode::Prefix
    };
    let params = FusedParams {
        gae: GaeParams {
            gamma: 0.99,
            lambda: 0.95,
        },
        beta: 0.1,
        estimator: est,
        mode,
    };
    // CPU oracle
    let chs: Vec<Channel<'_, T>> = rewards
        .iter()
        .zip(&dense)
        .map(|(r, &d)| {
            if d {
                Channel::Dense(&r[..])
            } else {
                Channel::Sequence(&r[..])
            }
        })
        .collect();
    let (mut r, mut a, mut ret) = (
        vec![0.0f32; tokens],
        vec![0.0f32; tokens],
        vec![0.0f32; tokens],
    );
    let inputs = FusedInputs {
        channels: &chs,
        weights: &weights,
        logp: &logp,
        ref_logp: &ref_logp,
        values: &values,
        mask: &mask,
    };
    fused_pass(
        &inputs,
        shape,
        &params,
        &mut FusedOutputs {
            rewards: &mut r,
            advantages: &mut a,
            returns: &mut ret,
        },
    )
    .expect("oracle");
    // GPU
    let d_rewards: Vec<CudaSlice<T>> = rewards.iter().map(|x| upload(s, x)).collect();
    let (d_lp, d_rl, d_v, d_m) = (
        upload(s, &logp),
        upload(s, &ref_logp),
        upload(s, &values),
        upload(s, &mask),
    );
    let (d_r, d_a, d_ret) = (
        zeros::<f32>(s, tokens),
        zeros::<f32>(s, tokens),
        zeros::<f32>(s, tokens),
    );
    let (d_stats, d_status) = (zeros::<f64>(s, 3), zeros::<i32>(s, 1));
    let dchs: Vec<DevChannel> = d_rewards
        .iter()
        .zip(&dense)
        .map(|(x, &d)| DevChannel {
            data: ptr(x, s),
            dense: d,
        })
        .collect();
    let mut bufs = FusedBuffers {
        channels: &dchs,
        weights: &weights,
        logp: ptr(&d_lp, s),
        ref_logp: ptr(&d_rl, s),
        values: ptr(&d_v, s),
        mask: ptr(&d_m, s),
        out_rewards: ptr(&d_r, s),
        out_adv: ptr(&d_a, s),
        out_ret: ptr(&d_ret, s),
        stats: ptr(&d_stats, s),
        status: ptr(&d_status, s),
    };
    if tokens == 0 {
        bufs.out_rewards.len = 0;
    }
    // SAFETY: every pointer comes from a live CudaSlice of the stated length and type.
    unsafe { g.fused_raw_with(variant, dtype, &bufs, shape, &params) }.expect("launch");
    s.synchronize().expect("sync");
    let (gr, ga, gret) = (
        s.clone_dtoh(&d_r).unwrap(),
        s.clone_dtoh(&d_a).unwrap(),
        s.clone_dtoh(&d_ret).unwrap(),
    );
    let status = s.clone_dtoh(&d_status).unwrap()[0];
    assert_eq!(status & 2, 0, "non-finite output reported");
    let mut worst = 0.0f64;
    for b in 0..shape.batch {
        let row = b * shape.len..(b + 1) * shape.len;
        let scale = 1.0
            + a[row.clone()]
                .iter()
                .chain(&ret[row.clone()])
                .fold(0.0f32, |m, x| m.max(x.abs())) as f64;
        for i in row {
            for (x, y) in [(gr[i], r[i]), (ga[i], a[i]), (gret[i], ret[i])] {
                worst = worst.max((x - y).abs() as f64 / scale);
            }
        }
    }
    worst
}

#[test]
fn fused_f32_equals_the_cpu_core() {
    let Some(g) = gpu() else { return };
    let mut seed = 1;
    for &(b, t) in &[
        (1, 1),
        (3, 1),
        (5, 7),
        (8, 31),
        (8, 32),
        (8, 33),
        (16, 255),
        (16, 256),
        (16, 257),
        (4, 1023),
        (3, 4096),
        (64, 128),
        (2, 8191),
        (2, STAGED_MAX_LEN),
    ] {
        for n in [1, 2, 5, 8] {
            for carry in [false, true] {
                for est in [KlEstimator::K1, KlEstimator::K3] {
                    seed += 1;
                    for v in [FusedVariant::Streaming, FusedVariant::Staged] {
                        let shape = Shape::new(b, t);
                        let err = compare::<f32>(&g, v, Dtype::F32, shape, n, carry, est, seed);
                        assert!(
                            err <= 1e-5,
                            "{v:?} B={b} T={t} n={n} carry={carry} {est:?}: error {err}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn rows_longer_than_the_staged_limit_stream() {
    let Some(g) = gpu() else { return };
    let shape = Shape::new(2, STAGED_MAX_LEN + 1);
    // Auto picks the streaming kernel for these rows.
    let err = compare::<f32>(
        &g,
        FusedVariant::Auto,
        Dtype::F32,
        shape,
        3,
        false,
        KlEstimator::K1,
        5,
    );
    assert!(err <= 1e-5, "error {err}");
}

#[test]
fn fused_bf16_equals_the_cpu_core_on_the_same_bf16_inputs() {
    let Some(g) = gpu() else { return };
    for (i, &(b, t)) in [(1, 1), (8, 33), (16, 257), (3, 4096)].iter().enumerate() {
        for n in [1, 4, 8] {
            let err = compare::<bf16>(
                &g,
                FusedVariant::Auto,
                Dtype::Bf16,
                Shape::new(b, t),
                n,
                i % 2 == 1,
                KlEstimator::K2,
                100 + i as u64 * 10 + n as u64,
            );
            // Both sides widen the same bf16 inputs exactly; only f32 rounding differs.
            assert!(err <= 1e-5, "B={b} T={t} n={n}: error {err}");
        }
    }
}

#[test]
fn whitening_and_update_equal_the_cpu_core() {
    let Some(g) = gpu() else { return };
    let s = g.stream();
    let mut rng = Rng(7);
    let n = 10_000;
    let x: Vec<f32> = (0..n).map(|_| 3.0 * rng.f() + 0.5).collect();
    let m: Vec<u8> = (0..n).map(|_| (rng.f() > -0.5) as u8).collect();
    let mut want = x.clone();
    whiten(&mut want, &m).unwrap();
    let (dx, dm, st) = (upload(s, &x), upload(s, &m), zeros::<f64>(s, 3));
    // SAFETY: pointers from live slices of the stated lengths.
    unsafe { g.whiten_raw(ptr(&dx, s), ptr(&dm, s), ptr(&st, s)) }.unwrap();
    let got = s.clone_dtoh(&dx).unwrap();
    for i in 0..n {
        assert!(
            (got[i] - want[i]).abs() <= 1e-5 * (1.0 + want[i].abs()),
            "{i}: {} vs {}",
            got[i],
            want[i]
        );
    }
    // Device weight update from device sums vs FastRl::update on the host means.
    let shape = Shape::new(6, 9);
    let seq: Vec<f32> = (0..6).map(|_| rng.f()).collect();
    let dense: Vec<f32> = (0..54).map(|_| rng.f()).collect();
    let mask: Vec<u8> = (0..54).map(|i| (i % 9 < 5 + i / 9 % 4) as u8).collect();
    let cfg = FastRlConfig {
        eta: 2.0,
        smoothing: composer_core::Smoothing::Ema { decay: 0.5 },
        ..Default::default()
    };
    let mut cpu = FastRl::new(2, cfg).unwrap();
    let mut means = [0.0f32; 2];
    let chs = [Channel::Sequence(&seq[..]), Channel::Dense(&dense[..])];
    composer_core::reward_means(&chs, &mask, shape, MaskMode::Prefix, &mut means).unwrap();
    let (d_seq, d_dense, d_mask) = (upload(s, &seq), upload(s, &dense), upload(s, &mask));
    let state = upload(s, &initial_update_state(2));
    let (w, status) = (zeros::<f32>(s, 2), zeros::<i32>(s, 1));
    let dchs = [
        DevChannel {
            data: ptr(&d_seq, s),
            dense: false,
        },
        DevChannel {
            data: ptr(&d_dense, s),
            dense: true,
        },
    ];
    for _ in 0..3 {
        let fresh = zeros::<f64>(s, MAX_REWARDS + 2);
        // SAFETY: pointers from live slices of the stated lengths.
        unsafe {
            g.reward_sums_raw(Dtype::F32, &dchs, ptr(&d_mask, s), ptr(&fresh, s), shape)
                .unwrap();
            g.fastrl_update_raw(
                &cfg,
                &[0.0, 0.0],
                &[false, true],
                ptr(&fresh, s),
                ptr(&state, s),
                ptr(&w, s),
                ptr(&status, s),
            )
            .unwrap();
        }
        let want = cpu.update(&means).unwrap().to_vec();
        let got = s.clone_dtoh(&w).unwrap();
        for i in 0..2 {
            assert!((got[i] - want[i]).abs() <= 1e-5, "{got:?} vs {want:?}");
        }
    }
}

/// The GPU as the group tests' runner: the safe wrapper over host slices.
impl GroupRun for Gpu {
    fn run<T: Storage>(
        &self,
        chs: &[Channel<'_, T>],
        c: &GroupCase,
        p: &GroupParams,
    ) -> GroupResult {
        let mut out = vec![0.0f32; c.shape.batch];
        self.group_advantages(
            chs,
            &c.weights,
            &c.groups,
            c.num_groups,
            &c.mask,
            c.shape,
            p,
            &mut out,
        )
        .map(|st| (out, st))
    }
}

#[test]
fn group_f32_equals_the_cpu_core() {
    let Some(g) = gpu() else { return };
    group_cases::sweep::<f32, _>(&g, &group_cases::GROUP_SHAPES);
}

#[test]
fn group_bf16_equals_the_cpu_core_on_the_same_bf16_inputs() {
    let Some(g) = gpu() else { return };
    group_cases::sweep::<bf16, _>(&g, &group_cases::GROUP_SHAPES);
}

#[test]
fn group_sequence_only_and_zero_variance_are_exact() {
    let Some(g) = gpu() else { return };
    group_cases::sequence_only_and_zero_variance(&g);
}

#[test]
fn group_results_are_deterministic() {
    let Some(g) = gpu() else { return };
    group_cases::deterministic(&g);
}

#[test]
fn group_edge_cases_equal_the_cpu_core() {
    let Some(g) = gpu() else { return };
    group_cases::edge_cases(&g);
}

#[test]
fn group_raw_entry_on_resident_buffers() {
    let Some(g) = gpu() else { return };
    let s = g.stream();
    let c = group_cases::group_case(11, 512, 64, 4, true, false, false);
    let chs: Vec<Channel<'_, f32>> = c
        .channels
        .iter()
        .map(|(x, d)| {
            if *d {
                Channel::Dense(&x[..])
            } else {
                Channel::Sequence(&x[..])
            }
        })
        .collect();
    let d: Vec<CudaSlice<f32>> = c.channels.iter().map(|(x, _)| upload(s, x)).collect();
    let dchs: Vec<DevChannel> = d
        .iter()
        .zip(&c.channels)
        .map(|(x, (_, dense))| DevChannel {
            data: ptr(x, s),
            dense: *dense,
        })
        .collect();
    let (d_g, d_m) = (upload(s, &c.groups), upload(s, &c.mask));
    let b = c.shape.batch;
    let out = zeros::<f32>(s, b);
    // Scratch left dirty between calls on purpose: the pass needs no initialised scratch
    // or report.
    let scratch = upload(
        s,
        &vec![f64::NAN; group_device_scratch_len(b, 4, c.num_groups)],
    );
    let report = upload(s, &[u64::MAX; GROUP_REPORT_LEN]);
    let bufs = GroupBuffers {
        channels: &dchs,
        weights: &c.weights,
        groups: ptr(&d_g, s),
        mask: ptr(&d_m, s),
        out: ptr(&out, s),
        scratch: ptr(&scratch, s),
        report: ptr(&report, s),
    };
    for p in group_cases::group_configs() {
        // SAFETY: every pointer comes from a live CudaSlice of the stated length and type.
        unsafe { g.group_advantages_raw(Dtype::F32, &bufs, c.num_groups, c.shape, &p) }
            .expect("launch");
        s.synchronize().unwrap();
        let stats = group_outcome(&s.clone_dtoh(&report).unwrap(), 4, &p).expect("outcome");
        let got = s.clone_dtoh(&out).unwrap();
        let mut sc = vec![0.0f64; group_scratch_len(b, c.num_groups)];
        let mut want = vec![0.0f32; b];
        let st = group_advantages(
            &chs,
            &c.weights,
            &c.groups,
            c.num_groups,
            &c.mask,
            c.shape,
            &p,
            &mut sc,
            &mut want,
        )
        .unwrap();
        group_cases::group_check(
            &Ok((want, st)),
            &Ok((got, stats)),
            false,
            &format!("raw {p:?}"),
        );
    }
}
