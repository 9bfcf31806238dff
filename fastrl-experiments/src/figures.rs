//! The grid's four figures, from its typed records: m_eval over training (the paper's
//! Figure 3), each reward's validation curve, the weight trajectories and the final
//! per-reward score distributions.

use crate::cells::{Cell, COMPOSERS};
use crate::error::ExperimentError;
use crate::m_eval::m_eval;
use crate::plot::{histogram, mean_std, panels_png, Panel, Series};
use fastrl_trainer::io::records::{EvalPoint, EvalReport, PerReward, StepMetrics};
use fastrl_trainer::rewards::kind::RewardKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A finished cell's records, as the figures read them.
#[derive(Clone, Debug)]
pub struct CellRun {
    /// The cell.
    pub cell: Cell,
    /// Its final evaluation (`eval.json`).
    pub eval: EvalReport,
    /// `ppo/eval-curve.jsonl`: evaluations over training.
    pub curve: Vec<EvalPoint>,
    /// `ppo/metrics.jsonl`: per-step training records.
    pub metrics: Vec<StepMetrics>,
}

/// The distinct reward sets of `runs`, in order of first appearance.
pub fn sets_of(runs: &[CellRun]) -> Vec<Vec<RewardKind>> {
    let mut sets: Vec<Vec<RewardKind>> = Vec::new();
    for r in runs {
        if !sets.contains(&r.cell.rewards) {
            sets.push(r.cell.rewards.clone());
        }
    }
    sets
}

/// Every reward of `sets`, in order of first appearance (the figures' columns).
fn columns(sets: &[Vec<RewardKind>]) -> Vec<RewardKind> {
    let mut all = Vec::new();
    for s in sets {
        for r in s {
            if !all.contains(r) {
                all.push(*r);
            }
        }
    }
    all
}

/// `map[name]`, or an error naming the cell and the field.
fn field(map: &PerReward, r: RewardKind, what: &str, cell: &Cell) -> Result<f64, ExperimentError> {
    map.get(r.name()).copied().ok_or_else(|| {
        ExperimentError::Data(format!(
            "{}: {what} has no {}, a reward of this cell",
            cell.name(),
            r.name()
        ))
    })
}

/// Mean +/- std over seeds at each step: `per_seed` holds each seed's `(step, value)`.
pub fn over_seeds(label: &str, per_seed: &[Vec<(usize, f64)>]) -> Series {
    let mut at: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for run in per_seed {
        for &(x, v) in run {
            if v.is_finite() {
                at.entry(x).or_default().push(v);
            }
        }
    }
    Series {
        label: label.to_string(),
        points: at
            .into_iter()
            .map(|(x, vs)| {
                let (m, sd) = mean_std(&vs);
                (x as f64, m, sd)
            })
            .collect(),
    }
}

fn names(set: &[RewardKind]) -> Vec<&'static str> {
    set.iter().map(|r| r.name()).collect()
}

fn set_title(set: &[RewardKind]) -> String {
    format!("{} rewards ({})", set.len(), names(set).join(" + "))
}

fn set_short(set: &[RewardKind]) -> String {
    format!("{} rewards", set.len())
}

/// m_eval over training: one panel per reward set, one series per composer, mean +/- std
/// over seeds. Each metric is min-max normalised over every evaluation of every cell, so
/// the curves share one scale.
pub fn m_eval_curve_panels(runs: &[CellRun]) -> Result<Vec<Option<Panel>>, ExperimentError> {
    let all: Vec<(String, &fastrl_trainer::io::records::MEvalMetrics)> = runs
        .iter()
        .flat_map(|r| {
            r.curve.iter().map(move |l| {
                (
                    format!("{} at step {}", r.cell.name(), l.step),
                    &l.m_eval_metrics,
                )
            })
        })
        .collect();
    let me = m_eval(&all)?;
    let mut k = 0;
    let per_run: Vec<Vec<(usize, f64)>> = runs
        .iter()
        .map(|r| {
            r.curve
                .iter()
                .map(|l| {
                    k += 1;
                    (l.step, me[k - 1])
                })
                .collect()
        })
        .collect();
    Ok(sets_of(runs)
        .iter()
        .map(|set| {
            let series = COMPOSERS
                .iter()
                .map(|&c| {
                    let runs_of: Vec<Vec<(usize, f64)>> = runs
                        .iter()
                        .zip(&per_run)
                        .filter(|(r, _)| r.cell.composer == c && &r.cell.rewards == set)
                        .map(|(_, p)| p.clone())
                        .collect();
                    over_seeds(c.name(), &runs_of)
                })
                .collect();
            Some(Panel {
                title: set_title(set),
                x_label: "PPO step".into(),
                y_label: "m_eval (normalised)".into(),
                series,
            })
        })
        .collect())
}

