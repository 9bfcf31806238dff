//! The main job until the trainer lands: runs the Fast RL composer, the KL penalty and
//! the fused GAE pass on a synthetic multi-reward batch, step after step, and prints the
//! weights, per-reward means, disparity and a few advantages.
//!
//! A toy "policy" improves each reward in proportion to the weight it gets, with
//! diminishing returns, so the composer's choice of weights matters: Fast RL moves weight
//! to the lagging reward and the rewards end up closer together than with fixed weights.
//!
//! ```text
//! cargo run --release -p composer-core --example synthetic -- [--steps N] [--batch B] [--len T] [--composer fastrl|fixed]
//! ```

use composer_core::{
    fused_pass, reward_means, whiten, Channel, Composer, Diagnostics, FastRl, FastRlConfig, Fixed,
    FusedInputs, FusedOutputs, FusedParams, KlController, MaskMode, Shape,
};
use std::error::Error;

/// xorshift64*: a tiny deterministic generator so the example needs no dependency.
struct Rng(u64);
impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32) / (1u64 << 24) as f32
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.next_f32().max(1e-7), self.next_f32());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

fn arg(args: &[String], name: &str, default: usize) -> Result<usize, Box<dyn Error>> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args
            .get(i + 1)
            .ok_or_else(|| format!("{name} needs a value"))?
            .parse()
            .map_err(|e| format!("{name}: {e}"))?),
        None => Ok(default),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = arg(&args, "--steps", 40)?;
    let batch = arg(&args, "--batch", 64)?;
    let len = arg(&args, "--len", 32)?;
    let which = match args.iter().position(|a| a == "--composer") {
        Some(i) => args.get(i + 1).map(String::as_str).unwrap_or("fastrl"),
        None => "fastrl",
    };
    // Three rewards that start unequal (think METEOR, semantic similarity, BLEU): the
    // first two are sequence-level, the third is per token.
    let names = ["meteor (seq)", "similarity (seq)", "bleu (dense)"];
    let mut skill = [0.45f32, 0.30, 0.05];
    let gain = [0.6f32, 0.5, 0.4];
    let mut composer: Box<dyn Composer> = match which {
        "fastrl" => Box::new(FastRl::new(
            3,
            FastRlConfig {
                eta: 4.0,
                ..Default::default()
            },
        )?),
        "fixed" => Box::new(Fixed::new(&[1.0 / 3.0; 3])?),
        other => return Err(format!("--composer must be fastrl or fixed, got {other}").into()),
    };
    let mut kl = KlController::adaptive(0.2, 0.05, 1000.0)?;
    let shape = Shape::new(batch, len);
    let tokens = shape.tokens()?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut seq0, mut seq1) = (vec![0f32; batch], vec![0f32; batch]);
    let mut dense = vec![0f32; tokens];
    let (mut logp, mut ref_logp, mut values) =
        (vec![0f32; tokens], vec![0f32; tokens], vec![0f32; tokens]);
    let mut mask = vec![0u8; tokens];
    let (mut r_exp, mut adv, mut ret) =
        (vec![0f32; tokens], vec![0f32; tokens], vec![0f32; tokens]);
    println!("composer = {which}, batch = {batch}, len = {len}, steps = {steps}");
    println!(
        "{:>4}  {:>26}  {:>26}  {:>9}  {:>6}  {:>6}",
        "step", "reward means", "weights", "disparity", "min", "beta"
    );
    for step in 0..steps {
        // Sample a batch: variable-length rows, rewards around the current skills.
        for b in 0..batch {
            let l = 1 + (rng.next_f32() * len as f32) as usize % len;
            seq0[b] = (skill[0] + 0.1 * rng.normal()).clamp(0.0, 1.0);
            seq1[b] = (skill[1] + 0.1 * rng.normal()).clamp(0.0, 1.0);
            for t in 0..len {
                let i = b * len + t;
                mask[i] = (t < l) as u8;
                dense[i] = (skill[2] + 0.05 * rng.normal()).clamp(0.0, 1.0);
                ref_logp[i] = -2.0 + 0.3 * rng.normal();
                logp[i] = ref_logp[i] + 0.05 * step as f32 / steps as f32 + 0.05 * rng.normal();
                values[i] = 0.5 * skill.iter().sum::<f32>() / 3.0;
            }
        }
        let channels = [
            Channel::Sequence(&seq0[..]),
            Channel::Sequence(&seq1[..]),
            Channel::Dense(&dense[..]),
        ];
        let mut means = [0f32; 3];
        reward_means(&channels, &mask, shape, MaskMode::Prefix, &mut means)?;
        let weights: Vec<f32> = composer.update(&means)?.to_vec();
        let params = FusedParams {
            beta: kl.beta(),
            ..Default::default()
        };
        let inputs = FusedInputs {
            channels: &channels,
            weights: &weights,
            logp: &logp,
            ref_logp: &ref_logp,
            values: &values,
            mask: &mask,
        };
        let mut out = FusedOutputs {
            rewards: &mut r_exp,
            advantages: &mut adv,
            returns: &mut ret,
        };
        let stats = fused_pass(&inputs, shape, &params, &mut out)?;
        whiten(&mut adv, &mask)?;
        kl.update(
            (stats.kl_sum / stats.valid_tokens as f64) as f32,
            batch as u64,
        )?;
        let d = Diagnostics::new(&weights, &means)?;
        if step % 5 == 0 || step + 1 == steps {
            println!(
                "{step:>4}  {:>26}  {:>26}  {:>9.4}  {:>6.3}  {:>6.3}",
                fmt3(&means),
                fmt3(&weights),
                d.disparity,
                d.min,
                kl.beta()
            );
        }
        // Toy learning: each skill improves with its weight, with diminishing returns.
        for i in 0..3 {
            skill[i] += 0.05 * gain[i] * weights[i] * (1.0 - skill[i]);
        }
    }
    println!(
        "final skills: {}",
        names
            .iter()
            .zip(skill)
            .map(|(n, s)| format!("{n} {s:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "row 0 whitened advantages (first 8): {:?}",
        &adv[..8.min(len)]
    );
    Ok(())
}

fn fmt3(x: &[f32]) -> String {
    x.iter()
        .map(|v| format!("{v:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}
