//! The fair test's analysis: per-prompt z-scores of every run against the starting
//! policy, the per-arm table, the paired comparisons with bootstrap intervals, the
//! sanity gates and the verdicts, by the rules of `docs/fair-test.md` (written before
//! any run). [`crate::fair_report`] renders it; [`crate::compare`] runs the
//! arms.

use crate::arms::{Arm, ArmPlan};
use crate::error::ExperimentError;
use crate::m_eval::MBounds;
use crate::m_eval_rows::MEvalRows;
use crate::step_summary::StepSummary;
use crate::student_t::t_interval;
use crate::verdict::{Outcome, RunZ, Verdict, ZStat};
use fastrl_trainer::eval::bootstrap::{paired_bootstrap, BootstrapParams, Interval};
use fastrl_trainer::io::records::EvalReport;
use std::collections::BTreeMap;

/// One finished run of an arm.
#[derive(Clone, Debug)]
pub struct ArmRun {
    /// The arm.
    pub arm: Arm,
    /// Its seed.
    pub seed: u64,
    /// The final policy's evaluation (with every response).
    pub eval: EvalReport,
    /// `metrics.jsonl`: what the analysis reads of each step.
    pub metrics: Vec<StepSummary>,
}

/// What the analysis reads.
#[derive(Clone, Copy, Debug)]
pub struct FairInputs<'a> {
    /// Reward names, in the composer's order.
    pub rewards: &'a [String],
    /// Every finished run.
    pub runs: &'a [ArmRun],
    /// The starting policy's evaluation per seed (the same sampling seed as the runs').
    pub start: &'a BTreeMap<u64, EvalReport>,
    /// The plan (its `reference` std is the z-scores' unit).
    pub plan: &'a ArmPlan,
    /// The evaluation pairs' reference responses (for m_eval on resamples).
    pub refs: &'a [String],
    /// The bootstrap.
    pub bootstrap: BootstrapParams,
    /// The first seed of the replication: seeds below it are the first set, seeds from
    /// it on the replication (`u64::MAX`: no replication).
    pub replication_from: u64,
}

/// One arm's row of the table (means over its seeds).
#[derive(Clone, Debug, PartialEq)]
pub struct ArmRow {
    /// The arm.
    pub arm: Arm,
    /// Seeds run.
    pub seeds: usize,
    /// Per reward: mean z over seeds.
    pub z: Vec<f64>,
    /// Per reward, then min z and mean z: the 90% Student-t interval over seeds of each
    /// seed's final z (for the figure of final z with seed-level intervals).
    pub z_by_seed: Vec<Interval>,
    /// Per reward: z as a fraction of the single-reward arm's z on that reward (when it
    /// ran and moved the reward, `z_G > 0`).
    pub of_single: Vec<Option<f64>>,
    /// Min z over rewards (mean over seeds of each run's min).
    pub min_z: f64,
    /// Mean z over rewards.
    pub mean_z: f64,
    /// Spread of z.
    pub spread: f64,
    /// m_eval normalised over all runs (and the starting policy).
    pub m_eval_all: f64,
    /// m_eval normalised over arm C's runs (the paper's), when C ran.
    pub m_eval_c: Option<f64>,
    /// KL to the reference: mean over the last tenth of the steps.
    pub kl: f64,
    /// Mean response length of the final evaluation.
    pub length: f64,
    /// Final weights (mean over seeds).
    pub weights: Vec<f64>,
}

/// The three statistics of a difference X - Y, each with an interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diffs {
    /// On m_eval (normalised over all runs).
    pub m_eval: Interval,
    /// On min z.
    pub min_z: Interval,
    /// On mean z.
    pub mean_z: Interval,
}

/// A comparison over one set of seeds: how many, and the seed-level intervals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeedSet {
    /// Seeds both arms ran in this set.
    pub seeds: usize,
    /// 90% Student-t intervals over these seeds of each seed's difference (its mean
    /// over every evaluation prompt).
    pub by_seed: Diffs,
}

/// One paired comparison, X - Y.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// X.
    pub x: Arm,
    /// Y.
    pub y: Arm,
    /// Every seed both ran (the first set and the replication pooled): the verdict's
    /// seed-level intervals.
    pub pooled: SeedSet,
    /// The seeds x prompts bootstrap over every seed both ran (for reference: it treats
    /// one run's prompts as independent evidence about the method).
    pub bootstrap: Diffs,
    /// The first set of seeds alone (below [`FairInputs::replication_from`]).
    pub first: Option<SeedSet>,
    /// The replication alone (from [`FairInputs::replication_from`] on).
    pub replication: Option<SeedSet>,
}

