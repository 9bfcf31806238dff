//! The paper's comparison as a grid: composer x reward set x seed, every cell with the
//! same budget from the same SFT model, and a Markdown report with the paper's m_eval
//! (the mean of six metrics, each min-max normalised across the compared cells).

use crate::plot::{histogram, mean_std, panels_png, Panel, Series};
use crate::TrainerError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One run of the grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// `fastrl`, `fixed` or `lagrangian`.
    pub composer: String,
    /// Reward names.
    pub rewards: Vec<String>,
    /// Seed.
    pub seed: u64,
}

impl Cell {
    /// Directory name: `<composer>-<n>r-s<seed>`.
    pub fn name(&self) -> String {
        format!("{}-{}r-s{}", self.composer, self.rewards.len(), self.seed)
    }
}

/// The six metrics of m_eval, as `eval` reports them under `m_eval_metrics`.
pub const M_EVAL: [&str; 6] = [
    "sacrebleu",
    "rouge_2",
    "rouge_l",
    "cond_entropy_3",
    "vocab_3_nopunct",
    "mean_length_nopunct",
];

/// The grid: composers {Fast RL, fixed, Lagrangian} x reward sets {METEOR +
/// semantic; + BLEU; + BERTScore} x `seeds` seeds. (Reward shaping needs a cost; none of
/// these rewards is one.)
pub fn cells(seeds: u64) -> Vec<Cell> {
    let sets: [&[&str]; 3] = [
        &["meteor", "semantic"],
        &["meteor", "semantic", "bleu"],
        &["meteor", "semantic", "bleu", "bertscore"],
    ];
    let mut out = Vec::new();
    for set in sets {
        for composer in ["fastrl", "fixed", "lagrangian"] {
            for seed in 0..seeds {
                out.push(Cell {
                    composer: composer.into(),
                    rewards: set.iter().map(|s| s.to_string()).collect(),
                    seed,
                });
            }
        }
    }
    out
}

/// The composers of the grid, in the order of their colours in the figures.
pub const COMPOSERS: [&str; 3] = ["fastrl", "fixed", "lagrangian"];

/// The grid's reward sets (each a prefix of the next).
pub fn reward_sets() -> Vec<Vec<String>> {
    let mut sets: Vec<Vec<String>> = Vec::new();
    for c in cells(1) {
        if !sets.contains(&c.rewards) {
            sets.push(c.rewards);
        }
    }
    sets
}

/// A finished cell's records, as the figures read them.
#[derive(Clone, Debug)]
pub struct CellRun {
    /// The cell.
    pub cell: Cell,
    /// Its final evaluation (`eval.json`, with `scores` per reward).
    pub eval: Value,
    /// `ppo/eval-curve.jsonl`: evaluations over training.
    pub curve: Vec<Value>,
    /// `ppo/metrics.jsonl`: per-step training records (with `weights`).
    pub metrics: Vec<Value>,
}

