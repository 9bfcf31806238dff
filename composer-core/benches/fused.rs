//! Fused pass (composition + KL + GAE + returns) against the frameworks' multi-pass
//! pattern, same process, same inputs. `Throughput::Elements` = tokens.
//!
//! `cargo bench -p composer-core --bench fused`; summarise with
//! `python3 composer-core/benches/report.py`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use composer_core::{
    fused_pass, whiten, Channel, FusedInputs, FusedOutputs, FusedParams, Shape, Storage,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
#[allow(dead_code)]
mod common;
use common::{unfused, Batch, Bf16, Scratch};
use std::hint::black_box;
use std::time::Duration;

fn run<T: Storage>(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("fused_{}", T::NAME));
    g.sample_size(10)
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
            let batch = Batch::<T>::new(b, t, n);
            let tokens = b * t;
            g.throughput(Throughput::Elements(tokens as u64));
            let id = format!("B{b}_T{t}_n{n}");
            let ch: Vec<Channel<'_, T>> = batch
                .rewards
                .iter()
                .map(|r| Channel::Dense(&r[..]))
                .collect();
            let (mut r, mut a, mut ret) = (vec![0.0; tokens], vec![0.0; tokens], vec![0.0; tokens]);
            let inputs = FusedInputs {
                channels: &ch,
                weights: &batch.weights,
                logp: &batch.logp,
                ref_logp: &batch.ref_logp,
                values: &batch.values,
                mask: &batch.mask,
            };
            let p = FusedParams::default();
            let shape = Shape::new(b, t);
            g.bench_function(BenchmarkId::new("fused", &id), |bench| {
                bench.iter(|| {
                    let mut out = FusedOutputs {
                        rewards: &mut r,
                        advantages: &mut a,
                        returns: &mut ret,
                    };
                    black_box(fused_pass(black_box(&inputs), shape, &p, &mut out).unwrap())
                })
            });
            g.bench_function(BenchmarkId::new("fused_whiten", &id), |bench| {
                bench.iter(|| {
                    let mut out = FusedOutputs {
                        rewards: &mut r,
                        advantages: &mut a,
                        returns: &mut ret,
                    };
                    fused_pass(black_box(&inputs), shape, &p, &mut out).unwrap();
                    black_box(whiten(&mut a, &batch.mask).unwrap())
                })
            });
            let mut s = Scratch::new(tokens);
            g.bench_function(BenchmarkId::new("unfused", &id), |bench| {
                bench.iter(|| {
                    unfused(black_box(&batch), p.beta, p.gae.gamma, p.gae.lambda, &mut s);
                    black_box(s.advantages[0])
                })
            });
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    run::<f32>(c);
    run::<Bf16>(c);
}

criterion_group!(fused, benches);
criterion_main!(fused);