/// Rows: reward sets; columns: every reward. Each panel comes from `f(set, reward)`; a
/// reward outside the row's set leaves its cell empty.
fn set_by_reward(
    runs: &[CellRun],
    f: impl Fn(&[RewardKind], RewardKind) -> Result<Panel, ExperimentError>,
) -> Result<Vec<Option<Panel>>, ExperimentError> {
    let sets = sets_of(runs);
    let all = columns(&sets);
    let mut out = Vec::new();
    for set in &sets {
        for &r in &all {
            out.push(if set.contains(&r) {
                Some(f(set, r)?)
            } else {
                None
            });
        }
    }
    Ok(out)
}

/// Each reward's validation mean over training, per composer (mean +/- std over seeds).
pub fn reward_curve_panels(runs: &[CellRun]) -> Result<Vec<Option<Panel>>, ExperimentError> {
    set_by_reward(runs, |set, r| {
        let series = COMPOSERS
            .iter()
            .map(|&c| {
                let per: Vec<Vec<(usize, f64)>> = runs
                    .iter()
                    .filter(|x| x.cell.composer == c && x.cell.rewards == set)
                    .map(|x| {
                        x.curve
                            .iter()
                            .map(|l| {
                                Ok((l.step, field(&l.rewards, r, "eval-curve.jsonl", &x.cell)?))
                            })
                            .collect::<Result<Vec<_>, ExperimentError>>()
                    })
                    .collect::<Result<_, _>>()?;
                Ok(over_seeds(c.name(), &per))
            })
            .collect::<Result<_, ExperimentError>>()?;
        Ok(Panel {
            title: format!("{r} | {}", set_short(set)),
            x_label: "PPO step".into(),
            y_label: format!("{r} (validation mean)"),
            series,
        })
    })
}

/// Weight trajectories: rows are reward sets, columns composers; one series per reward
/// (its weight at each PPO step, mean +/- std over seeds).
pub fn weight_panels(runs: &[CellRun]) -> Result<Vec<Option<Panel>>, ExperimentError> {
    let mut out = Vec::new();
    for set in sets_of(runs) {
        for c in COMPOSERS {
            let of: Vec<&CellRun> = runs
                .iter()
                .filter(|x| x.cell.composer == c && x.cell.rewards == set)
                .collect();
            let series = set
                .iter()
                .map(|&r| {
                    let per: Vec<Vec<(usize, f64)>> = of
                        .iter()
                        .map(|x| {
                            x.metrics
                                .iter()
                                .map(|l| {
                                    Ok((l.step, field(&l.weights, r, "metrics.jsonl", &x.cell)?))
                                })
                                .collect::<Result<Vec<_>, ExperimentError>>()
                        })
                        .collect::<Result<_, _>>()?;
                    Ok(over_seeds(r.name(), &per))
                })
                .collect::<Result<_, ExperimentError>>()?;
            out.push(Some(Panel {
                title: format!("{c} | {}", set_short(&set)),
                x_label: "PPO step".into(),
                y_label: "weight".into(),
                series,
            }));
        }
    }
    Ok(out)
}