impl Comparison {
    /// The outcomes the verdicts read: m_eval and min z, from the pooled seed-level
    /// intervals; once the replication has run, a side (better or worse) also needs both
    /// sets' estimates on it ([`Outcome::replicated`]).
    pub fn outcomes(&self) -> [Outcome; 2] {
        let pick = |d: &Diffs, m: bool| if m { d.m_eval } else { d.min_z };
        let sets: Vec<&SeedSet> = match (&self.first, &self.replication) {
            (Some(f), Some(r)) => vec![f, r],
            _ => vec![],
        };
        [true, false].map(|m| {
            let parts: Vec<f64> = sets.iter().map(|s| pick(&s.by_seed, m).estimate).collect();
            Outcome::replicated(&pick(&self.pooled.by_seed, m), &parts)
        })
    }

    /// Whether both sets of seeds are in it.
    pub fn replicated(&self) -> bool {
        self.first.is_some() && self.replication.is_some()
    }
}

/// A sanity gate: what it checks, the measured value, whether it passed.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// What it checks.
    pub what: String,
    /// What was measured.
    pub measured: String,
    /// Passed.
    pub passed: bool,
}

/// A claim's verdict and the comparisons it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// The claim.
    pub what: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Whether every comparison it reads has both sets of seeds (a verdict on the first
    /// set alone is not a claim).
    pub replicated: bool,
    /// The comparisons (X - Y) it reads, present or not.
    pub reads: Vec<(Arm, Arm)>,
}

/// What moving one reward alone does to another: the single-reward arm `G_single`'s
/// final z on reward `other`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conflict {
    /// The reward the arm puts all weight on.
    pub single: usize,
    /// The reward measured.
    pub other: usize,
    /// The arm's seeds.
    pub seeds: usize,
    /// Its mean z on `other` with a 90% seeds x prompts bootstrap interval (the arm runs
    /// two seeds: a t interval over two would say nothing).
    pub z: Interval,
}

impl Conflict {
    /// Whether moving `single` alone lowers `other` (the interval lies below 0).
    pub fn lowers(&self) -> bool {
        self.z.hi < 0.0
    }
}

/// The whole analysis.
#[derive(Clone, Debug)]
pub struct FairAnalysis {
    /// Per arm.
    pub rows: Vec<ArmRow>,
    /// The paired comparisons that could be made.
    pub comparisons: Vec<Comparison>,
    /// The sanity gates.
    pub gates: Vec<Gate>,
    /// The claims.
    pub claims: Vec<Claim>,
    /// Every single-reward arm's z on every other reward (the conflict check).
    pub conflicts: Vec<Conflict>,
    /// `(run, metric)` of each m_eval metric a run leaves undefined (scored 0, out of the
    /// bounds: [`MBounds`]).
    pub undefined_m_eval: Vec<(String, &'static str)>,
}

/// The budget gate: arm A must improve mean z by at least this (0.2 before the
/// amendment of issue 25; `docs/fair-test.md`).
pub const GATE_MEAN_Z: f64 = 0.3;

/// The comparisons of the issue, X - Y.
pub const COMPARISONS: [(Arm, Arm); 7] = [
    (Arm::FastRl, Arm::Uniform),
    (Arm::FastRl, Arm::Lagrangian),
    (Arm::Bounded, Arm::Uniform),
    (Arm::Bounded, Arm::Lagrangian),
    (Arm::Bounded, Arm::FastRl),
    (Arm::FastRl, Arm::Paper),
    (Arm::GdpoBounded, Arm::GdpoUniform),
];

/// A run's per-prompt z-scores against the starting policy of its seed.
pub fn run_z(inp: &FairInputs<'_>, run: &ArmRun) -> Result<RunZ, ExperimentError> {
    let start = inp.start.get(&run.seed).ok_or_else(|| {
        ExperimentError::Data(format!(
            "no evaluation of the starting policy for seed {}",
            run.seed
        ))
    })?;
    let z = inp
        .rewards
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let missing = |what: &str| {
                ExperimentError::Data(format!(
                    "{}-s{}: {what} has no reward {name}",
                    run.arm.slug(),
                    run.seed
                ))
            };
            let scores = run
                .eval
                .scores
                .get(name)
                .ok_or_else(|| missing("eval.json"))?;
            let mu = *start
                .rewards
                .get(name)
                .ok_or_else(|| missing("the start's eval"))?;
            let sd = f64::from(inp.plan.reference.1[i]);
            Ok(scores.iter().map(|s| (s - mu) / sd).collect())
        })
        .collect::<Result<Vec<Vec<f64>>, ExperimentError>>()?;
    Ok(RunZ { z })
}

