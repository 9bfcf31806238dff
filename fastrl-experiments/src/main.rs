//! `fastrl-experiments`: the command line of the experiment harness (argument parsing
//! and dispatch only): `compare` (the fair test) and `grid` (the composer grid).

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use fastrl_experiments::compare::{self, CompareConfig, CompareSize};
use fastrl_experiments::{cells, grid, ExperimentError};
use fastrl_trainer::jobs::stages;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    version,
    about = "The Fast RL trainer's experiments: the fair test of the paper's claim and the composer grid"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The fair test of the paper's claim: arms A, B, B', C, D, E, F, G from one starting
    /// model, paired by seed, seed-level intervals, a replication on disjoint seeds and
    /// verdicts; resumable; writes runs/compare-<size>/<set>/report.md (docs/fair-test.md
    /// has the rules).
    Compare {
        /// quick (CI), tiny (the from-scratch GPT-2), smollm (SmolLM2), gpu.
        #[arg(long, value_enum)]
        size: CompareSize,
        /// Start no new run after this many minutes (finished runs are reported).
        #[arg(long)]
        deadline_min: Option<f64>,
        /// A TOML file merged over the size's preset; the size's own overrides (run
        /// directory, budget) still apply after it: change those with `--set`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// `section.key=value` overrides, applied after the size's (repeatable).
        #[arg(long = "set")]
        sets: Vec<String>,
    },
    /// The composer comparison grid: {fastrl, fixed, lagrangian} x {2, 3, 4 rewards} x
    /// seeds, same budget per cell from one SFT model; resumable; writes
    /// <out_dir>/grid/report.md.
    Grid {
        /// Preset: smoke, default, tiny, paper-dialog, grid-full.
        #[arg(long, default_value = "default")]
        preset: String,
        /// A TOML file whose keys override the preset.
        #[arg(long)]
        config: Option<PathBuf>,
        /// `section.key=value` overrides, applied last (repeatable).
        #[arg(long = "set")]
        sets: Vec<String>,
        /// Seeds per composer and reward set.
        #[arg(long, default_value_t = 3)]
        seeds: u64,
    },
}

fn dispatch(cli: Cli) -> Result<(), ExperimentError> {
    match cli.cmd {
        Cmd::Compare {
            size,
            deadline_min,
            config,
            sets,
        } => {
            let t0 = Instant::now();
            let how = CompareConfig { file: config, sets };
            let all = how.overrides(size, None);
            let (cfg, dev) = stages::setup(size.preset(), how.file.as_deref(), &all)?;
            let corpus = stages::load_corpus(&cfg)?;
            let o = compare::compare(
                &cfg,
                &how,
                dev,
                &corpus,
                size,
                deadline_min.map(|m| m * 60.0),
            )?;
            fastrl_trainer::say!(
                "compare ({}): {} of {} runs in {:.0} s",
                size.name(),
                o.runs,
                o.planned,
                t0.elapsed().as_secs_f64()
            );
            for r in &o.reports {
                fastrl_trainer::say!("report: {}", r.display());
            }
        }
        Cmd::Grid {
            preset,
            config,
            sets,
            seeds,
        } => {
            let t0 = Instant::now();
            let (cfg, dev) = stages::setup(&preset, config.as_deref(), &sets)?;
            let corpus = stages::load_corpus(&cfg)?;
            let sft_dir = stages::sft_stage(&cfg, dev, &corpus)?;
            let cells = cells::cells(seeds);
            let o = grid::drive(&cfg, dev, &corpus, &sft_dir, &cells, &preset)?;
            fastrl_trainer::say!(
                "grid of {} runs done in {:.0} s -> {}",
                o.cells,
                t0.elapsed().as_secs_f64(),
                o.report.display()
            );
        }
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli) {
        fastrl_trainer::note!("error: {e}");
        std::process::exit(1);
    }
}
