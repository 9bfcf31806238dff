//! A host model of `kernels/group.cu`: each kernel transliterated with its thread
//! structure (a block of `threads_for(len)` threads per row reduced by `block_sum`'s tree,
//! a warp per group whose lanes walk the group's row range, single blocks of 1024 over
//! the rows), fed the `GroupParamsC` that `plan_group` builds, on the scratch layout of
//! `group_device_scratch_len`, writing the report words that `group_outcome` decodes.
//! Run on the shared group test bodies against the oracle, it checks the algorithm,
//! layout, parameters and report of the GPU pass without a GPU; `tests/gpu.rs` runs the
//! same bodies on the CUDA kernels.

use composer_core::{Channel, GroupParams, Storage};
use composer_cuda::launch::{group_device_scratch_len, group_outcome, plan_group};
use composer_cuda::params::{
    GroupParamsC, GROUP_BIT_BAD_ID, GROUP_BIT_BAD_REWARD, GROUP_BIT_BAD_SIZE, GROUP_BIT_OVERFLOW,
    GROUP_R_BAD_ID, GROUP_R_BAD_REWARD, GROUP_R_BAD_SIZE, GROUP_R_BITS, GROUP_R_GROUPS,
    GROUP_R_OVERFLOW, GROUP_R_SINGLETONS, GROUP_R_TOKENS, GROUP_R_ZERO_VAR,
};
use composer_cuda::{DevChannel, DevPtr, GroupBuffers, GROUP_REPORT_LEN};
use group_cases::{GroupCase, GroupResult, GroupRun};

mod group_cases;

// The core's codes as group.cu names them.
const EST_GRPO: i32 = 0;
const EST_RLOO: i32 = 1;
const EST_GDPO: i32 = 3;
const SCALE_GROUP: i32 = 0;
const SCALE_BATCH: i32 = 1;
const CONV_VERL: i32 = 0;
const CONV_TRL: i32 = 1;

/// `warp_sum`: `__shfl_down_sync` rounds 16, 8, 4, 2, 1; lane 0's value.
fn warp_sum(lanes: &[f64]) -> f64 {
    let mut x = [0.0f64; 32];
    x.copy_from_slice(lanes);
    for o in [16, 8, 4, 2, 1] {
        for i in 0..32 - o {
            x[i] += x[i + o]; // x[i + o] is still the previous round's value
        }
    }
    x[0]
}

/// `block_sum` over one partial per thread (a multiple of 32 threads).
fn block_sum(partials: &[f64]) -> f64 {
    let mut y = [0.0f64; 32];
    for (w, lanes) in partials.chunks(32).enumerate() {
        y[w] = warp_sum(lanes);
    }
    warp_sum(&y)
}

/// Per-thread partials of `f(i)` over `i in 0..n` strided by `threads` (the kernels'
/// `for (i = threadIdx.x; i < n; i += blockDim.x)`).
fn partials(threads: usize, n: usize, mut f: impl FnMut(usize) -> f64) -> Vec<f64> {
    let mut p = vec![0.0f64; threads];
    for (t, acc) in p.iter_mut().enumerate() {
        for i in (t..n).step_by(threads) {
            *acc += f(i);
        }
    }
    p
}

/// `report_first`.
fn report_first(rep: &mut [u64], slot: usize, bit: u64, key: u64) {
    rep[slot] = rep[slot].max(!key);
    rep[GROUP_R_BITS] |= bit;
}

/// `group_scratch`'s offsets (in doubles).
struct Layout {
    scores: usize,
    tokens: usize,
    adv: usize,
    count: usize,
    centre: usize,
    mult: usize,
    range: usize,
    batch_std: usize,
}

fn layout(k: &GroupParamsC) -> Layout {
    let (n, b, g) = (k.ch.n as usize, k.batch as usize, k.num_groups as usize);
    let scores = 0;
    let tokens = scores + n * b;
    let adv = tokens + b;
    let count = adv + b;
    let centre = count + g;
    let mult = centre + n * g;
    let range = mult + n * g;
    let batch_std = range + g;
    Layout {
        scores,
        tokens,
        adv,
        count,
        centre,
        mult,
        range,
        batch_std,
    }
}

