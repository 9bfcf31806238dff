//! The fair test's report (`<out_dir>/<n>r/report.md`) and figures: the plan, the sanity
//! gates, the verdicts with their intervals, the per-arm table, weight trajectories,
//! z-score curves over training and samples per arm.

use crate::arms::{Arm, ArmPlan};
use crate::error::ExperimentError;
use crate::fair::{ArmRow, ArmRun, FairAnalysis};
use crate::figures::over_seeds;
use crate::interval_plot::{intervals_png, IntervalPanel};
use crate::plot::{panels_png, Panel};
use crate::verdict::{Outcome, MARGIN};
use fastrl_trainer::eval::bootstrap::Interval;
use fastrl_trainer::io::records::{EvalPoint, EvalReport};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One run's evaluation curve (`eval-curve.jsonl`), for the z-score figure.
#[derive(Clone, Debug)]
pub struct RunCurve {
    /// The arm.
    pub arm: Arm,
    /// The seed.
    pub seed: u64,
    /// The curve.
    pub points: Vec<EvalPoint>,
}

/// What the report says besides the analysis.
#[derive(Clone, Copy, Debug)]
pub struct ReportContext<'a> {
    /// The size's name and budget line.
    pub budget: &'a str,
    /// Reward names.
    pub rewards: &'a [String],
    /// The plan.
    pub plan: &'a ArmPlan,
    /// The starting policy's evaluation per seed.
    pub start: &'a BTreeMap<u64, EvalReport>,
    /// Wall-clock seconds of this invocation (a resumed comparison counts from its restart).
    pub seconds: f64,
    /// Runs planned in all.
    pub planned: usize,
    /// The first seed of the replication.
    pub replication_from: u64,
}

fn iv(i: &Interval) -> String {
    format!("{:+.3} [{:+.3}, {:+.3}]", i.estimate, i.lo, i.hi)
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Better => "better",
        Outcome::Worse => "worse",
        Outcome::Equivalent => "equivalent",
        Outcome::Unclear => "unclear",
    }
}

/// The figures: each arm's final z with seed-level intervals, the weights over training
/// per arm, and each reward's z over training per arm (mean +/- std over seeds), into `dir` with the file names prefixed by
/// `prefix`. Returns `(path, caption)`.
pub fn fair_figures(
    ctx: &ReportContext<'_>,
    rows: &[ArmRow],
    runs: &[ArmRun],
    curves: &[RunCurve],
    dir: &Path,
    prefix: &str,
) -> Result<Vec<(PathBuf, String)>, ExperimentError> {
    let mut arms: Vec<Arm> = runs.iter().map(|r| r.arm).collect();
    arms.sort();
    arms.dedup();
    let weight_panels: Vec<Option<Panel>> = arms
        .iter()
        .map(|&arm| {
            let of: Vec<&ArmRun> = runs.iter().filter(|r| r.arm == arm).collect();
            let series = ctx
                .rewards
                .iter()
                .map(|name| {
                    let per: Vec<Vec<(usize, f64)>> = of
                        .iter()
                        .map(|r| {
                            r.metrics
                                .iter()
                                .filter_map(|l| l.weights.get(name).map(|&w| (l.step, w)))
                                .collect()
                        })
                        .collect();
                    over_seeds(name, &per)
                })
                .collect();
            Some(Panel {
                title: format!("{} {}", arm.letter(), arm.slug()),
                x_label: "PPO step".into(),
                y_label: "weight".into(),
                series,
            })
        })
        .collect();
    let wpath = dir.join(format!("{prefix}weights.png"));
    panels_png(
        &wpath,
        "Composer weights over training (mean +/- std over seeds)",
        &weight_panels,
        4,
        (420, 300),
    )?;
    let z_panels: Vec<Option<Panel>> = ctx
        .rewards
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let series = arms
                .iter()
                .map(|&arm| {
                    let per: Vec<Vec<(usize, f64)>> = curves
                        .iter()
                        .filter(|c| c.arm == arm)
                        .map(|c| {
                            let mu = ctx
                                .start
                                .get(&c.seed)
                                .and_then(|e| e.rewards.get(name))
                                .copied()
                                .unwrap_or(f64::NAN);
                            let sd = f64::from(ctx.plan.reference.1[i]);
                            c.points
                                .iter()
                                .filter_map(|p| {
                                    p.rewards.get(name).map(|r| (p.step, (r - mu) / sd))
                                })
                                .collect()
                        })
                        .collect();
                    over_seeds(&arm.letter(), &per)
                })
                .collect();
            Some(Panel {
                title: format!("{name}: z against the starting policy"),
                x_label: "PPO step".into(),
                y_label: "z".into(),
                series,
            })
        })
        .collect();
    let zpath = dir.join(format!("{prefix}z-curves.png"));
    panels_png(
        &zpath,
        "Validation z-scores over training (mean +/- std over seeds)",
        &z_panels,
        2,
        (560, 340),
    )?;
    let final_panels: Vec<IntervalPanel> = ctx
        .rewards
        .iter()
        .map(|n| format!("z {n}"))
        .chain(["min z over rewards".into(), "mean z over rewards".into()])
        .enumerate()
        .map(|(k, title)| IntervalPanel {
            title,
            y_label: "final z".into(),
            values: rows
                .iter()
                .filter_map(|r| Some((r.arm.letter(), *r.z_by_seed.get(k)?)))
                .collect(),
        })
        .collect();
    let fpath = dir.join(format!("{prefix}final-z.png"));
    intervals_png(
        &fpath,
        "Final z per arm (mean over seeds, 90% t interval over seeds)",
        &final_panels,
        3,
        (460, 320),
    )?;
    Ok(vec![
        (
            fpath,
            "Each arm's final z per reward, min and mean over rewards, with 90% intervals \
             over seeds (t)"
                .into(),
        ),
        (
            wpath,
            "Composer weights at every step, per arm (one line per reward)".into(),
        ),
        (
            zpath,
            "Each reward's validation z-score over training, per arm".into(),
        ),
    ])
}

