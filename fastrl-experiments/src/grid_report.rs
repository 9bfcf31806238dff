//! The grid's Markdown report over finished cells: per composer and reward set, mean
//! +/- std over seeds of m_eval, each reward's mean, the disparity across rewards, the
//! minimum reward and the final weights; then the figures and samples.

use crate::cells::Cell;
use crate::error::ExperimentError;
use crate::m_eval::m_eval;
use crate::plot::mean_std;
use fastrl_trainer::io::records::EvalReport;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

/// `e.rewards[r]` of a cell, or an error naming the cell and the field.
fn reward(cell: &Cell, e: &EvalReport, r: &str) -> Result<f64, ExperimentError> {
    e.rewards.get(r).copied().ok_or_else(|| {
        ExperimentError::Data(format!("{}: eval.json has no rewards.{r}", cell.name()))
    })
}

/// `e.weights[r]` of a cell, or an error naming the cell and the field (a cell's
/// `eval.json` carries the final weights of its `metrics.jsonl`).
fn weight(cell: &Cell, e: &EvalReport, r: &str) -> Result<f64, ExperimentError> {
    e.weights
        .as_ref()
        .and_then(|w| w.get(r).copied())
        .ok_or_else(|| {
            ExperimentError::Data(format!("{}: eval.json has no weights.{r}", cell.name()))
        })
}

/// The report over `results` (each cell with its `eval.json`), `budget` (one sentence
/// on what every cell ran) and `figures` (PNG paths next to the report, with captions).
pub fn report(
    results: &[(Cell, EvalReport)],
    budget: &str,
    figures: &[(PathBuf, String)],
) -> Result<String, ExperimentError> {
    let labelled: Vec<(String, &fastrl_trainer::io::records::MEvalMetrics)> = results
        .iter()
        .map(|(c, e)| (c.name(), &e.m_eval_metrics))
        .collect();
    let me = m_eval(&labelled)?;
    let mut groups: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    for (i, (c, _)) in results.iter().enumerate() {
        groups
            .entry((c.rewards.len(), c.composer.name().to_string()))
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
        let names: Vec<&str> = cell.rewards.iter().map(|r| r.name()).collect();
        let ms: Vec<f64> = idx.iter().map(|&i| me[i]).collect();
        let means_of = |i: usize| -> Result<Vec<f64>, ExperimentError> {
            let (c, e) = &results[i];
            names.iter().map(|n| reward(c, e, n)).collect()
        };
        let means: Vec<Vec<f64>> = idx.iter().map(|&i| means_of(i)).collect::<Result<_, _>>()?;
        let per_reward: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let xs: Vec<f64> = means.iter().map(|m| m[k]).collect();
                let (m, sd) = mean_std(&xs);
                format!("{n} {m:.4}+/-{sd:.4}")
            })
            .collect();
        let disp: Vec<f64> = means.iter().map(|m| mean_std(m).1).collect();
        let mins: Vec<f64> = means
            .iter()
            .map(|m| m.iter().cloned().fold(f64::INFINITY, f64::min))
            .collect();
        let mut weights = Vec::new();
        for n in &names {
            let xs: Vec<f64> = idx
                .iter()
                .map(|&i| weight(&results[i].0, &results[i].1, n))
                .collect::<Result<_, _>>()?;
            weights.push(format!("{:.2}", mean_std(&xs).0));
        }
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
            let Some(sm) = e.samples.get(k) else {
                continue;
            };
            if first {
                let _ = writeln!(
                    s,
                    "**Context** `{}`  \n**Reference** `{}`\n\n| run | response |\n|---|---|",
                    sm.context, sm.reference
                );
                first = false;
            }
            let _ = writeln!(
                s,
                "| {} | `{}` |",
                c.name(),
                sm.response.replace('|', "\\|")
            );
        }
        if !first {
            let _ = writeln!(s);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::cells;
    use crate::figures::tests::ev;

    #[test]
    fn the_report_rows_are_means_over_seeds() {
        let g = cells(3);
        let rs = vec![
            (g[0].clone(), ev([1.0, 0.1, 0.2, 1.0, 10.0, 5.0], 0.1)),
            (g[1].clone(), ev([3.0, 0.3, 0.2, 2.0, 30.0, 5.0], 0.3)),
        ];
        let md = report(
            &rs,
            "budget",
            &[(PathBuf::from("/x/m_eval.png"), "cap".into())],
        )
        .unwrap();
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
        assert!(md.contains("![cap](m_eval.png)"), "{md}");
    }

    #[test]
    fn missing_weights_are_an_error_not_nan() {
        let g = cells(1);
        let mut e = ev([1.0; 6], 0.1);
        e.weights = None;
        let err = report(&[(g[0].clone(), e)], "b", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fastrl-2r-s0") && err.contains("weights.meteor"),
            "{err}"
        );
    }
}