/// Per-reward score distributions of the final policies on the validation pairs: one
/// histogram per composer over all seeds' responses (fraction of responses per bin).
pub fn score_panels(runs: &[CellRun], bins: usize) -> Result<Vec<Option<Panel>>, ExperimentError> {
    set_by_reward(runs, |set, r| {
        let of = |c| -> Result<Vec<f64>, ExperimentError> {
            let mut xs = Vec::new();
            for x in runs
                .iter()
                .filter(|x| x.cell.composer == c && x.cell.rewards == set)
            {
                let s = x.eval.scores.get(r.name()).ok_or_else(|| {
                    ExperimentError::Data(format!(
                        "{}: eval.json has no scores of {r}, a reward of this cell",
                        x.cell.name()
                    ))
                })?;
                xs.extend_from_slice(s);
            }
            Ok(xs)
        };
        let pooled: Vec<Vec<f64>> = COMPOSERS.iter().map(|&c| of(c)).collect::<Result<_, _>>()?;
        let lo = pooled
            .iter()
            .flatten()
            .cloned()
            .fold(f64::INFINITY, f64::min);
        let hi = pooled
            .iter()
            .flatten()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        Ok(Panel {
            title: format!("{r} | {}", set_short(set)),
            x_label: format!("{r} of a response"),
            y_label: "fraction of responses".into(),
            series: COMPOSERS
                .iter()
                .zip(&pooled)
                .map(|(c, xs)| histogram(c.name(), xs, lo, hi, bins))
                .collect(),
        })
    })
}

