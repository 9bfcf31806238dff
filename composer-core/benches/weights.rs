//! The Fast RL weight update (Eq. (5)) per call, n in {2, 4, 8, 16}.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use composer_core::{Composer, FastRl, FastRlConfig, Normalization, Smoothing, UpdateRule};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("weight_update");
    for &n in &[2usize, 4, 8, 16] {
        let base = FastRlConfig {
            eta: 0.5,
            ..Default::default()
        };
        for (name, cfg) in [
            ("plain", base),
            (
                "ema",
                FastRlConfig {
                    smoothing: Smoothing::Ema { decay: 0.9 },
                    ..base
                },
            ),
            (
                "reference",
                FastRlConfig {
                    normalization: Normalization::Reference,
                    ..base
                },
            ),
            (
                "optimistic",
                FastRlConfig {
                    rule: UpdateRule::Optimistic,
                    ..base
                },
            ),
            // A radius the alternating batches keep pressing against: the projection
            // runs on most steps.
            (
                "ball",
                FastRlConfig {
                    eta: 5.0,
                    radius: 0.01,
                    ..base
                },
            ),
        ] {
            let mut comp = FastRl::new(n, cfg).unwrap();
            comp.set_reference(&vec![0.05; n], &vec![0.5; n]).unwrap();
            // Two batches alternating, so the weights stay spread (with fixed means they
            // collapse onto one reward and most exponentials hit the cutoff).
            let a: Vec<f32> = (0..n).map(|i| 0.1 * i as f32).collect();
            let b: Vec<f32> = (0..n).map(|i| 0.1 * (n - i) as f32).collect();
            let mut flip = false;
            g.bench_function(BenchmarkId::new(name, n), |bench| {
                bench.iter(|| {
                    flip = !flip;
                    black_box(comp.update(black_box(if flip { &a } else { &b })).unwrap()[0])
                })
            });
        }
    }
    g.finish();
}

criterion_group!(weights, bench);
criterion_main!(weights);