/// The report's markdown.
pub fn fair_report(
    ctx: &ReportContext<'_>,
    a: &FairAnalysis,
    runs: &[ArmRun],
    figures: &[(PathBuf, String)],
) -> String {
    let mut s = String::new();
    let done = runs.len();
    let _ = writeln!(s, "# Fair test of the paper's claim\n");
    let _ = writeln!(
        s,
        "{}\n\n{done} of {} runs finished ({:.0} min in this invocation){}.\n",
        ctx.budget,
        ctx.planned,
        ctx.seconds / 60.0,
        if done < ctx.planned {
            "; **partial results**: the verdicts read only the runs that finished"
        } else {
            ""
        }
    );
    let p = ctx.plan;
    let _ = writeln!(s, "## Plan (fixed before the runs)\n");
    let _ = writeln!(
        s,
        "- z-scores: against the starting policy's per-seed validation means, in the \
         per-response standard deviations of {} calibration responses of it: {}",
        p.calibration,
        ctx.rewards
            .iter()
            .zip(p.reference.0.iter().zip(&p.reference.1))
            .map(|(n, (m, sd))| format!("{n} mean {m:.4} std {sd:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "- B', F: KL ball radius {:.4} (largest weight {:.3}), EMA decay {:.3}; C: every \
         z >= {}; E, F: group size {}",
        p.radius, p.max_weight, p.ema_decay, p.target, p.group_size
    );
    let _ = writeln!(
        s,
        "- Intervals: 90% Student-t over seeds of each seed's paired difference (its mean over \
         the evaluation prompts); the seeds x evaluation prompts bootstrap is shown beside it \
         for reference. Outcome of X - Y: better (above 0), worse (below 0), equivalent \
         (inside +/-{MARGIN}), else unclear; once the replication (seeds from {}) has run, \
         better and worse also need the first set's and the replication's estimates on \
         that side. A claim agrees when its four outcomes are better, disagrees when any is \
         worse or equivalent, else is inconclusive; it is a claim only when replicated.\n",
        ctx.replication_from
    );
    let _ = writeln!(s, "## Sanity gates\n");
    for g in &a.gates {
        let _ = writeln!(
            s,
            "- [{}] {}: {}",
            if g.passed { "pass" } else { "FAIL" },
            g.what,
            g.measured
        );
    }
    if a.gates.iter().any(|g| !g.passed) {
        let _ = writeln!(
            s,
            "\nA failed gate limits what the verdicts below can say: read them with it."
        );
    }
    if !a.undefined_m_eval.is_empty() {
        let list: Vec<String> = a
            .undefined_m_eval
            .iter()
            .map(|(run, m)| format!("{run} ({m})"))
            .collect();
        let _ = writeln!(
            s,
            "\nn/a: m_eval metrics undefined (responses without a single 3-gram), left out \
             of the normalisation and scored 0: {}.",
            list.join(", ")
        );
    }
    let _ = writeln!(s, "\n## Verdicts\n");
    for c in &a.claims {
        let _ = writeln!(
            s,
            "- **{}**{}: {}",
            c.verdict.words(),
            if c.replicated {
                " (replicated)"
            } else {
                " (first set of seeds only: not a claim until the replication agrees)"
            },
            c.what
        );
    }
    let _ = writeln!(
        s,
        "\n| X - Y | seeds | m_eval | min z | mean z | first set / replication (m_eval; min z) | \
         bootstrap seeds x prompts (m_eval; min z) | outcome (m_eval, min z) |\n\
         |---|---|---|---|---|---|---|---|"
    );
    for c in &a.comparisons {
        let [om, oz] = c.outcomes();
        let d = &c.pooled.by_seed;
        let (seeds, parts) = match (&c.first, &c.replication) {
            (Some(f), Some(r)) => (
                format!("{} + {}", f.seeds, r.seeds),
                format!(
                    "{:+.3} / {:+.3}; {:+.3} / {:+.3}",
                    f.by_seed.m_eval.estimate,
                    r.by_seed.m_eval.estimate,
                    f.by_seed.min_z.estimate,
                    r.by_seed.min_z.estimate
                ),
            ),
            _ => (c.pooled.seeds.to_string(), "not yet".into()),
        };
        let _ = writeln!(
            s,
            "| {} - {} | {seeds} | {} | {} | {} | {parts} | {}; {} | {}, {} |",
            c.x.letter(),
            c.y.letter(),
            iv(&d.m_eval),
            iv(&d.min_z),
            iv(&d.mean_z),
            iv(&c.bootstrap.m_eval),
            iv(&c.bootstrap.min_z),
            outcome(om),
            outcome(oz)
        );
    }
    if !a.conflicts.is_empty() {
        let _ = writeln!(s, "\n## Conflict check\n");
        let _ = writeln!(
            s,
            "Each single-reward arm's final z on the other rewards (90% seeds x prompts \
             bootstrap). The rewards conflict when moving one alone lowers another (the \
             interval lies below 0).\n"
        );
        let head: String = ctx.rewards.iter().map(|n| format!(" z {n} |")).collect();
        let _ = writeln!(
            s,
            "| arm |{head}\n|---|{}",
            "---|".repeat(ctx.rewards.len())
        );
        let mut singles: Vec<usize> = a.conflicts.iter().map(|c| c.single).collect();
        singles.dedup();
        for i in singles {
            let cells: String = (0..ctx.rewards.len())
                .map(|j| {
                    a.conflicts
                        .iter()
                        .find(|c| c.single == i && c.other == j)
                        .map_or(" (its own) |".to_string(), |c| {
                            format!(
                                " {}{} |",
                                iv(&c.z),
                                if c.lowers() { " lowered" } else { "" }
                            )
                        })
                })
                .collect();
            let _ = writeln!(s, "| G{i} ({}) |{cells}", ctx.rewards[i]);
        }
        let lowered: Vec<String> = a
            .conflicts
            .iter()
            .filter(|c| c.lowers())
            .map(|c| {
                format!(
                    "{} alone lowers {} ({})",
                    ctx.rewards[c.single],
                    ctx.rewards[c.other],
                    iv(&c.z)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "\n{}",
            if lowered.is_empty() {
                "No single-reward arm lowered another reward: in this budget the set does not \
                 conflict, and a composer has nothing to arbitrate."
                    .to_string()
            } else {
                format!("The rewards conflict: {}.", lowered.join("; "))
            }
        );
    }
    let _ = writeln!(s, "\n## Arms\n");
    let head: String = ctx.rewards.iter().map(|n| format!(" z {n} |")).collect();
    let _ = writeln!(
        s,
        "| arm | what | seeds |{head} min z | mean z | spread | m_eval (all) | m_eval (C) | KL | length | final weights |"
    );
    let _ = writeln!(s, "|{}", "---|".repeat(11 + ctx.rewards.len()));
    for r in &a.rows {
        let zs: String =
            r.z.iter()
                .zip(&r.of_single)
                .map(|(z, f)| match f {
                    Some(f) => format!(" {z:+.3} ({:.0}% of G) |", 100.0 * f),
                    None => format!(" {z:+.3} |"),
                })
                .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} |{zs} {:+.3} | {:+.3} | {:.3} | {:.3} | {} | {:.3} | {:.1} | {} |",
            r.arm.letter(),
            r.arm.describe(),
            r.seeds,
            r.min_z,
            r.mean_z,
            r.spread,
            r.m_eval_all,
            r.m_eval_c.map_or("-".into(), |m| format!("{m:.3}")),
            r.kl,
            r.length,
            r.weights
                .iter()
                .map(|w| format!("{w:.2}"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
    }
    if let Some(b) = a.rows.iter().find(|r| r.arm == Arm::FastRl) {
        let _ = writeln!(
            s,
            "\nB's final weights (mean over its seeds): {}.",
            ctx.rewards
                .iter()
                .zip(&b.weights)
                .map(|(n, w)| format!("{n} {w:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(s, "\n## Figures\n");
    for (path, caption) in figures {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let _ = writeln!(s, "![{caption}]({name})\n\n{caption}.\n");
    }
    let _ = writeln!(s, "## Samples (seed 0, first validation pairs)\n");
    let mut arms: Vec<Arm> = runs.iter().map(|r| r.arm).collect();
    arms.sort();
    arms.dedup();
    if let Some(first) = runs.iter().min_by_key(|r| r.seed) {
        for (k, smp) in first.eval.samples.iter().take(3).enumerate() {
            let _ = writeln!(
                s,
                "**Context {}**: {}  \n**Reference**: {}\n",
                k + 1,
                smp.context.replace('\n', " "),
                smp.reference.replace('\n', " ")
            );
            if let Some(st) = ctx.start.values().next() {
                if let Some(x) = st.responses.get(k) {
                    let _ = writeln!(s, "- start: {}", x.replace('\n', " "));
                }
            }
            for &arm in &arms {
                let run = runs.iter().filter(|r| r.arm == arm).min_by_key(|r| r.seed);
                if let Some(x) = run.and_then(|r| r.eval.responses.get(k)) {
                    let _ = writeln!(s, "- {}: {}", arm.letter(), x.replace('\n', " "));
                }
            }
            let _ = writeln!(s);
        }
    }
    s
}
