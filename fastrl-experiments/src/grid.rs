//! The grid driver (`fastrl-experiments grid`): every cell trains from the same SFT model
//! with the same budget; a finished cell has `eval.json` and is not rerun, an
//! interrupted one resumes from its checkpoint; then the report and its figures.

use crate::cells::Cell;
use crate::error::ExperimentError;
use crate::figures::{figures, CellRun};
use crate::grid_report::report;
use composer_core::{ComposerKind, Normalization};
use fastrl_trainer::config::{ComposerChoice, Config};
use fastrl_trainer::corpus::Corpus;
use fastrl_trainer::io::jsonl::{read_json, read_lines, write_json};
use fastrl_trainer::io::records::{EvalReport, StepMetrics};
use fastrl_trainer::jobs::stages::{eval_model, ppo_stage};
use fastrl_trainer::TrainerError;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the driver produced.
#[derive(Debug)]
pub struct GridOutcome {
    /// `grid/report.md`.
    pub report: PathBuf,
    /// Cells in the report.
    pub cells: usize,
}

/// The config of one cell: the base config with the cell's composer, rewards and seed,
/// its own run directory, and for the Lagrangian each reward's SFT mean as its lower
/// threshold (each reward must stay at least at its SFT level). On reference z-scores
/// (`composer.normalization = "reference"`, as the default preset) the thresholds are in
/// standard deviations from the starting (SFT) policy's mean, so the same constraint is
/// `z >= 0` for every reward.
pub fn cell_config(
    cfg: &Config,
    cell: &Cell,
    dir: &Path,
    sft_eval: &EvalReport,
    sft_eval_path: &Path,
) -> Result<Config, ExperimentError> {
    let mut c = cfg.clone();
    c.run.out_dir = dir.to_path_buf();
    c.run.seed = cell.seed;
    c.composer.kind = ComposerChoice::Core(cell.composer);
    c.composer.rewards = cell.rewards.clone();
    c.composer.weights = vec![];
    c.composer.placement = vec![];
    c.composer.bias = vec![];
    c.composer.constraints = vec![];
    c.composer.thresholds = if cell.composer == ComposerKind::Lagrangian
        && c.composer.normalization == Normalization::Reference
    {
        vec![0.0; cell.rewards.len()]
    } else if cell.composer == ComposerKind::Lagrangian {
        cell.rewards
            .iter()
            .map(|r| {
                sft_eval
                    .rewards
                    .get(r.name())
                    .map(|&x| x as f32)
                    .ok_or_else(|| {
                        TrainerError::record(
                            sft_eval_path,
                            0,
                            format!(
                                "rewards.{} is missing: it is the Lagrangian threshold of {}",
                                r.name(),
                                cell.name()
                            ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![]
    };
    c.validate()?;
    Ok(c)
}

/// Runs `cells` under `<out_dir>/grid` from the SFT model in `sft_dir` and writes the
/// report. `preset` names the preset in the report's budget line.
pub fn drive(
    cfg: &Config,
    dev: tch::Device,
    corpus: &Corpus,
    sft_dir: &Path,
    cells: &[Cell],
    preset: &str,
) -> Result<GridOutcome, ExperimentError> {
    let t0 = Instant::now();
    let gdir = cfg.run.out_dir.join("grid");
    std::fs::create_dir_all(&gdir).map_err(|e| TrainerError::io(&gdir, e))?;
    // The SFT model's reward means over every reward of the grid: the Lagrangian cells'
    // thresholds.
    let sft_eval_path = gdir.join("sft-eval.json");
    let sft_eval: EvalReport = if sft_eval_path.is_file() {
        read_json(&sft_eval_path)?
    } else {
        let mut c = cfg.clone();
        c.composer.rewards = all_rewards(cells);
        let e = eval_model(&c, sft_dir, dev, corpus)?;
        write_json(&sft_eval_path, &e)?;
        e
    };
    let mut results = Vec::with_capacity(cells.len());
    for (k, cell) in cells.iter().enumerate() {
        let dir = gdir.join(cell.name());
        let done = dir.join("eval.json");
        let e: EvalReport = if done.is_file() {
            read_json(&done)?
        } else {
            let c = cell_config(cfg, cell, &dir, &sft_eval, &sft_eval_path)?;
            std::fs::create_dir_all(&dir).map_err(|e| TrainerError::io(&dir, e))?;
            let cp = dir.join("config.toml");
            std::fs::write(&cp, c.to_toml()?).map_err(|e| TrainerError::io(&cp, e))?;
            tch::manual_seed(cell.seed as i64);
            let resume = !fastrl_trainer::io::checkpoint::list(&dir.join("ppo"))?.is_empty();
            let fin = ppo_stage(&c, dev, corpus, sft_dir, resume)?;
            let mut e = eval_model(&c, &fin, dev, corpus)?;
            let log = dir.join("ppo/metrics.jsonl");
            let last = read_lines::<StepMetrics>(&log)?.pop().ok_or_else(|| {
                TrainerError::record(&log, 0, "no step: the final weights are its last line")
            })?;
            e.weights = Some(last.weights);
            write_json(&done, &e)?;
            e
        };
        if e.weights.is_none() {
            return Err(TrainerError::record(
                &done,
                0,
                "missing field `weights` (the cell's final composer weights)",
            )
            .into());
        }
        fastrl_trainer::note!(
            "[grid] {}/{} {} done ({:.0} s)",
            k + 1,
            cells.len(),
            cell.name(),
            t0.elapsed().as_secs_f64()
        );
        results.push((cell.clone(), e));
    }
    let budget = format!(
        "Every cell: PPO {} steps x batch {} from the same SFT model ({}), evaluated on {} \
         validation pairs (sampled, temperature {}, top-k {}) before PPO and every {} steps; \
         preset `{}`.",
        cfg.ppo.steps,
        cfg.ppo.batch_size,
        sft_dir.display(),
        corpus.eval.len(),
        cfg.ppo.temperature,
        cfg.ppo.top_k,
        cfg.ppo.eval_every,
        preset
    );
    let runs: Vec<CellRun> = results
        .iter()
        .map(|(cell, e)| {
            let dir = gdir.join(cell.name()).join("ppo");
            let curve_path = dir.join("eval-curve.jsonl");
            Ok(CellRun {
                cell: cell.clone(),
                eval: e.clone(),
                // No curve when the cells ran with ppo.eval_every = 0.
                curve: if curve_path.is_file() {
                    read_lines(&curve_path)?
                } else {
                    Vec::new()
                },
                metrics: read_lines(&dir.join("metrics.jsonl"))?,
            })
        })
        .collect::<Result<_, ExperimentError>>()?;
    let figs = figures(&runs, &gdir)?;
    let path = gdir.join("report.md");
    std::fs::write(&path, report(&results, &budget, &figs)?)
        .map_err(|e| TrainerError::io(&path, e))?;
    Ok(GridOutcome {
        report: path,
        cells: results.len(),
    })
}

/// Every reward of `cells`, in order of first appearance.
fn all_rewards(cells: &[Cell]) -> Vec<fastrl_trainer::rewards::kind::RewardKind> {
    let mut all = Vec::new();
    for c in cells {
        for r in &c.rewards {
            if !all.contains(r) {
                all.push(*r);
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastrl_trainer::rewards::kind::RewardKind;

    #[test]
    fn lagrangian_thresholds_are_sft_means_on_raw_rewards_and_zero_on_z_scores() {
        let sft = EvalReport {
            rewards: [("meteor".to_string(), 0.3), ("bleu".to_string(), 0.02)].into(),
            ..EvalReport::default()
        };
        let cell = Cell {
            composer: ComposerKind::Lagrangian,
            rewards: vec![RewardKind::Meteor, RewardKind::Bleu],
            seed: 0,
        };
        let p = Path::new("sft-eval.json");
        let raw = Config::resolve("smoke", None, &[]).unwrap();
        assert_eq!(raw.composer.normalization, Normalization::None);
        let c = cell_config(&raw, &cell, Path::new("x"), &sft, p).unwrap();
        assert_eq!(c.composer.thresholds, [0.3, 0.02]);
        // The default preset composes reference z-scores: the SFT level is z = 0 (the
        // old code gave 0.3 and 0.02 here, read as standard deviations).
        let z = Config::resolve("default", None, &[]).unwrap();
        assert_eq!(z.composer.normalization, Normalization::Reference);
        let c = cell_config(&z, &cell, Path::new("x"), &sft, p).unwrap();
        assert_eq!(c.composer.thresholds, [0.0, 0.0]);
    }
}