/// Writes the four figures into `dir` and returns each file with its caption.
pub fn figures(runs: &[CellRun], dir: &Path) -> Result<Vec<(PathBuf, String)>, ExperimentError> {
    let n_rewards = columns(&sets_of(runs)).len().max(1);
    // (file, caption, panels, columns, pixels per panel)
    type Figure<'a> = (&'a str, &'a str, Vec<Option<Panel>>, usize, (u32, u32));
    let figs: [Figure<'_>; 4] = [
        (
            "m_eval.png",
            "m_eval over training (mean +/- std over seeds)",
            m_eval_curve_panels(runs)?,
            3,
            (520, 380),
        ),
        (
            "reward_curves.png",
            "Each reward on the validation pairs over training (mean +/- std over seeds)",
            reward_curve_panels(runs)?,
            n_rewards,
            (420, 320),
        ),
        (
            "weights.png",
            "Reward weights during PPO (mean +/- std over seeds)",
            weight_panels(runs)?,
            COMPOSERS.len(),
            (480, 320),
        ),
        (
            "scores.png",
            "Per-reward score distributions of the final policies (validation, all seeds)",
            score_panels(runs, 20)?,
            n_rewards,
            (420, 320),
        ),
    ];
    let mut out = Vec::new();
    for (name, caption, panels, cols, size) in figs {
        let path = dir.join(name);
        panels_png(&path, caption, &panels, cols, size)?;
        out.push((path, caption.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cells::reward_sets;
    use crate::m_eval::tests::metrics;
    use crate::plot::colour;
    use composer_core::ComposerKind;
    use fastrl_trainer::io::records::PhaseSeconds;

    fn per(pairs: &[(&str, f64)]) -> PerReward {
        pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    /// An evaluation with these m_eval metrics, meteor `r` and semantic `2 r`.
    pub(crate) fn ev(v: [f64; 6], r: f64) -> EvalReport {
        EvalReport {
            distinct_2: 0.5,
            m_eval_metrics: metrics(v),
            mean_length: 3.0,
            pairs: 4,
            rewards: per(&[("meteor", r), ("semantic", 2.0 * r)]),
            samples: vec![],
            scores: [
                ("meteor".to_string(), vec![0.0, 0.1, 0.9, 1.0]),
                ("semantic".to_string(), vec![0.5; 4]),
            ]
            .into_iter()
            .collect(),
            responses: vec![],
            weights: Some(per(&[("meteor", 0.5), ("semantic", 0.5)])),
        }
    }

    fn step(i: usize, a: f64) -> StepMetrics {
        StepMetrics {
            beta: 0.1,
            clip_frac: 0.0,
            composite: 0.0,
            disparity: 0.0,
            kl: 0.0,
            min_reward: 0.0,
            phase_s: PhaseSeconds {
                forward: 0.0,
                fused: 0.0,
                generate: 0.0,
                score: 0.0,
                train: 0.0,
            },
            policy_loss: 0.0,
            response_len: 1.0,
            rewards: per(&[("meteor", 0.1), ("semantic", 0.2)]),
            sample: String::new(),
            step: i,
            step_s: 0.0,
            tokens_per_s: 0.0,
            value_loss: 0.0,
            weights: per(&[("meteor", a), ("semantic", 1.0 - a)]),
            ..StepMetrics::default()
        }
    }

    fn run(c: ComposerKind, seed: u64, curve: &[(usize, f64)], w: &[f64]) -> CellRun {
        let sets = reward_sets();
        CellRun {
            cell: Cell {
                composer: c,
                rewards: sets[0].clone(),
                seed,
            },
            eval: ev([1.0; 6], 0.1),
            curve: curve
                .iter()
                .map(|&(s, x)| EvalPoint::of(s, &ev([x; 6], x)))
                .collect(),
            metrics: w.iter().enumerate().map(|(i, &a)| step(i + 1, a)).collect(),
        }
    }

    #[test]
    fn figure_data_is_mean_and_std_over_seeds_and_is_drawn() {
        // Two seeds of Fast RL with two rewards; one fixed-weights run.
        let runs = vec![
            run(ComposerKind::FastRl, 0, &[(0, 0.0), (10, 2.0)], &[0.5, 0.7]),
            run(ComposerKind::FastRl, 1, &[(0, 0.0), (10, 4.0)], &[0.5, 0.9]),
            run(ComposerKind::Fixed, 0, &[(0, 0.0), (10, 1.0)], &[0.5, 0.5]),
        ];
        // Every metric spans 0..4 over all evaluations: m_eval = x / 4.
        let p = m_eval_curve_panels(&runs).unwrap();
        assert_eq!(p.len(), 1);
        let fr = &p[0].as_ref().unwrap().series[0];
        assert_eq!(fr.label, "fastrl");
        let close = |a: &[(f64, f64, f64)], b: &[(f64, f64, f64)]| {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| {
                    (x.0 - y.0).abs() < 1e-12
                        && (x.1 - y.1).abs() < 1e-12
                        && (x.2 - y.2).abs() < 1e-12
                })
        };
        assert!(
            close(&fr.points, &[(0.0, 0.0, 0.0), (10.0, 0.75, 0.25)]),
            "{:?}",
            fr.points
        );
        assert!(close(
            &p[0].as_ref().unwrap().series[1].points[1..],
            &[(10.0, 0.25, 0.0)]
        ));
        // Weights of seed 0 and 1 at step 2: meteor 0.7, 0.9.
        let w = weight_panels(&runs).unwrap();
        assert_eq!(w.len(), 3);
        let (x, m, sd) = w[0].as_ref().unwrap().series[0].points[1];
        assert_eq!(x, 2.0);
        assert!(
            (m - 0.8).abs() < 1e-12 && (sd - 0.1).abs() < 1e-12,
            "{m} {sd}"
        );
        let rc = reward_curve_panels(&runs).unwrap();
        assert_eq!(rc.len(), 2);
        let m = rc[0].as_ref().unwrap().series[0].points[1].1;
        assert!((m - 3.0).abs() < 1e-12, "{m}");
        // Scores: both fastrl seeds pooled (8 responses) into 2 bins over [0, 1].
        let sc = score_panels(&runs, 2).unwrap();
        let h = &sc[0].as_ref().unwrap().series[0];
        assert_eq!(h.points, [(0.25, 0.5, 0.0), (0.75, 0.5, 0.0)]);
        // The four PNGs, with the composers' colours drawn where they have data.
        let dir = std::env::temp_dir().join(format!("fastrl-grid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let figs = figures(&runs, &dir).unwrap();
        assert_eq!(figs.len(), 4);
        let img = image::open(&figs[0].0).unwrap().to_rgb8();
        let count = |k: usize| {
            let c = colour(k);
            img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
        };
        // fastrl (0) and fixed (1) have curves; lagrangian (2) has no run, only its
        // legend entry (a short stroke, under 100 pixels).
        let (c0, c1, c2) = (count(0), count(1), count(2));
        assert!(c0 > 300 && c1 > 300 && c2 < 100, "{c0} {c1} {c2}");
        std::fs::remove_dir_all(&dir).ok();
        // A curve point missing one of its cell's rewards is an error naming both.
        let mut bad = runs.clone();
        bad[0].curve[1].rewards.remove("semantic");
        let e = reward_curve_panels(&bad).unwrap_err().to_string();
        assert!(e.contains("fastrl-2r-s0") && e.contains("semantic"), "{e}");
    }
}