/// Mean +/- std over seeds at each step: `per_seed` holds each seed's `(step, value)`.
fn over_seeds(label: &str, per_seed: &[Vec<(u64, f64)>]) -> Series {
    let mut at: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
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

fn step_of(v: &Value) -> u64 {
    v["step"].as_u64().unwrap_or(0)
}

fn set_title(set: &[String]) -> String {
    format!("{} rewards ({})", set.len(), set.join(" + "))
}

fn set_short(set: &[String]) -> String {
    format!("{} rewards", set.len())
}

/// m_eval over training (the paper's Figure 3): one panel per reward set, one series per
/// composer, mean +/- std over seeds. Each metric is min-max normalised over every
/// evaluation of every cell, so the curves share one scale.
pub fn m_eval_curve_panels(runs: &[CellRun]) -> Vec<Option<Panel>> {
    let all: Vec<&Value> = runs.iter().flat_map(|r| r.curve.iter()).collect();
    let me = m_eval(&all);
    let mut k = 0;
    let per_run: Vec<Vec<(u64, f64)>> = runs
        .iter()
        .map(|r| {
            r.curve
                .iter()
                .map(|l| {
                    k += 1;
                    (step_of(l), me[k - 1])
                })
                .collect()
        })
        .collect();
    reward_sets()
        .iter()
        .map(|set| {
            let series = COMPOSERS
                .iter()
                .map(|&c| {
                    let runs_of: Vec<Vec<(u64, f64)>> = runs
                        .iter()
                        .zip(&per_run)
                        .filter(|(r, _)| r.cell.composer == c && &r.cell.rewards == set)
                        .map(|(_, p)| p.clone())
                        .collect();
                    over_seeds(c, &runs_of)
                })
                .collect();
            Some(Panel {
                title: set_title(set),
                x_label: "PPO step".into(),
                y_label: "m_eval (normalised)".into(),
                series,
            })
        })
        .collect()
}

/// Rows: reward sets; columns: the largest set's rewards. Each panel comes from `f(set,
/// reward)`; a reward outside the row's set leaves its cell empty.
fn set_by_reward(f: impl Fn(&[String], &str) -> Panel) -> Vec<Option<Panel>> {
    let sets = reward_sets();
    let all = sets.last().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for set in &sets {
        for r in &all {
            out.push(set.contains(r).then(|| f(set, r)));
        }
    }
    out
}

/// Each reward's validation mean over training, per composer (mean +/- std over seeds).
pub fn reward_curve_panels(runs: &[CellRun]) -> Vec<Option<Panel>> {
    set_by_reward(|set, r| Panel {
        title: format!("{r} | {}", set_short(set)),
        x_label: "PPO step".into(),
        y_label: format!("{r} (validation mean)"),
        series: COMPOSERS
            .iter()
            .map(|&c| {
                let per: Vec<Vec<(u64, f64)>> = runs
                    .iter()
                    .filter(|x| x.cell.composer == c && x.cell.rewards == set)
                    .map(|x| {
                        x.curve
                            .iter()
                            .map(|l| (step_of(l), l["rewards"][r].as_f64().unwrap_or(f64::NAN)))
                            .collect()
                    })
                    .collect();
                over_seeds(c, &per)
            })
            .collect(),
    })
}

/// Weight trajectories: rows are reward sets, columns composers; one series per reward
/// (its weight in the composite at each PPO step, mean +/- std over seeds).
pub fn weight_panels(runs: &[CellRun]) -> Vec<Option<Panel>> {
    let mut out = Vec::new();
    for set in reward_sets() {
        for c in COMPOSERS {
            let of: Vec<&CellRun> = runs
                .iter()
                .filter(|x| x.cell.composer == c && x.cell.rewards == set)
                .collect();
            let series = set
                .iter()
                .map(|r| {
                    let per: Vec<Vec<(u64, f64)>> = of
                        .iter()
                        .map(|x| {
                            x.metrics
                                .iter()
                                .map(|l| (step_of(l), l["weights"][r].as_f64().unwrap_or(f64::NAN)))
                                .collect()
                        })
                        .collect();
                    over_seeds(r, &per)
                })
                .collect();
            out.push(Some(Panel {
                title: format!("{c} | {}", set_short(&set)),
                x_label: "PPO step".into(),
                y_label: "weight".into(),
                series,
            }));
        }
    }
    out
}

/// Per-reward score distributions of the final policies on the validation pairs: one
/// histogram per composer over all seeds' responses (fraction of responses per bin).
pub fn score_panels(runs: &[CellRun], bins: usize) -> Vec<Option<Panel>> {
    set_by_reward(|set, r| {
        let of = |c: &str| -> Vec<f64> {
            runs.iter()
                .filter(|x| x.cell.composer == c && x.cell.rewards == set)
                .flat_map(|x| {
                    x.eval["scores"][r]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_f64).collect::<Vec<_>>())
                        .unwrap_or_default()
                })
                .collect()
        };
        let pooled: Vec<Vec<f64>> = COMPOSERS.iter().map(|&c| of(c)).collect();
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
        Panel {
            title: format!("{r} | {}", set_short(set)),
            x_label: format!("{r} of a response"),
            y_label: "fraction of responses".into(),
            series: COMPOSERS
                .iter()
                .zip(&pooled)
                .map(|(&c, xs)| histogram(c, xs, lo, hi, bins))
                .collect(),
        }
    })
}