fn mean(xs: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// The arms present, in the order of [`Arm`].
fn arms_of(runs: &[ArmRun]) -> Vec<Arm> {
    let mut a: Vec<Arm> = runs.iter().map(|r| r.arm).collect();
    a.sort();
    a.dedup();
    a
}

/// Runs the analysis.
pub fn analyse(inp: &FairInputs<'_>) -> Result<FairAnalysis, ExperimentError> {
    let zs: Vec<RunZ> = inp
        .runs
        .iter()
        .map(|r| run_z(inp, r))
        .collect::<Result<_, _>>()?;
    let label = |r: &ArmRun| format!("{}-s{}", r.arm.slug(), r.seed);
    let mut all: Vec<(String, &fastrl_trainer::io::records::MEvalMetrics)> = inp
        .runs
        .iter()
        .map(|r| (label(r), &r.eval.m_eval_metrics))
        .collect();
    all.extend(
        inp.start
            .iter()
            .map(|(s, e)| (format!("start-s{s}"), &e.m_eval_metrics)),
    );
    let bounds_all = MBounds::over(&all)?;
    let undefined_m_eval = MBounds::undefined(&all);
    let c_runs: Vec<(String, &fastrl_trainer::io::records::MEvalMetrics)> = inp
        .runs
        .iter()
        .filter(|r| r.arm == Arm::Lagrangian)
        .map(|r| (label(r), &r.eval.m_eval_metrics))
        .collect();
    let bounds_c = if c_runs.len() >= 2 {
        Some(MBounds::over(&c_runs)?)
    } else {
        None
    };
    let n = inp.rewards.len();
    let singles: BTreeMap<usize, f64> = (0..n)
        .filter_map(|i| {
            let z: Vec<f64> = inp
                .runs
                .iter()
                .zip(&zs)
                .filter(|(r, _)| r.arm == Arm::Single(i))
                .map(|(_, z)| z.means(&(0..z.z[i].len()).collect::<Vec<_>>())[i])
                .collect();
            (!z.is_empty()).then(|| (i, mean(z)))
        })
        .collect();
    let rows: Vec<ArmRow> = arms_of(inp.runs)
        .into_iter()
        .map(|arm| {
            let of: Vec<(&ArmRun, &RunZ)> = inp
                .runs
                .iter()
                .zip(&zs)
                .filter(|(r, _)| r.arm == arm)
                .collect();
            let every = |z: &RunZ| (0..z.z[0].len()).collect::<Vec<usize>>();
            // Per run (seed), each reward's mean z over every prompt, once.
            let run_means: Vec<Vec<f64>> = of.iter().map(|(_, z)| z.means(&every(z))).collect();
            let per_reward: Vec<f64> = (0..n)
                .map(|i| mean(run_means.iter().map(|m| m[i])))
                .collect();
            let stat = |s: ZStat| mean(of.iter().map(|(_, z)| z.stat(s, &every(z))));
            let level = inp.bootstrap.level;
            let z_by_seed = (0..n)
                .map(|i| t_interval(&run_means.iter().map(|m| m[i]).collect::<Vec<_>>(), level))
                .chain([ZStat::Min, ZStat::Mean].map(|st| {
                    let v: Vec<f64> = of.iter().map(|(_, z)| z.stat(st, &every(z))).collect();
                    t_interval(&v, level)
                }))
                .collect();
            let kl = mean(of.iter().map(|(r, _)| {
                let tail = (r.metrics.len() / 10).max(1);
                mean(r.metrics.iter().rev().take(tail).map(|l| l.kl))
            }));
            let weights = (0..n)
                .map(|i| {
                    mean(of.iter().filter_map(|(r, _)| {
                        r.metrics
                            .last()
                            .and_then(|l| l.weights.get(&inp.rewards[i]).copied())
                    }))
                })
                .collect();
            ArmRow {
                arm,
                seeds: of.len(),
                of_single: (0..n)
                    .map(|i| {
                        singles
                            .get(&i)
                            .filter(|g| **g > 0.0)
                            .map(|g| per_reward[i] / g)
                    })
                    .collect(),
                z: per_reward,
                z_by_seed,
                min_z: stat(ZStat::Min),
                mean_z: stat(ZStat::Mean),
                spread: stat(ZStat::Spread),
                m_eval_all: mean(
                    of.iter()
                        .map(|(r, _)| bounds_all.score(&r.eval.m_eval_metrics)),
                ),
                m_eval_c: bounds_c
                    .as_ref()
                    .map(|b| mean(of.iter().map(|(r, _)| b.score(&r.eval.m_eval_metrics)))),
                kl,
                length: mean(of.iter().map(|(r, _)| r.eval.mean_length)),
                weights,
            }
        })
        .collect();
    let comparisons: Vec<Comparison> = COMPARISONS
        .iter()
        .filter_map(|&(x, y)| compare(inp, &zs, &bounds_all, x, y).transpose())
        .collect::<Result<_, _>>()?;
    let gates = gates(inp, &rows);
    let claim = |what: &str, arm: Arm| {
        let reads = vec![(arm, Arm::Uniform), (arm, Arm::Lagrangian)];
        let outcomes: Vec<Outcome> = reads
            .iter()
            .flat_map(|&(x, y)| {
                comparisons
                    .iter()
                    .find(|c| c.x == x && c.y == y)
                    .map(|c| c.outcomes().to_vec())
                    .unwrap_or_default()
            })
            .collect();
        // A claim needs all four intervals; a missing comparison leaves it inconclusive.
        let verdict = if outcomes.len() == 4 {
            Verdict::of(&outcomes)
        } else {
            Verdict::Inconclusive
        };
        let replicated = reads.iter().all(|&(x, y)| {
            comparisons
                .iter()
                .any(|c| c.x == x && c.y == y && c.replicated())
        });
        Claim {
            what: what.into(),
            verdict,
            replicated,
            reads,
        }
    };
    let claims = vec![
        claim(
            "the paper's rule (scale-free, arm B) beats fixed weights and the Lagrangian",
            Arm::FastRl,
        ),
        claim(
            "our bounded rule (arm B') beats fixed weights and the Lagrangian",
            Arm::Bounded,
        ),
    ];
    let conflicts = conflicts(inp, &zs);
    Ok(FairAnalysis {
        rows,
        comparisons,
        gates,
        claims,
        conflicts,
        undefined_m_eval,
    })
}

/// X - Y over the seeds both ran (`None` when they share none).
fn compare(
    inp: &FairInputs<'_>,
    zs: &[RunZ],
    bounds: &MBounds,
    x: Arm,
    y: Arm,
) -> Result<Option<Comparison>, ExperimentError> {
    let find = |arm: Arm, seed: u64| {
        inp.runs
            .iter()
            .zip(zs)
            .find(|(r, _)| r.arm == arm && r.seed == seed)
    };
    let pairs: Vec<_> = inp
        .runs
        .iter()
        .filter(|r| r.arm == x)
        .filter_map(|r| Some((find(x, r.seed)?, find(y, r.seed)?)))
        .collect();
    if pairs.is_empty() {
        return Ok(None);
    }
    let prompts = pairs[0].0 .1.z[0].len();
    for ((rx, zx), (ry, zy)) in &pairs {
        for (r, z) in [(rx, zx), (ry, zy)] {
            if z.z[0].len() != prompts || r.eval.responses.len() != prompts {
                return Err(ExperimentError::Data(format!(
                    "{}-s{}: evaluated on {} prompts with {} responses; the other runs of \
                     the comparison on {prompts}",
                    r.arm.slug(),
                    r.seed,
                    z.z[0].len(),
                    r.eval.responses.len()
                )));
            }
        }
    }
    if inp.refs.len() < prompts {
        return Err(ExperimentError::Data(format!(
            "the comparison has {} reference responses for {prompts} evaluation prompts",
            inp.refs.len()
        )));
    }
    let s = pairs.len();
    let p = &inp.bootstrap;
    let z_iv = |stat: ZStat| {
        paired_bootstrap(s, prompts, p, |k, idx| {
            let ((_, zx), (_, zy)) = &pairs[k];
            zx.stat(stat, idx) - zy.stat(stat, idx)
        })
    };
    let refs: Vec<&str> = inp.refs[..prompts].iter().map(String::as_str).collect();
    let rows = |run: &ArmRun| {
        let hyps: Vec<&str> = run.eval.responses.iter().map(String::as_str).collect();
        MEvalRows::new(&hyps, &refs)
    };
    let prepared: Vec<(MEvalRows, MEvalRows)> = pairs
        .iter()
        .map(|((rx, _), (ry, _))| (rows(rx), rows(ry)))
        .collect();
    let m_eval = paired_bootstrap(s, prompts, p, |k, idx| {
        let (mx, my) = &prepared[k];
        bounds.score(&mx.metrics(idx)) - bounds.score(&my.metrics(idx))
    });
    let bootstrap = Diffs {
        m_eval,
        min_z: z_iv(ZStat::Min),
        mean_z: z_iv(ZStat::Mean),
    };
    // Per seed, the difference on every prompt: (seed, m_eval, min z, mean z), m_eval of
    // each run's whole evaluation with the bounds over every run.
    let all: Vec<usize> = (0..prompts).collect();
    let per_seed: Vec<(u64, [f64; 3])> = pairs
        .iter()
        .map(|((rx, zx), (ry, zy))| {
            (
                rx.seed,
                [
                    bounds.score(&rx.eval.m_eval_metrics) - bounds.score(&ry.eval.m_eval_metrics),
                    zx.stat(ZStat::Min, &all) - zy.stat(ZStat::Min, &all),
                    zx.stat(ZStat::Mean, &all) - zy.stat(ZStat::Mean, &all),
                ],
            )
        })
        .collect();
    let level = p.level;
    let set_of = |keep: &dyn Fn(u64) -> bool| -> Option<SeedSet> {
        let d: Vec<&[f64; 3]> = per_seed
            .iter()
            .filter(|(seed, _)| keep(*seed))
            .map(|(_, d)| d)
            .collect();
        let col = |j: usize| t_interval(&d.iter().map(|v| v[j]).collect::<Vec<_>>(), level);
        (!d.is_empty()).then(|| SeedSet {
            seeds: d.len(),
            by_seed: Diffs {
                m_eval: col(0),
                min_z: col(1),
                mean_z: col(2),
            },
        })
    };
    let from = inp.replication_from;
    let pooled = set_of(&|_| true).ok_or_else(|| ExperimentError::Data("no seed pairs".into()))?;
    let replication = set_of(&|seed| seed >= from);
    Ok(Some(Comparison {
        x,
        y,
        pooled,
        bootstrap,
        first: replication.and_then(|_| set_of(&|seed| seed < from)),
        replication,
    }))
}

/// Each single-reward arm's z on each other reward, with a seeds x prompts bootstrap.
fn conflicts(inp: &FairInputs<'_>, zs: &[RunZ]) -> Vec<Conflict> {
    let n = inp.rewards.len();
    let mut out = Vec::new();
    for i in 0..n {
        let of: Vec<&RunZ> = inp
            .runs
            .iter()
            .zip(zs)
            .filter(|(r, _)| r.arm == Arm::Single(i))
            .map(|(_, z)| z)
            .collect();
        let Some(prompts) = of.first().map(|z| z.z[0].len()) else {
            continue;
        };
        for j in (0..n).filter(|&j| j != i) {
            let z = paired_bootstrap(of.len(), prompts, &inp.bootstrap, |k, idx| {
                of[k].means(idx)[j]
            });
            out.push(Conflict {
                single: i,
                other: j,
                seeds: of.len(),
                z,
            });
        }
    }
    out
}

/// The sanity gates, printed before the verdicts.
fn gates(inp: &FairInputs<'_>, rows: &[ArmRow]) -> Vec<Gate> {
    let mut out = Vec::new();
    if let Some(a) = rows.iter().find(|r| r.arm == Arm::Uniform) {
        out.push(Gate {
            what: format!(
                "A (uniform) improves mean z by >= {GATE_MEAN_Z} (else the budget cannot \
                 separate methods)"
            ),
            measured: format!("mean z {:+.3}", a.mean_z),
            passed: a.mean_z >= GATE_MEAN_Z,
        });
    }
    let n = inp.rewards.len();
    for arm in [Arm::Bounded, Arm::GdpoBounded] {
        let steps: Vec<&StepSummary> = inp
            .runs
            .iter()
            .filter(|r| r.arm == arm)
            .flat_map(|r| r.metrics.iter())
            .collect();
        if steps.is_empty() {
            continue;
        }
        // A step without every weight, or with a weight that is not a probability, has
        // a NaN distance: it fails the gate (f64::max would skip it).
        let worst = steps
            .iter()
            .map(|l| {
                let lw: Vec<f64> = inp
                    .rewards
                    .iter()
                    .map(|name| match l.weights.get(name) {
                        Some(&w) if w > 0.0 && w <= 1.0 + 1e-6 => w.ln(),
                        _ => f64::NAN,
                    })
                    .collect();
                composer_core::kl_from_uniform(&lw)
            })
            .fold(0.0f64, |a, b| {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            });
        let rho = f64::from(inp.plan.radius);
        out.push(Gate {
            what: format!(
                "arm {}: the weights stay inside the KL ball (radius {rho:.4})",
                arm.letter()
            ),
            measured: format!(
                "largest KL from uniform {worst:.4} over {} steps",
                steps.len()
            ),
            passed: !worst.is_nan() && worst <= rho * (1.0 + 1e-3) + 1e-6,
        });
    }
    let c_steps: Vec<&StepSummary> = inp
        .runs
        .iter()
        .filter(|r| r.arm == Arm::Lagrangian)
        .flat_map(|r| r.metrics.iter())
        .collect();
    if !c_steps.is_empty() {
        let uniform = 1.0 / n as f64;
        let bound = c_steps
            .iter()
            .filter(|l| l.weights.values().any(|w| (w - uniform).abs() > 1e-6))
            .count();
        let frac = bound as f64 / c_steps.len() as f64;
        out.push(Gate {
            what: "C's multipliers are non-zero on >= 20% of steps (its thresholds bind)".into(),
            measured: format!("{:.0}% of {} steps", 100.0 * frac, c_steps.len()),
            passed: frac >= 0.2,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastrl_trainer::eval::evaluate::m_eval_metrics;

    /// An evaluation with these per-prompt scores of rewards `r0`, `r1` and responses.
    fn ev(r0: &[f64], r1: &[f64], responses: &[&str], refs: &[&str]) -> EvalReport {
        let m = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        EvalReport {
            distinct_2: 0.0,
            m_eval_metrics: m_eval_metrics(responses, refs),
            mean_length: 2.0,
            pairs: r0.len(),
            rewards: [("r0".to_string(), m(r0)), ("r1".to_string(), m(r1))]
                .into_iter()
                .collect(),
            samples: vec![],
            scores: [
                ("r0".to_string(), r0.to_vec()),
                ("r1".to_string(), r1.to_vec()),
            ]
            .into_iter()
            .collect(),
            responses: responses.iter().map(|s| s.to_string()).collect(),
            weights: None,
        }
    }

    #[test]
    fn a_uniform_shift_is_measured_exactly_in_standard_deviations() {
        let refs = ["a b c", "b c d", "c d e"];
        let texts = ["a b c", "b c x", "c y e"];
        let plan = ArmPlan::new(2, 0.2, 4, (vec![0.0, 0.0], vec![0.5, 2.0]), 16);
        let start: BTreeMap<u64, EvalReport> = (0..2)
            .map(|s| (s, ev(&[0.1, 0.2, 0.3], &[1.0, 2.0, 3.0], &texts, &refs)))
            .collect();
        // The start's means are 0.2 and 2. A: reward 0 at 0.45 on every prompt (0.5 z),
        // reward 1 at 2 (0 z); B: 0.25 (0.1 z) and 2.4 (0.2 z). Same responses: m_eval
        // equal. Every prompt alike, so every bootstrap draw equals the estimate.
        let a = ev(&[0.45; 3], &[2.0; 3], &texts, &refs);
        let b = ev(&[0.25; 3], &[2.4; 3], &texts, &refs);
        let runs: Vec<ArmRun> = (0..2)
            .flat_map(|seed| {
                [(Arm::Uniform, &a), (Arm::FastRl, &b)].map(|(arm, e)| ArmRun {
                    arm,
                    seed,
                    eval: e.clone(),
                    metrics: vec![],
                })
            })
            .collect();
        let names = ["r0".to_string(), "r1".to_string()];
        let inp = FairInputs {
            rewards: &names,
            runs: &runs,
            start: &start,
            plan: &plan,
            refs: &refs.map(String::from),
            bootstrap: BootstrapParams::default(),
            replication_from: u64::MAX,
        };
        let an = analyse(&inp).unwrap();
        let row = |arm: Arm| an.rows.iter().find(|r| r.arm == arm).unwrap();
        let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
        assert!(close(row(Arm::Uniform).z[0], 0.5) && close(row(Arm::Uniform).z[1], 0.0));
        assert!(close(row(Arm::FastRl).min_z, 0.1) && close(row(Arm::FastRl).spread, 0.1));
        let c = &an.comparisons[0];
        assert_eq!((c.x, c.y, c.pooled.seeds), (Arm::FastRl, Arm::Uniform, 2));
        assert!(c.first.is_none() && c.replication.is_none());
        // Both seeds alike: the seed-level interval and the bootstrap are the point.
        for d in [&c.pooled.by_seed, &c.bootstrap] {
            for v in [d.min_z.estimate, d.min_z.lo, d.min_z.hi] {
                assert!(close(v, 0.1), "{:?}", d.min_z);
            }
            assert!(close(d.mean_z.estimate, 0.15 - 0.25));
            assert!(close(d.m_eval.lo, 0.0) && close(d.m_eval.hi, 0.0));
        }
        assert_eq!(c.outcomes(), [Outcome::Equivalent, Outcome::Better]);
        // Only B - A of the paper claim's four: inconclusive, not a verdict.
        assert_eq!(an.claims[0].verdict, Verdict::Inconclusive);
        assert!(!an.claims[0].replicated);
        // The A gate reads A's mean z: 0.25 is below the amended 0.3.
        assert!(!an.gates[0].passed, "{:?}", an.gates);
        assert!(an.gates[0].measured.contains("+0.250"), "{:?}", an.gates);
    }

    /// Runs of A (z 0 on both rewards) and B whose min z at seed `s` is `d[s]` (reward 0
    /// at `d[s]` z, reward 1 at 1 z), on three identical prompts.
    fn seeded(d: &[f64]) -> (Vec<ArmRun>, BTreeMap<u64, EvalReport>, ArmPlan) {
        let refs = ["a b c", "b c d", "c d e"];
        let texts = ["a b c", "b c x", "c y e"];
        let plan = ArmPlan::new(2, 0.2, 4, (vec![0.0, 0.0], vec![0.5, 2.0]), 16);
        let start = (0..d.len() as u64)
            .map(|s| (s, ev(&[0.2; 3], &[2.0; 3], &texts, &refs)))
            .collect();
        let runs = d
            .iter()
            .enumerate()
            .flat_map(|(s, &di)| {
                [
                    (Arm::Uniform, ev(&[0.2; 3], &[2.0; 3], &texts, &refs)),
                    (
                        Arm::FastRl,
                        ev(&[0.2 + 0.5 * di; 3], &[4.0; 3], &texts, &refs),
                    ),
                ]
                .map(|(arm, eval)| ArmRun {
                    arm,
                    seed: s as u64,
                    eval,
                    metrics: vec![],
                })
            })
            .collect();
        (runs, start, plan)
    }

    #[test]
    fn verdicts_read_seed_level_t_intervals_and_a_replication_must_agree_in_sign() {
        let names = ["r0".to_string(), "r1".to_string()];
        let refs = ["a b c", "b c d", "c d e"].map(String::from);
        let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
        // Four seeds, two in each set: scipy's stats.t.interval(0.9, df, mean, sem) of
        // the per-seed differences is the oracle.
        let (runs, start, plan) = seeded(&[0.3, 0.1, 0.2, 0.4]);
        let inp = FairInputs {
            rewards: &names,
            runs: &runs,
            start: &start,
            plan: &plan,
            refs: &refs,
            bootstrap: BootstrapParams::default(),
            replication_from: 2,
        };
        let an = analyse(&inp).unwrap();
        let c = &an.comparisons[0];
        assert_eq!((c.x, c.y), (Arm::FastRl, Arm::Uniform));
        let iv = c.pooled.by_seed.min_z;
        assert_eq!(c.pooled.seeds, 4);
        assert!(close(iv.estimate, 0.25) && close(iv.lo, 0.09809104349065084));
        assert!(close(iv.hi, 0.4019089565093491), "{iv:?}");
        let (f, r) = (c.first.unwrap(), c.replication.unwrap());
        assert_eq!((f.seeds, r.seeds), (2, 2));
        assert!(close(f.by_seed.min_z.lo, -0.43137515146750444), "{f:?}");
        assert!(close(r.by_seed.min_z.hi, 0.9313751514675037), "{r:?}");
        // Every prompt alike: the seeds x prompts bootstrap only resamples seeds, and its
        // interval is narrower than the t interval over four seeds.
        assert!(c.bootstrap.min_z.lo > iv.lo, "{:?}", c.bootstrap.min_z);
        assert_eq!(c.outcomes()[1], Outcome::Better);
        assert!(c.replicated());
        // The same pooled sign, but the replication's estimate below 0: not claimed.
        let (runs, start, plan) = seeded(&[0.4, 0.5, 0.45, 0.02, -0.01, -0.02]);
        let inp = FairInputs {
            runs: &runs,
            start: &start,
            plan: &plan,
            replication_from: 3,
            ..inp
        };
        let an = analyse(&inp).unwrap();
        let c = &an.comparisons[0];
        assert!(c.pooled.by_seed.min_z.lo > 0.0, "{:?}", c.pooled);
        assert!(c.replication.unwrap().by_seed.min_z.estimate < 0.0);
        assert_eq!(c.outcomes()[1], Outcome::Unclear);
        // Without the replication the first set's interval decides alone.
        let inp = FairInputs {
            replication_from: u64::MAX,
            ..inp
        };
        let c = analyse(&inp).unwrap().comparisons[0].clone();
        assert!(c.first.is_none() && c.replication.is_none());
        assert_eq!(c.pooled.seeds, 6);
        assert_eq!(c.outcomes()[1], Outcome::Better);
    }

    #[test]
    fn a_single_reward_arm_that_lowers_another_reward_is_a_conflict() {
        let (mut runs, start, plan) = seeded(&[0.3, 0.1]);
        let refs = ["a b c", "b c d", "c d e"];
        let texts = ["a b c", "b c x", "c y e"];
        // G0 raises reward 0 by 1 z and lowers reward 1 by 0.5 z; G1 leaves reward 0.
        for s in 0..2 {
            runs.push(ArmRun {
                arm: Arm::Single(0),
                seed: s,
                eval: ev(&[0.7; 3], &[1.0; 3], &texts, &refs),
                metrics: vec![],
            });
            runs.push(ArmRun {
                arm: Arm::Single(1),
                seed: s,
                eval: ev(&[0.2, 0.25, 0.15], &[3.0; 3], &texts, &refs),
                metrics: vec![],
            });
        }
        let names = ["r0".to_string(), "r1".to_string()];
        let inp = FairInputs {
            rewards: &names,
            runs: &runs,
            start: &start,
            plan: &plan,
            refs: &refs.map(String::from),
            bootstrap: BootstrapParams::default(),
            replication_from: u64::MAX,
        };
        let an = analyse(&inp).unwrap();
        assert_eq!(an.conflicts.len(), 2);
        let g0 = an.conflicts.iter().find(|c| c.single == 0).unwrap();
        assert_eq!((g0.other, g0.seeds), (1, 2));
        assert!((g0.z.estimate + 0.5).abs() < 1e-9 && g0.lowers(), "{g0:?}");
        let g1 = an.conflicts.iter().find(|c| c.single == 1).unwrap();
        assert!(g1.z.estimate.abs() < 1e-9 && !g1.lowers(), "{g1:?}");
    }

    #[test]
    fn a_run_without_3_grams_is_reported_not_fatal_and_a_missing_weight_fails_the_ball() {
        let refs = ["a b c", "b c d", "c d e"];
        let texts = ["a b c", "b c x", "c y e"];
        let plan = ArmPlan::new(2, 0.2, 4, (vec![0.0, 0.0], vec![0.5, 2.0]), 16);
        let start: BTreeMap<u64, EvalReport> =
            [(0, ev(&[0.1, 0.2, 0.3], &[1.0, 2.0, 3.0], &texts, &refs))].into();
        let short = ev(&[0.1; 3], &[2.0; 3], &["a", "b", ""], &refs);
        assert_eq!(short.m_eval_metrics.cond_entropy_3, None);
        let step = |w: &[(&str, f64)]| StepSummary {
            weights: w.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..StepSummary::default()
        };
        let runs = vec![
            ArmRun {
                arm: Arm::Uniform,
                seed: 0,
                eval: ev(&[0.2; 3], &[2.0; 3], &texts, &refs),
                metrics: vec![],
            },
            ArmRun {
                arm: Arm::Bounded,
                seed: 0,
                eval: short,
                // The second step lacks r1's weight.
                metrics: vec![step(&[("r0", 0.5), ("r1", 0.5)]), step(&[("r0", 0.5)])],
            },
        ];
        let names = ["r0".to_string(), "r1".to_string()];
        let inp = FairInputs {
            rewards: &names,
            runs: &runs,
            start: &start,
            plan: &plan,
            refs: &refs.map(String::from),
            bootstrap: BootstrapParams::default(),
            replication_from: u64::MAX,
        };
        let an = analyse(&inp).unwrap();
        assert_eq!(
            an.undefined_m_eval,
            [("bounded-s0".to_string(), "cond_entropy_3")]
        );
        let ball = an
            .gates
            .iter()
            .find(|g| g.what.contains("KL ball"))
            .unwrap();
        assert!(!ball.passed, "{ball:?}");
        // Fewer references than prompts: a named error, not a panic.
        let inp = FairInputs {
            refs: &refs[..2].iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            ..inp
        };
        let e = analyse(&inp).unwrap_err().to_string();
        assert!(e.contains("2 reference responses for 3"), "{e}");
    }
}