/// `group_constants`.
#[allow(clippy::too_many_arguments)]
fn constants(
    est: i32,
    scale: i32,
    conv: i32,
    eps: f64,
    bstd: f64,
    k: f64,
    mean: f64,
    ssd: f64,
) -> (f64, f64) {
    if k < 2.0 {
        let m = if conv == CONV_TRL {
            0.0
        } else if est == EST_GRPO && scale == SCALE_GROUP {
            1.0 / (1.0 + eps)
        } else if est == EST_GRPO && scale == SCALE_BATCH {
            1.0 / (bstd + eps)
        } else {
            1.0
        };
        return (0.0, m);
    }
    let m = if ssd == 0.0 {
        0.0
    } else if est == EST_GRPO && scale == SCALE_GROUP {
        1.0 / ((ssd / (k - 1.0)).sqrt() + eps)
    } else if est == EST_GRPO && scale == SCALE_BATCH {
        1.0 / (bstd + eps)
    } else if est == EST_RLOO {
        k / (k - 1.0)
    } else {
        1.0
    };
    (mean, m)
}

/// The kernels, in launch order, on the host.
fn model<T: Storage>(chs: &[Channel<'_, T>], c: &GroupCase, p: &GroupParams) -> GroupResult {
    let n = chs.len();
    let ng = c.num_groups;
    // The launch's own validation and parameters (placeholder addresses).
    let at = |len: usize| DevPtr { ptr: 1, len };
    let devs: Vec<DevChannel> = chs
        .iter()
        .map(|ch| match ch {
            Channel::Sequence(x) => DevChannel {
                data: at(x.len()),
                dense: false,
            },
            Channel::Dense(x) => DevChannel {
                data: at(x.len()),
                dense: true,
            },
        })
        .collect();
    let scratch_len = group_device_scratch_len(c.shape.batch, n, ng);
    let plan = plan_group(
        &GroupBuffers {
            channels: &devs,
            weights: &c.weights,
            groups: at(c.groups.len()),
            mask: at(c.mask.len()),
            out: at(c.shape.batch),
            scratch: at(scratch_len),
            report: at(GROUP_REPORT_LEN),
        },
        ng,
        c.shape,
        p,
    )?;
    let k = plan.params;
    let (bn, len, gn) = (k.batch as usize, k.len as usize, k.num_groups as usize);
    let l = layout(&k);
    assert_eq!(l.batch_std + 1, scratch_len, "scratch layout");
    assert_eq!(
        l.batch_std - l.range,
        gn,
        "2 * num_groups u32 ranges in num_groups doubles"
    );
    let mut s = vec![f64::NAN; scratch_len]; // nothing may read what was not written
    let mut range = vec![0u32; 2 * gn]; // the scratch's u32 view, `gn` doubles
    let mut rep = vec![0u64; GROUP_REPORT_LEN]; // group_init
    let ld = |c: usize, i: usize| match chs[c] {
        Channel::Sequence(x) | Channel::Dense(x) => x[i].to_f32(),
    };
    // group_scores: a block per row.
    let threads = plan.scores.block_dim.0 as usize;
    for b in 0..bn {
        let base = b * len;
        let mask = &c.mask[base..base + len];
        let count = block_sum(&partials(threads, len, |t| (mask[t] != 0) as u8 as f64));
        let mut composite = 0.0f64;
        for ch in 0..k.ch.n as usize {
            let chan = (ch as u64) << 56;
            let v = if k.ch.dense[ch] != 0 {
                let mut bad = Vec::new();
                let part = partials(threads, len, |t| {
                    if mask[t] == 0 {
                        return 0.0;
                    }
                    let y = ld(ch, base + t);
                    if !y.is_finite() {
                        bad.push(chan | (base + t) as u64);
                    }
                    y as f64
                });
                for key in bad {
                    report_first(&mut rep, GROUP_R_BAD_REWARD, GROUP_BIT_BAD_REWARD, key);
                }
                block_sum(&part)
            } else {
                let y = ld(ch, b);
                if !y.is_finite() {
                    report_first(
                        &mut rep,
                        GROUP_R_BAD_REWARD,
                        GROUP_BIT_BAD_REWARD,
                        chan | b as u64,
                    );
                }
                y as f64
            };
            s[l.scores + ch * bn + b] = v;
            composite += k.ch.w[ch] as f64 * v;
        }
        s[l.tokens + b] = count;
        s[l.adv + b] = composite;
        rep[GROUP_R_TOKENS] += count as u64;
        let g = c.groups[b];
        if g >= k.num_groups as u32 {
            report_first(
                &mut rep,
                GROUP_R_BAD_ID,
                GROUP_BIT_BAD_ID,
                ((b as u64) << 32) | g as u64,
            );
        } else {
            let g = g as usize;
            range[2 * g] = range[2 * g].max(!(b as u32));
            range[2 * g + 1] = range[2 * g + 1].max(b as u32 + 1);
        }
    }
    // group_batch_std
    if plan.batch_std.is_some() {
        let sum = block_sum(&partials(1024, bn, |b| s[l.adv + b]));
        let mean = sum / bn as f64;
        let ss = block_sum(&partials(1024, bn, |b| {
            let d = s[l.adv + b] - mean;
            d * d
        }));
        s[l.batch_std] = if bn < 2 {
            0.0
        } else {
            (ss / (bn - 1) as f64).sqrt()
        };
    }
    // group_affine: a warp per group.
    let gdpo = k.estimator == EST_GDPO;
    let nc = if gdpo { k.ch.n as usize } else { 1 };
    let xs = if gdpo { l.scores } else { l.adv };
    for g in 0..gn {
        let end = range[2 * g + 1];
        if end == 0 {
            s[l.count + g] = 0.0;
            continue;
        }
        let (lo, hi) = (!range[2 * g] as usize, end as usize - 1);
        let rows = |lane: usize| {
            (lo + lane..=hi)
                .step_by(32)
                .filter(|&b| c.groups[b] == g as u32)
        };
        let mut kk = 0usize;
        let mut acc = vec![[0.0f64; 32]; nc];
        for lane in 0..32 {
            for b in rows(lane) {
                kk += 1;
                for (ch, a) in acc.iter_mut().enumerate() {
                    a[lane] += s[xs + ch * bn + b];
                }
            }
        }
        let kd = kk as f64;
        let mean: Vec<f64> = acc.iter().map(|a| warp_sum(a) / kd).collect();
        let mut q = vec![[0.0f64; 32]; nc];
        for lane in 0..32 {
            for b in rows(lane) {
                for (ch, a) in q.iter_mut().enumerate() {
                    let d = s[xs + ch * bn + b] - mean[ch];
                    a[lane] += d * d;
                }
            }
        }
        s[l.count + g] = kd;
        rep[GROUP_R_GROUPS] += 1;
        if kk == 1 {
            rep[GROUP_R_SINGLETONS] += 1;
        }
        if k.group_size >= 0 && kk as i64 != k.group_size {
            report_first(
                &mut rep,
                GROUP_R_BAD_SIZE,
                GROUP_BIT_BAD_SIZE,
                ((g as u64) << 32) | kk as u64,
            );
        }
        let est = if gdpo { EST_GRPO } else { k.estimator };
        let scale = if gdpo { SCALE_GROUP } else { k.scale };
        let bstd = if est == EST_GRPO && scale == SCALE_BATCH {
            s[l.batch_std]
        } else {
            0.0
        };
        for ch in 0..nc {
            let ssd = warp_sum(&q[ch]);
            if kk >= 2 && ssd == 0.0 {
                rep[GROUP_R_ZERO_VAR + ch] += 1;
            }
            let (centre, mult) =
                constants(est, scale, k.convention, k.eps, bstd, kd, mean[ch], ssd);
            s[l.centre + ch * gn + g] = centre;
            s[l.mult + ch * gn + g] = mult;
        }
    }
    // group_row_adv, group_store
    let row_adv = |s: &[f64], b: usize| -> f64 {
        let g = c.groups[b];
        if g >= k.num_groups as u32 {
            return 0.0;
        }
        let g = g as usize;
        if gdpo {
            let mut a = 0.0f64;
            for ch in 0..k.ch.n as usize {
                let j = ch * gn + g;
                a += k.ch.w[ch] as f64
                    * ((s[l.scores + ch * bn + b] - s[l.centre + j]) * s[l.mult + j]);
            }
            return a;
        }
        (s[l.adv + b] - s[l.centre + g]) * s[l.mult + g]
    };
    let mut out = vec![f32::NAN; bn];
    let mut store = |rep: &mut [u64], b: usize, a: f64| {
        out[b] = a as f32;
        if !out[b].is_finite() {
            report_first(rep, GROUP_R_OVERFLOW, GROUP_BIT_OVERFLOW, b as u64);
        }
    };
    if plan.apply.is_some() {
        for b in 0..bn {
            let a = row_adv(&s, b);
            store(&mut rep, b, a);
        }
    } else {
        // group_whiten
        for b in 0..bn {
            s[l.adv + b] = row_adv(&s, b);
        }
        let adv = |b: usize| s[l.adv + b];
        if k.convention == CONV_VERL {
            let nt = block_sum(&partials(1024, bn, |b| s[l.tokens + b]));
            let sum = block_sum(&partials(1024, bn, |b| s[l.tokens + b] * adv(b)));
            if nt <= 1.0 {
                (0..bn).for_each(|b| store(&mut rep, b, 0.0));
            } else {
                let mean = sum / nt;
                let ss = block_sum(&partials(1024, bn, |b| {
                    let d = adv(b) - mean;
                    s[l.tokens + b] * d * d
                }));
                let var = ss / nt * (nt / (nt - 1.0));
                let inv = 1.0 / (var + 1e-8).sqrt();
                (0..bn).for_each(|b| store(&mut rep, b, (adv(b) - mean) * inv));
            }
        } else if bn < 2 {
            (0..bn).for_each(|b| store(&mut rep, b, 0.0));
        } else {
            let sum = block_sum(&partials(1024, bn, adv));
            let mean = sum / bn as f64;
            let ss = block_sum(&partials(1024, bn, |b| {
                let d = adv(b) - mean;
                d * d
            }));
            let sd = (ss / (bn - 1) as f64).sqrt();
            (0..bn).for_each(|b| store(&mut rep, b, (adv(b) - mean) / (sd + 1e-4)));
        }
    }
    let stats = group_outcome(&rep, n, p)?;
    Ok((out, stats))
}

struct Model;

impl GroupRun for Model {
    fn run<T: Storage>(
        &self,
        chs: &[Channel<'_, T>],
        c: &GroupCase,
        p: &GroupParams,
    ) -> GroupResult {
        model(chs, c, p)
    }
}

#[test]
fn model_f32_equals_the_cpu_core() {
    group_cases::sweep::<f32, _>(&Model, &group_cases::GROUP_SHAPES);
}

#[test]
fn model_bf16_equals_the_cpu_core() {
    group_cases::sweep::<composer_core::bf16, _>(&Model, &group_cases::GROUP_SHAPES);
}

#[test]
fn model_sequence_only_and_zero_variance_are_exact() {
    group_cases::sequence_only_and_zero_variance(&Model);
}

#[test]
fn model_edge_cases_equal_the_cpu_core() {
    group_cases::edge_cases(&Model);
}

#[test]
fn model_is_deterministic() {
    group_cases::deterministic(&Model);
}

#[test]
fn the_model_sees_the_kernels_reductions() {
    // The warp tree: lane 0 = ((x0 + x16) + (x8 + x24)) + ... (not a left-to-right sum).
    let mut x = [0.0f64; 32];
    x[0] = 1e16;
    x[1] = 1.0;
    x[17] = 1.0;
    // Round 16: x[1] += x[17] = 2, then 2 reaches lane 0 exactly; left to right 1e16 + 1
    // would round the 1 away twice.
    assert_eq!(warp_sum(&x), 1e16 + 2.0);
    assert_eq!(block_sum(&vec![1.0; 1024]), 1024.0);
}