/// Writes the four figures into `dir` and returns each file name with its caption.
pub fn figures(runs: &[CellRun], dir: &Path) -> Result<Vec<(PathBuf, String)>, TrainerError> {
    let n_rewards = reward_sets().last().map_or(1, Vec::len);
    // (file, caption, panels, columns, pixels per panel)
    type Figure<'a> = (&'a str, &'a str, Vec<Option<Panel>>, usize, (u32, u32));
    let figs: [Figure<'_>; 4] = [
        (
            "m_eval.png",
            "m_eval over training (mean +/- std over seeds)",
            m_eval_curve_panels(runs),
            3,
            (520, 380),
        ),
        (
            "reward_curves.png",
            "Each reward on the validation pairs over training (mean +/- std over seeds)",
            reward_curve_panels(runs),
            n_rewards,
            (420, 320),
        ),
        (
            "weights.png",
            "Reward weights during PPO (mean +/- std over seeds)",
            weight_panels(runs),
            COMPOSERS.len(),
            (480, 320),
        ),
        (
            "scores.png",
            "Per-reward score distributions of the final policies (validation, all seeds)",
            score_panels(runs, 20),
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

/// m_eval of every cell: each of the six metrics min-max normalised over `evals` (0 when
/// all cells agree), then averaged.
pub fn m_eval(evals: &[&Value]) -> Vec<f64> {
    let get = |e: &Value, k: &str| e["m_eval_metrics"][k].as_f64().unwrap_or(0.0);
    let mut out = vec![0.0; evals.len()];
    for k in M_EVAL {
        let xs: Vec<f64> = evals.iter().map(|e| get(e, k)).collect();
        let lo = xs.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        for (o, x) in out.iter_mut().zip(&xs) {
            *o += if hi > lo { (x - lo) / (hi - lo) } else { 0.0 } / M_EVAL.len() as f64;
        }
    }
    out
}

/// The Markdown report over finished cells (`eval.json` of each, with the final weights
/// under `weights`): per composer and reward set, mean +/- std over seeds of m_eval, each
/// reward's mean, the disparity across rewards and the minimum reward; then `figures`
/// (PNG paths next to the report, with captions) and samples.
pub fn report(results: &[(Cell, Value)], budget: &str, figures: &[(PathBuf, String)]) -> String {
    let evals: Vec<&Value> = results.iter().map(|(_, e)| e).collect();
    let me = m_eval(&evals);
    let mut groups: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    for (i, (c, _)) in results.iter().enumerate() {
        groups
            .entry((c.rewards.len(), c.composer.clone()))
            .or_default()
            .push(i);
    }
    let mut s = String::new();
    let _ = writeln!(s, "# Composer comparison\n");
    let _ = writeln!(s, "{budget}\n");
    let _ = writeln!(
        s,
        "m_eval: the mean of corpus SacreBLEU, ROUGE-2, ROUGE-L, 3-gram conditional entropy, \
         3-gram vocabulary and mean length (both without punctuation), each min-max \
         normalised over the {} runs below. Values are mean +/- std over seeds.\n",
        results.len()
    );
    let _ = writeln!(
        s,
        "| rewards | composer | m_eval | reward means | disparity | min reward | final weights |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for ((_, composer), idx) in &groups {
        let cell = &results[idx[0]].0;
        let names = &cell.rewards;
        let ms: Vec<f64> = idx.iter().map(|&i| me[i]).collect();
        let means_of = |i: usize| -> Vec<f64> {
            names
                .iter()
                .map(|n| results[i].1["rewards"][n].as_f64().unwrap_or(f64::NAN))
                .collect()
        };
        let per_reward: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let xs: Vec<f64> = idx.iter().map(|&i| means_of(i)[k]).collect();
                let (m, sd) = mean_std(&xs);
                format!("{n} {m:.4}+/-{sd:.4}")
            })
            .collect();
        let disp: Vec<f64> = idx.iter().map(|&i| mean_std(&means_of(i)).1).collect();
        let mins: Vec<f64> = idx
            .iter()
            .map(|&i| means_of(i).into_iter().fold(f64::INFINITY, f64::min))
            .collect();
        let weights: Vec<String> = names
            .iter()
            .map(|n| {
                let xs: Vec<f64> = idx
                    .iter()
                    .map(|&i| results[i].1["weights"][n].as_f64().unwrap_or(f64::NAN))
                    .collect();
                format!("{:.2}", mean_std(&xs).0)
            })
            .collect();
        let (m, sd) = mean_std(&ms);
        let (dm, dsd) = mean_std(&disp);
        let (mm, msd) = mean_std(&mins);
        let _ = writeln!(
            s,
            "| {} | {composer} | {m:.3}+/-{sd:.3} | {} | {dm:.4}+/-{dsd:.4} | {mm:.4}+/-{msd:.4} | {} |",
            names.join(" + "),
            per_reward.join(", "),
            weights.join(" / ")
        );
    }
    if !figures.is_empty() {
        let _ = writeln!(s, "\n## Figures\n");
        for (path, caption) in figures {
            let name = path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into());
            let _ = writeln!(s, "{caption}:\n\n![{caption}]({name})\n");
        }
    }
    // Samples like the paper's Table 11: the first validation pairs, each composer's
    // response with every reward set (seed 0).
    let _ = writeln!(s, "\n## Samples (seed 0, first validation pairs)\n");
    for k in 0..3 {
        let mut first = true;
        for (c, e) in results.iter().filter(|(c, _)| c.seed == 0) {
            let Some(sm) = e["samples"].as_array().and_then(|a| a.get(k)) else {
                continue;
            };
            if first {
                let _ = writeln!(
                    s,
                    "**Context** `{}`  \n**Reference** `{}`\n\n| run | response |\n|---|---|",
                    sm["context"].as_str().unwrap_or(""),
                    sm["reference"].as_str().unwrap_or("")
                );
                first = false;
            }
            let _ = writeln!(
                s,
                "| {} | `{}` |",
                c.name(),
                sm["response"].as_str().unwrap_or("").replace('|', "\\|")
            );
        }
        if !first {
            let _ = writeln!(s);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(v: [f64; 6], r: f64) -> Value {
        json!({
            "m_eval_metrics": {
                "sacrebleu": v[0], "rouge_2": v[1], "rouge_l": v[2],
                "cond_entropy_3": v[3], "vocab_3_nopunct": v[4], "mean_length_nopunct": v[5]
            },
            "rewards": {"meteor": r, "semantic": 2.0 * r},
            "weights": {"meteor": 0.5, "semantic": 0.5},
        })
    }

    #[test]
    fn m_eval_normalises_each_metric_over_the_runs() {
        let a = ev([1.0, 0.1, 0.2, 1.0, 10.0, 5.0], 0.1);
        let b = ev([3.0, 0.3, 0.2, 2.0, 30.0, 5.0], 0.2);
        let c = ev([2.0, 0.2, 0.2, 1.5, 20.0, 5.0], 0.3);
        let m = m_eval(&[&a, &b, &c]);
        // a is the minimum of four metrics, b the maximum; rouge_l and length are equal (0).
        assert_eq!(m[0], 0.0);
        assert!((m[1] - 4.0 / 6.0).abs() < 1e-12, "{m:?}");
        assert!((m[2] - 2.0 / 6.0).abs() < 1e-12, "{m:?}");
    }

    fn run(composer: &str, set: usize, seed: u64, curve: &[(u64, f64)], w: &[f64]) -> CellRun {
        let rewards = reward_sets()[set].clone();
        CellRun {
            cell: Cell {
                composer: composer.into(),
                rewards: rewards.clone(),
                seed,
            },
            eval: json!({"scores": {"meteor": [0.0, 0.1, 0.9, 1.0]}}),
            curve: curve
                .iter()
                .map(|&(s, x)| {
                    let mut e = ev([x; 6], x);
                    e["step"] = json!(s);
                    e
                })
                .collect(),
            metrics: w
                .iter()
                .enumerate()
                .map(
                    |(i, &a)| json!({"step": i + 1, "weights": {"meteor": a, "semantic": 1.0 - a}}),
                )
                .collect(),
        }
    }

    #[test]
    fn figure_data_is_mean_and_std_over_seeds() {
        // Two seeds of Fast RL with two rewards; one fixed-weights run.
        let runs = vec![
            run("fastrl", 0, 0, &[(0, 0.0), (10, 2.0)], &[0.5, 0.7]),
            run("fastrl", 0, 1, &[(0, 0.0), (10, 4.0)], &[0.5, 0.9]),
            run("fixed", 0, 0, &[(0, 0.0), (10, 3.0)], &[0.5, 0.5]),
        ];
        // Every metric spans 0..4 over all evaluations: m_eval = x / 4.
        let p = m_eval_curve_panels(&runs);
        assert_eq!(p.len(), 3);
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
            &[(10.0, 0.75, 0.0)]
        ));
        assert!(p[1].as_ref().unwrap().series[0].points.is_empty());
        // Weights of seed 0 and 1 at step 2: meteor 0.7, 0.9.
        let w = weight_panels(&runs);
        assert_eq!(w.len(), 9);
        let (x, m, sd) = w[0].as_ref().unwrap().series[0].points[1];
        assert_eq!(x, 2.0);
        assert!(
            (m - 0.8).abs() < 1e-12 && (sd - 0.1).abs() < 1e-12,
            "{m} {sd}"
        );
        // Reward curves: rows of the sets by columns of the largest set's rewards.
        let rc = reward_curve_panels(&runs);
        assert_eq!(rc.len(), 12);
        assert!(rc[0].is_some() && rc[1].is_some() && rc[2].is_none() && rc[3].is_none());
        let m = rc[0].as_ref().unwrap().series[0].points[1].1;
        assert!((m - 3.0).abs() < 1e-12, "{m}");
        // Scores: both fastrl seeds pooled (8 responses) into 2 bins over [0, 1].
        let sc = score_panels(&runs, 2);
        let h = &sc[0].as_ref().unwrap().series[0];
        assert_eq!(h.points, [(0.25, 0.5, 0.0), (0.75, 0.5, 0.0)]);
        // The four PNGs.
        let dir = std::env::temp_dir().join(format!("fastrl-grid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let figs = figures(&runs, &dir).unwrap();
        assert_eq!(figs.len(), 4);
        for (f, _) in &figs {
            assert!(
                std::fs::metadata(f).unwrap().len() > 5_000,
                "{}",
                f.display()
            );
        }
        let md = report(&[(runs[0].cell.clone(), ev([1.0; 6], 0.1))], "b", &figs);
        assert!(md.contains("![m_eval over training"), "{md}");
        assert!(md.contains("(m_eval.png)"), "{md}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_grid_and_its_report() {
        let g = cells(3);
        assert_eq!(g.len(), 27);
        assert_eq!(g[0].name(), "fastrl-2r-s0");
        let rs = vec![
            (g[0].clone(), ev([1.0, 0.1, 0.2, 1.0, 10.0, 5.0], 0.1)),
            (g[1].clone(), ev([3.0, 0.3, 0.2, 2.0, 30.0, 5.0], 0.3)),
        ];
        let md = report(&rs, "budget", &[]);
        assert!(
            md.contains("| meteor + semantic | fastrl | 0.333+/-0.333 |"),
            "{md}"
        );
        // reward means over the two seeds: meteor (0.1, 0.3), semantic (0.2, 0.6).
        assert!(
            md.contains("meteor 0.2000+/-0.1000, semantic 0.4000+/-0.2000"),
            "{md}"
        );
        // disparity of (0.1, 0.2) = 0.05, of (0.3, 0.6) = 0.15.
        assert!(
            md.contains("0.1000+/-0.0500 | 0.2000+/-0.1000 | 0.50 / 0.50"),
            "{md}"
        );
    }
}
