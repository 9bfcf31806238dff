//! GPU throughput of the fused pass (`cargo bench -p composer-cuda`), in the same run as
//! a device-to-device copy of the same bytes (the practical roofline), the frameworks'
//! one-launch-per-time-step GAE loop, and composer-core's CPU fused pass; and the
//! group-relative pass (`group_gpu_{arch}`: GRPO and GDPO at 4,096 responses in groups of
//! 8 x n in {2, 4, 8} sequence-level rewards, and 512 x 1,024 per-token with n = 4) on
//! device-resident buffers, through the host-slice wrapper (copies included) and on the
//! CPU core. Prints SKIPPED and measures nothing where no CUDA driver is present.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use composer_core::{
    bf16, fused_pass, group_advantages, group_scratch_len, Channel, Convention, FusedInputs,
    FusedOutputs, FusedParams, GroupEstimator, GroupParams, Shape,
};
use composer_cuda::{
    group_device_scratch_len, group_outcome, DevChannel, DevPtr, Dtype, FusedBuffers, FusedVariant,
    Gpu, GroupBuffers, GROUP_REPORT_LEN,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr};
use std::sync::Arc;
use std::time::Duration;

fn ptr<T>(s: &CudaSlice<T>, stream: &Arc<CudaStream>) -> DevPtr {
    let (p, _sync) = s.device_ptr(stream);
    DevPtr {
        ptr: p,
        len: s.len(),
    }
}

