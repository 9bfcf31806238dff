//! Group-relative advantages (`composer_core::group_advantages`): sequence-level at 4,096
//! responses (groups of 8) x n in {2, 4, 8} rewards, and per-token (dense channels,
//! summed per response) at 512 x 1,024. The peers' torch implementations are timed against
//! it in the same process by `bindings/fastrl-python/bench/group_speed.py` (ratios printed).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use composer_core::{
    group_advantages, group_scratch_len, Channel, Convention, GroupEstimator, GroupParams, Shape,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn data(len: usize, n: usize, seed: u32) -> Vec<Vec<f32>> {
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

fn bench(c: &mut Criterion) {
    let k = 8;
    let mut g = c.benchmark_group("group_sequence");
    let b = 4096;
    let groups: Vec<u32> = (0..b as u32).map(|i| i / k).collect();
    let ng = b / k as usize;
    let mask = vec![1u8; b];
    for &n in &[2usize, 4, 8] {
        let scores = data(b, n, 1);
        let chs: Vec<Channel<'_, f32>> = scores.iter().map(|s| Channel::Sequence(&s[..])).collect();
        let w = vec![1.0 / n as f32; n];
        let mut scratch = vec![0.0f64; group_scratch_len(b, ng)];
        let mut out = vec![0.0f32; b];
        g.throughput(Throughput::Elements((b * n) as u64));
        for est in [GroupEstimator::Grpo, GroupEstimator::Gdpo] {
            let p = GroupParams::new(est, Convention::Verl);
            g.bench_function(BenchmarkId::new(est.name(), n), |bench| {
                bench.iter(|| {
                    group_advantages(
                        black_box(&chs),
                        &w,
                        &groups,
                        ng,
                        &mask,
                        Shape::new(b, 1),
                        &p,
                        &mut scratch,
                        &mut out,
                    )
                    .unwrap();
                    black_box(out[0])
                })
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("group_per_token");
    let (b, t, n) = (512usize, 1024usize, 4usize);
    let groups: Vec<u32> = (0..b as u32).map(|i| i / k).collect();
    let ng = b / k as usize;
    let dense = data(b * t, n, 2);
    let mask: Vec<u8> = (0..b * t)
        .map(|j| ((j % t) < t / 2 + (j / t) % (t / 2)) as u8)
        .collect();
    let chs: Vec<Channel<'_, f32>> = dense.iter().map(|s| Channel::Dense(&s[..])).collect();
    let w = vec![0.25f32; n];
    let mut scratch = vec![0.0f64; group_scratch_len(b, ng)];
    let mut out = vec![0.0f32; b];
    g.throughput(Throughput::Bytes((b * t * (4 * n + 1)) as u64));
    g.sample_size(20);
    for est in [GroupEstimator::Grpo, GroupEstimator::Gdpo] {
        let p = GroupParams::new(est, Convention::Verl);
        g.bench_function(BenchmarkId::new(est.name(), n), |bench| {
            bench.iter(|| {
                group_advantages(
                    black_box(&chs),
                    &w,
                    &groups,
                    ng,
                    &mask,
                    Shape::new(b, t),
                    &p,
                    &mut scratch,
                    &mut out,
                )
                .unwrap();
                black_box(out[0])
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
