//! GPU throughput of the fused pass (`cargo bench -p composer-cuda`), in the same run as
//! a device-to-device copy of the same bytes (the practical roofline), the frameworks'
//! one-launch-per-time-step GAE loop, and composer-core's CPU fused pass. Prints SKIPPED
//! and measures nothing where no CUDA driver is present.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use composer_core::{bf16, fused_pass, Channel, FusedInputs, FusedOutputs, FusedParams, Shape};
use composer_cuda::{DevChannel, DevPtr, Dtype, FusedBuffers, FusedVariant, Gpu};
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

criterion_group!(gpu, bench);
criterion_main!(gpu);