fn bench(c: &mut Criterion) {
    let g = match Gpu::new(0) {
        Ok(g) => g,
        Err(e) => {
            println!("SKIPPED: {e}");
            return;
        }
    };
    let s = g.stream().clone();
    let mut group = c.benchmark_group(format!("gpu_{}", g.arch()));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for &(b, t) in &[
        (64, 128),
        (64, 1024),
        (64, 4096),
        (512, 128),
        (512, 1024),
        (512, 4096),
    ] {
        for &n in &[2usize, 4, 8] {
            let tokens = b * t;
            let host = |off: f32| -> Vec<f32> {
                (0..tokens)
                    .map(|i| off + ((i * 7919) % 1000) as f32 / 1000.0)
                    .collect()
            };
            let rewards: Vec<Vec<f32>> = (0..n).map(|k| host(k as f32)).collect();
            let (logp, ref_logp, values) = (host(-2.0), host(-2.1), host(0.0));
            let mask: Vec<u8> = (0..tokens)
                .map(|i| (i % t < t / 2 + (i / t) % (t / 2 + 1)) as u8)
                .collect();
            let weights = vec![1.0 / n as f32; n];
            let up = |x: &[f32]| s.clone_htod(x).expect("upload");
            let d_rew: Vec<CudaSlice<f32>> = rewards.iter().map(|x| up(x)).collect();
            let (d_lp, d_rl, d_v) = (up(&logp), up(&ref_logp), up(&values));
            let d_m = s.clone_htod(&mask).expect("upload");
            let zeros = |n: usize| s.alloc_zeros::<f32>(n).expect("alloc");
            let (d_r, d_a, d_ret) = (zeros(tokens), zeros(tokens), zeros(tokens));
            let d_stats = s.alloc_zeros::<f64>(3).expect("alloc");
            let d_status = s.alloc_zeros::<i32>(1).expect("alloc");
            let chs: Vec<DevChannel> = d_rew
                .iter()
                .map(|x| DevChannel {
                    data: ptr(x, &s),
                    dense: true,
                })
                .collect();
            let bufs = FusedBuffers {
                channels: &chs,
                weights: &weights,
                logp: ptr(&d_lp, &s),
                ref_logp: ptr(&d_rl, &s),
                values: ptr(&d_v, &s),
                mask: ptr(&d_m, &s),
                out_rewards: ptr(&d_r, &s),
                out_adv: ptr(&d_a, &s),
                out_ret: ptr(&d_ret, &s),
                stats: ptr(&d_stats, &s),
                status: ptr(&d_status, &s),
            };
            let params = FusedParams::default();
            let shape = Shape::new(b, t);
            let bytes = tokens * ((n + 3) * 4 + 1 + 12);
            let id = format!("B{b}_T{t}_n{n}");
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_function(BenchmarkId::new("fused_f32", &id), |bench| {
                bench.iter(|| {
                    // SAFETY: every pointer comes from a live CudaSlice of the stated length.
                    unsafe { g.fused_raw(Dtype::F32, &bufs, shape, &params) }.expect("launch");
                    s.synchronize().expect("sync");
                })
            });
            group.bench_function(BenchmarkId::new("fused_f32_streaming", &id), |bench| {
                bench.iter(|| {
                    // SAFETY: every pointer comes from a live CudaSlice of the stated length.
                    unsafe {
                        g.fused_raw_with(FusedVariant::Streaming, Dtype::F32, &bufs, shape, &params)
                    }
                    .expect("launch");
                    s.synchronize().expect("sync");
                })
            });
            // The same inputs stored as bf16 (outputs stay f32).
            let upb = |x: &[f32]| {
                let h: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
                s.clone_htod(&h).expect("upload")
            };
            let b_rew: Vec<CudaSlice<bf16>> = rewards.iter().map(|x| upb(x)).collect();
            let (b_lp, b_rl, b_v) = (upb(&logp), upb(&ref_logp), upb(&values));
            let b_chs: Vec<DevChannel> = b_rew
                .iter()
                .map(|x| DevChannel {
                    data: ptr(x, &s),
                    dense: true,
                })
                .collect();
            let b_bufs = FusedBuffers {
                channels: &b_chs,
                logp: ptr(&b_lp, &s),
                ref_logp: ptr(&b_rl, &s),
                values: ptr(&b_v, &s),
                ..bufs
            };
            let b_bytes = tokens * ((n + 3) * 2 + 1 + 12);
            group.throughput(Throughput::Bytes(b_bytes as u64));
            group.bench_function(BenchmarkId::new("fused_bf16", &id), |bench| {
                bench.iter(|| {
                    // SAFETY: every pointer comes from a live CudaSlice of the stated length.
                    unsafe { g.fused_raw(Dtype::Bf16, &b_bufs, shape, &params) }.expect("launch");
                    s.synchronize().expect("sync");
                })
            });
            group.throughput(Throughput::Bytes(bytes as u64));
            // The same number of bytes, device to device: the practical roofline.
            let src = s.alloc_zeros::<u8>(bytes / 2).expect("alloc");
            let mut dst = s.alloc_zeros::<u8>(bytes / 2).expect("alloc");
            group.bench_function(BenchmarkId::new("copy_same_bytes", &id), |bench| {
                bench.iter(|| {
                    s.memcpy_dtod(&src, &mut dst).expect("copy");
                    s.synchronize().expect("sync");
                })
            });
            let (nv, last) = (zeros(b), zeros(b));
            group.bench_function(BenchmarkId::new("per_step_launch_loop", &id), |bench| {
                bench.iter(|| {
                    // SAFETY: pointers from live slices of the stated lengths.
                    unsafe {
                        g.gae_per_step_raw(
                            ptr(&d_rew[0], &s),
                            ptr(&d_v, &s),
                            ptr(&d_m, &s),
                            ptr(&d_a, &s),
                            ptr(&nv, &s),
                            ptr(&last, &s),
                            shape,
                            0.99,
                            0.95,
                        )
                    }
                    .expect("launch");
                    s.synchronize().expect("sync");
                })
            });
            let hch: Vec<Channel<'_, f32>> =
                rewards.iter().map(|x| Channel::Dense(&x[..])).collect();
            let (mut hr, mut ha, mut hret) =
                (vec![0.0; tokens], vec![0.0; tokens], vec![0.0; tokens]);
            let inputs = FusedInputs {
                channels: &hch,
                weights: &weights,
                logp: &logp,
                ref_logp: &ref_logp,
                values: &values,
                mask: &mask,
            };
            group.bench_function(BenchmarkId::new("cpu_core", &id), |bench| {
                bench.iter(|| {
                    fused_pass(
                        &inputs,
                        shape,
                        &params,
                        &mut FusedOutputs {
                            rewards: &mut hr,
                            advantages: &mut ha,
                            returns: &mut hret,
                        },
                    )
                    .expect("cpu")
                })
            });
        }
    }
    group.finish();
}

/// The group bench's scores: deterministic values in [0, 1).
fn scores(len: usize, n: usize, seed: u32) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            (0..len)
                .map(|j| {
                    let x = (j as u32)
                        .wrapping_mul(2_654_435_761)
                        .wrapping_add(seed + i as u32 * 97);
                    (x % 10_000) as f32 / 10_000.0
                })
                .collect()
        })
        .collect()
}

