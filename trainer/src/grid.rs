//! The paper's comparison as a grid: composer x reward set x seed, every cell with the
//! same budget from the same SFT model, and a Markdown report with the paper's m_eval
//! (the mean of six metrics, each min-max normalised across the compared cells).

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

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

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, v.sqrt())
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
/// reward's mean, the disparity across rewards and the minimum reward.
pub fn report(results: &[(Cell, Value)], budget: &str) -> String {
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
    let _ = writeln!(s, "\n## Samples (seed 0, first validation pairs)\n");
    for (c, e) in results.iter().filter(|(c, _)| c.seed == 0) {
        if let Some(sm) = e["samples"].as_array().and_then(|a| a.first()) {
            let _ = writeln!(
                s,
                "- **{}**: context `{}` -> `{}` (reference `{}`)",
                c.name(),
                sm["context"].as_str().unwrap_or(""),
                sm["response"].as_str().unwrap_or(""),
                sm["reference"].as_str().unwrap_or("")
            );
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

    #[test]
    fn the_grid_and_its_report() {
        let g = cells(3);
        assert_eq!(g.len(), 27);
        assert_eq!(g[0].name(), "fastrl-2r-s0");
        let rs = vec![
            (g[0].clone(), ev([1.0, 0.1, 0.2, 1.0, 10.0, 5.0], 0.1)),
            (g[1].clone(), ev([3.0, 0.3, 0.2, 2.0, 30.0, 5.0], 0.3)),
        ];
        let md = report(&rs, "budget");
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
