//! `fastrl-trainer`: the command line, argument parsing and dispatch only; the work is
//! in [`fastrl_trainer::jobs`]. `fastrl-trainer run` does the default job.

#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand};
use fastrl_trainer::config::Config;
use fastrl_trainer::jobs::{rating, run, sample, stages};
use fastrl_trainer::TrainerError;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    version,
    about = "PPO with Fast RL multi-reward composition for causal LMs (tch)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Common {
    /// Preset: default (the main job), tiny, smoke, paper-dialog, grid-full.
    #[arg(long, default_value = "default")]
    preset: String,
    /// A TOML file whose keys override the preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// `section.key=value` overrides, applied last (repeatable).
    #[arg(long = "set")]
    sets: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// The whole job: tokenizer, SFT, PPO, evaluation before and after.
    Run {
        #[command(flatten)]
        common: Common,
        /// Continue PPO from the latest checkpoint in the run directory.
        #[arg(long)]
        resume: bool,
    },
    /// Tokenizer and supervised fine-tuning only (writes <out_dir>/sft).
    Sft {
        #[command(flatten)]
        common: Common,
    },
    /// PPO from a model directory (default <out_dir>/sft).
    Ppo {
        #[command(flatten)]
        common: Common,
        /// Hugging Face GPT-2 directory with tokenizer.json.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Continue from the latest checkpoint.
        #[arg(long)]
        resume: bool,
    },
    /// Fits the learned `rating` reward (a head on all-MiniLM-L6-v2) to the Chit Chat
    /// ratings; writes <out_dir>/reward-model/head.json.
    RewardModel {
        #[command(flatten)]
        common: Common,
        /// Rated training conversations used at most.
        #[arg(long, default_value_t = 2000)]
        max_train: usize,
        /// Rated validation conversations used at most.
        #[arg(long, default_value_t = 300)]
        max_val: usize,
    },
    /// Reward means and diversity of a model on the validation pairs.
    Eval {
        #[command(flatten)]
        common: Common,
        /// Model directory.
        #[arg(long)]
        model: PathBuf,
    },
    /// Converts a llama.cpp GGUF model (Llama/Qwen2; F32, F16, BF16, Q8_0, Q4_0, Q4_1
    /// tensors, dequantised to f32) into a Hugging Face directory.
    Convert {
        /// The .gguf file.
        #[arg(long)]
        gguf: PathBuf,
        /// The directory to write (config.json, model.safetensors, tokenizer.json,
        /// tokenizer_config.json with the chat template).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sample responses to a context.
    Generate {
        #[command(flatten)]
        common: Common,
        /// Model directory.
        #[arg(long)]
        model: PathBuf,
        /// The context (utterances separated by " <EOU> ").
        #[arg(long)]
        context: String,
        /// How many samples.
        #[arg(long, default_value_t = 3)]
        n: usize,
        /// Greedy decoding (the most likely token at every step; reproducible) instead
        /// of sampling at ppo.temperature with ppo.top_k.
        #[arg(long)]
        greedy: bool,
    },
}

impl Common {
    fn setup(&self) -> Result<(Config, tch::Device), TrainerError> {
        stages::setup(&self.preset, self.config.as_deref(), &self.sets)
    }
}

fn pretty<T: serde::Serialize>(v: &T) -> Result<String, TrainerError> {
    serde_json::to_string_pretty(v).map_err(|e| TrainerError::Data(format!("JSON output: {e}")))
}

fn dispatch(cli: Cli) -> Result<(), TrainerError> {
    match cli.cmd {
        Cmd::Run { common, resume } => {
            let (cfg, dev) = common.setup()?;
            run::run(&cfg, dev, resume)?;
        }
        Cmd::Sft { common } => {
            let (cfg, dev) = common.setup()?;
            let corpus = stages::load_corpus(&cfg)?;
            fastrl_trainer::say!("{}", stages::sft_stage(&cfg, dev, &corpus)?.display());
        }
        Cmd::Ppo {
            common,
            model,
            resume,
        } => {
            let (cfg, dev) = common.setup()?;
            let corpus = stages::load_corpus(&cfg)?;
            let m = model.unwrap_or_else(|| cfg.run.out_dir.join("sft"));
            fastrl_trainer::say!(
                "{}",
                stages::ppo_stage(&cfg, dev, &corpus, &m, resume)?.display()
            );
        }
        Cmd::RewardModel {
            common,
            max_train,
            max_val,
        } => {
            let (cfg, _) = common.setup()?;
            rating::fit(&cfg, max_train, max_val)?;
        }
        Cmd::Eval { common, model } => {
            let (cfg, dev) = common.setup()?;
            let corpus = stages::load_corpus(&cfg)?;
            fastrl_trainer::say!(
                "{}",
                pretty(&stages::eval_model(&cfg, &model, dev, &corpus)?)?
            );
        }
        Cmd::Convert { gguf, out } => {
            let t0 = Instant::now();
            fastrl_models::gguf_import::convert(&gguf, &out)?;
            fastrl_trainer::say!(
                "{} -> {} in {:.1} s",
                gguf.display(),
                out.display(),
                t0.elapsed().as_secs_f64()
            );
        }
        Cmd::Generate {
            common,
            model,
            context,
            n,
            greedy,
        } => {
            let (cfg, dev) = common.setup()?;
            for t in sample::sample(&cfg, dev, &model, &context, n, greedy)? {
                fastrl_trainer::say!("{t}");
            }
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = dispatch(Cli::parse()) {
        fastrl_trainer::note!("error: {e}");
        std::process::exit(1);
    }
}