/// One group-pass configuration: device-resident, host slices, CPU core.
#[allow(clippy::too_many_arguments)]
fn bench_group_case(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    g: &Gpu,
    id: &str,
    shape: Shape,
    data: &[Vec<f32>],
    dense: bool,
    mask: &[u8],
    k: usize,
) {
    let s = g.stream().clone();
    let (b, n) = (shape.batch, data.len());
    let groups: Vec<u32> = (0..b).map(|i| (i / k) as u32).collect();
    let ng = b / k;
    let w = vec![1.0 / n as f32; n];
    let chs: Vec<Channel<'_, f32>> = data
        .iter()
        .map(|x| {
            if dense {
                Channel::Dense(&x[..])
            } else {
                Channel::Sequence(&x[..])
            }
        })
        .collect();
    let d_data: Vec<CudaSlice<f32>> = data
        .iter()
        .map(|x| s.clone_htod(x).expect("upload"))
        .collect();
    let dchs: Vec<DevChannel> = d_data
        .iter()
        .map(|x| DevChannel {
            data: ptr(x, &s),
            dense,
        })
        .collect();
    let d_groups = s.clone_htod(&groups).expect("upload");
    let d_mask = s.clone_htod(mask).expect("upload");
    let d_out = s.alloc_zeros::<f32>(b).expect("alloc");
    let d_scratch = s
        .alloc_zeros::<f64>(group_device_scratch_len(b, n, ng))
        .expect("alloc");
    let d_report = s.alloc_zeros::<u64>(GROUP_REPORT_LEN).expect("alloc");
    let bufs = GroupBuffers {
        channels: &dchs,
        weights: &w,
        groups: ptr(&d_groups, &s),
        mask: ptr(&d_mask, &s),
        out: ptr(&d_out, &s),
        scratch: ptr(&d_scratch, &s),
        report: ptr(&d_report, &s),
    };
    let mut scratch = vec![0.0f64; group_scratch_len(b, ng)];
    let (mut out, mut want) = (vec![0.0f32; b], vec![0.0f32; b]);
    for est in [GroupEstimator::Grpo, GroupEstimator::Gdpo] {
        let p = GroupParams::new(est, Convention::Verl);
        // Checked once against the CPU core before anything is timed.
        group_advantages(
            &chs,
            &w,
            &groups,
            ng,
            mask,
            shape,
            &p,
            &mut scratch,
            &mut want,
        )
        .expect("cpu");
        // SAFETY: every pointer comes from a live CudaSlice of the stated length and type.
        unsafe { g.group_advantages_raw(Dtype::F32, &bufs, ng, shape, &p) }.expect("launch");
        s.synchronize().expect("sync");
        group_outcome(&s.clone_dtoh(&d_report).expect("report"), n, &p).expect("outcome");
        let got = s.clone_dtoh(&d_out).expect("out");
        for (x, y) in got.iter().zip(&want) {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{est:?}: {x} vs {y}"
            );
        }
        let name = est.name();
        group.bench_function(BenchmarkId::new(format!("{name}_device"), id), |bench| {
            bench.iter(|| {
                // SAFETY: every pointer comes from a live CudaSlice of the stated length.
                unsafe { g.group_advantages_raw(Dtype::F32, &bufs, ng, shape, &p) }
                    .expect("launch");
                s.synchronize().expect("sync");
            })
        });
        group.bench_function(
            BenchmarkId::new(format!("{name}_host_slices"), id),
            |bench| {
                bench.iter(|| {
                    g.group_advantages(&chs, &w, &groups, ng, mask, shape, &p, &mut out)
                        .expect("gpu")
                })
            },
        );
        group.bench_function(BenchmarkId::new(format!("{name}_cpu_core"), id), |bench| {
            bench.iter(|| {
                group_advantages(
                    &chs,
                    &w,
                    &groups,
                    ng,
                    mask,
                    shape,
                    &p,
                    &mut scratch,
                    &mut out,
                )
                .expect("cpu")
            })
        });
    }
}

/// The group-relative pass. Its criterion group is `group_gpu_{arch}`, outside
/// gpu-bench-table.py's `gpu_` table of the fused pass.
fn bench_group(c: &mut Criterion) {
    let g = match Gpu::new(0) {
        Ok(g) => g,
        Err(e) => {
            println!("SKIPPED: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group(format!("group_gpu_{}", g.arch()));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let b = 4096;
    for n in [2usize, 4, 8] {
        group.throughput(Throughput::Elements((b * n) as u64));
        let data = scores(b, n, 1);
        let id = format!("B{b}_T1_n{n}");
        bench_group_case(
            &mut group,
            &g,
            &id,
            Shape::new(b, 1),
            &data,
            false,
            &vec![1u8; b],
            8,
        );
    }
    let (b, t, n) = (512usize, 1024usize, 4usize);
    let mask: Vec<u8> = (0..b * t)
        .map(|j| ((j % t) < t / 2 + (j / t) % (t / 2)) as u8)
        .collect();
    group.throughput(Throughput::Bytes((b * t * (4 * n + 1)) as u64));
    bench_group_case(
        &mut group,
        &g,
        &format!("B{b}_T{t}_n{n}"),
        Shape::new(b, t),
        &scores(b * t, n, 2),
        true,
        &mask,
        8,
    );
    group.finish();
}

criterion_group!(gpu, bench, bench_group);
criterion_main!(gpu);
