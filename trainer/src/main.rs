//! `fastrl-trainer`: the command line. `fastrl-trainer run` does the default job.

use clap::{Args, Parser, Subcommand};
use fastrl_trainer::checkpoint::{export_hf, import_hf};
use fastrl_trainer::config::Config;
use fastrl_trainer::corpus::Corpus;
use fastrl_trainer::model::{Gpt2Config, Model};
use fastrl_trainer::optim::Rng;
use fastrl_trainer::ppo::{self, device, Ppo};
use fastrl_trainer::tokenizer::Tok;
use fastrl_trainer::{eval, rewards, TrainerError};
use std::path::{Path, PathBuf};
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
    /// Preset: smoke, default, paper-dialog, grid-full.
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
    /// The composer comparison: {fastrl, fixed, lagrangian} x {2, 3, 4 rewards} x seeds,
    /// same budget per cell from one SFT model; resumable; writes <out_dir>/grid/report.md.
    Grid {
        #[command(flatten)]
        common: Common,
        /// Seeds per composer and reward set.
        #[arg(long, default_value_t = 3)]
        seeds: u64,
    },
    /// Reward means and diversity of a model on the validation pairs.
    Eval {
        #[command(flatten)]
        common: Common,
        /// Model directory.
        #[arg(long)]
        model: PathBuf,
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
    },
}

fn setup(c: &Common) -> Result<(Config, tch::Device), TrainerError> {
    let cfg = Config::resolve(&c.preset, c.config.as_deref(), &c.sets)?;
    if cfg.run.threads > 0 {
        tch::set_num_threads(cfg.run.threads as i32);
    }
    tch::manual_seed(cfg.run.seed as i64);
    let dev = device(&cfg.run.device)?;
    let out = Path::new(&cfg.run.out_dir);
    std::fs::create_dir_all(out).map_err(|e| TrainerError::io(out, e))?;
    let cp = out.join("config.toml");
    std::fs::write(&cp, cfg.to_toml()).map_err(|e| TrainerError::io(&cp, e))?;
    Ok((cfg, dev))
}

fn project_root() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// Tokenizer + SFT into <out>/sft (reused when it already exists).
fn sft_stage(cfg: &Config, dev: tch::Device, corpus: &Corpus) -> Result<PathBuf, TrainerError> {
    let out = Path::new(&cfg.run.out_dir).join("sft");
    if out.join("model.safetensors").is_file() {
        eprintln!(
            "using the SFT model in {} (delete it to retrain)",
            out.display()
        );
        return Ok(out);
    }
    let t0 = Instant::now();
    let (mut model, tok) = if cfg.model.pretrained.is_empty() {
        let tok = if cfg.tokenizer.path.is_empty() {
            let texts = corpus
                .train
                .iter()
                .flat_map(|p| [p.context.as_str(), p.response.as_str()]);
            Tok::train(texts, cfg.tokenizer.vocab_size)?
        } else {
            Tok::load(Path::new(&cfg.tokenizer.path))?
        };
        let mc = Gpt2Config {
            vocab_size: tok.vocab_size() as i64,
            n_positions: cfg.model.n_positions,
            n_embd: cfg.model.n_embd,
            n_layer: cfg.model.n_layer,
            n_head: cfg.model.n_head,
            n_inner: None,
            layer_norm_epsilon: 1e-5,
            activation_function: "gelu_new".into(),
        };
        (Model::new(&mc, dev)?, tok)
    } else {
        import_hf(Path::new(&cfg.model.pretrained), dev)?
    };
    eprintln!(
        "tokenizer: {} tokens; model: {} parameters",
        tok.vocab_size(),
        model
            .vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum::<usize>()
    );
    let log = Path::new(&cfg.run.out_dir).join("sft-metrics.jsonl");
    ppo::sft(cfg, &mut model, &tok, corpus, &log)?;
    export_hf(&out, &model, &tok)?;
    eprintln!(
        "SFT done in {:.0} s -> {}",
        t0.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(out)
}

fn eval_model(
    cfg: &Config,
    dir: &Path,
    dev: tch::Device,
    corpus: &Corpus,
) -> Result<serde_json::Value, TrainerError> {
    let (model, tok) = import_hf(dir, dev)?;
    let rw = rewards::build(&cfg.composer.rewards, &cfg.rating_head())?;
    eval::evaluate(cfg, &model, &tok, &corpus.eval, &rw)
}

fn ppo_stage(
    cfg: &Config,
    dev: tch::Device,
    corpus: &Corpus,
    model_dir: &Path,
    resume: bool,
) -> Result<PathBuf, TrainerError> {
    let (model, tok) = import_hf(model_dir, dev)?;
    let dir = Path::new(&cfg.run.out_dir).join("ppo");
    if !resume
        && fastrl_trainer::checkpoint::latest(&dir)
            .ok()
            .flatten()
            .is_some()
    {
        eprintln!(
            "note: starting over in {}; pass --resume to continue its checkpoint",
            dir.display()
        );
    }
    let p = Ppo::new(cfg, model, tok, corpus)?;
    let t0 = Instant::now();
    let p = ppo::train(p, &dir, resume, &corpus.eval)?;
    let fin = dir.join("final");
    export_hf(&fin, &p.policy, &p.tok)?;
    eprintln!(
        "PPO done in {:.0} s -> {}",
        t0.elapsed().as_secs_f64(),
        fin.display()
    );
    Ok(fin)
}

fn run(cli: Cli) -> Result<(), TrainerError> {
    match cli.cmd {
        Cmd::Run { common, resume } => {
            let t0 = Instant::now();
            let (cfg, dev) = setup(&common)?;
            eprintln!("device: {dev:?}; run directory: {}", cfg.run.out_dir);
            let corpus = Corpus::load(&cfg.data, &project_root())?;
            eprintln!(
                "corpus: {} training pairs, {} evaluation pairs",
                corpus.train.len(),
                corpus.eval.len()
            );
            let sft_dir = sft_stage(&cfg, dev, &corpus)?;
            let before = eval_model(&cfg, &sft_dir, dev, &corpus)?;
            let fin = ppo_stage(&cfg, dev, &corpus, &sft_dir, resume)?;
            let after = eval_model(&cfg, &fin, dev, &corpus)?;
            let report = serde_json::json!({"sft": before, "ppo": after});
            let out = Path::new(&cfg.run.out_dir);
            let rp = out.join("eval.json");
            std::fs::write(&rp, serde_json::to_string_pretty(&report).expect("json"))
                .map_err(|e| TrainerError::io(&rp, e))?;
            println!(
                "reward means on {} validation pairs (sampled):",
                corpus.eval.len()
            );
            for r in &cfg.composer.rewards {
                println!(
                    "  {r:8}  after SFT {:.4}   after PPO {:.4}",
                    before["rewards"][r].as_f64().unwrap_or(f64::NAN),
                    after["rewards"][r].as_f64().unwrap_or(f64::NAN)
                );
            }
            println!(
                "done in {:.0} s; outputs in {}:",
                t0.elapsed().as_secs_f64(),
                out.display()
            );
            println!("  config.toml, sft/ (SFT model + tokenizer, Hugging Face format), sft-metrics.jsonl");
            println!(
                "  ppo/metrics.jsonl (per step: rewards, weights, disparity, KL, losses, tokens/s)"
            );
            println!("  ppo/final/ (PPO model), ppo/LATEST + ppo/ckpt-*/ (resume with --resume), eval.json");
            Ok(())
        }
        Cmd::Sft { common } => {
            let (cfg, dev) = setup(&common)?;
            let corpus = Corpus::load(&cfg.data, &project_root())?;
            let dir = sft_stage(&cfg, dev, &corpus)?;
            println!("{}", dir.display());
            Ok(())
        }
        Cmd::Ppo {
            common,
            model,
            resume,
        } => {
            let (cfg, dev) = setup(&common)?;
            let corpus = Corpus::load(&cfg.data, &project_root())?;
            let m = model.unwrap_or_else(|| Path::new(&cfg.run.out_dir).join("sft"));
            let fin = ppo_stage(&cfg, dev, &corpus, &m, resume)?;
            println!("{}", fin.display());
            Ok(())
        }
        Cmd::RewardModel {
            common,
            max_train,
            max_val,
        } => {
            let (cfg, _) = setup(&common)?;
            let root = project_root();
            let convs = fastrl_data::chitchat::load(&fastrl_data::chitchat::find(&root)?)?;
            let enc = fastrl_trainer::encoder::Encoder::load(
                &fastrl_trainer::encoder::find_minilm(&root)?,
                tch::Device::Cpu,
            )?;
            let t0 = Instant::now();
            let head = fastrl_trainer::reward_model::train(
                &enc,
                &convs,
                max_train,
                max_val,
                cfg.run.seed,
            )?;
            let path = cfg.rating_head();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
            }
            head.save(&path)?;
            println!(
                "rating head fitted on {} conversations in {:.0} s; validation MSE {:.4} vs {:.4} \
                 for the mean predictor ({} conversations) -> {}",
                head.n_train,
                t0.elapsed().as_secs_f64(),
                head.val_mse,
                head.val_mse_baseline,
                head.n_val,
                path.display()
            );
            Ok(())
        }
        Cmd::Grid { common, seeds } => grid(&common, seeds),
        Cmd::Eval { common, model } => {
            let (cfg, dev) = setup(&common)?;
            let corpus = Corpus::load(&cfg.data, &project_root())?;
            let e = eval_model(&cfg, &model, dev, &corpus)?;
            println!("{}", serde_json::to_string_pretty(&e).expect("json"));
            Ok(())
        }
        Cmd::Generate {
            common,
            model,
            context,
            n,
        } => {
            let (cfg, dev) = setup(&common)?;
            let (m, tok) = import_hf(&model, dev)?;
            let mut ids = tok.encode(&context)?;
            if ids.len() > cfg.tokenizer.max_context_tokens {
                ids.drain(..ids.len() - cfg.tokenizer.max_context_tokens);
            }
            let mut rng = Rng::new(cfg.run.seed);
            let ro = ppo::generate(
                &m,
                &tok,
                &vec![ids; n],
                cfg.tokenizer.max_response_tokens,
                cfg.ppo.temperature,
                cfg.ppo.top_k,
                &mut rng,
            )?;
            for t in ro.texts {
                println!("{t}");
            }
            Ok(())
        }
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, TrainerError> {
    let t = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
    serde_json::from_str(&t)
        .map_err(|e| TrainerError::Checkpoint(format!("{}: {e}", path.display())))
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), TrainerError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(v).expect("json"))
        .map_err(|e| TrainerError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainerError::io(path, e))
}

/// The comparison grid (see `fastrl_trainer::grid`). A finished cell has `eval.json`; an
/// interrupted one resumes from its PPO checkpoint.
fn grid(common: &Common, seeds: u64) -> Result<(), TrainerError> {
    use fastrl_trainer::grid;
    let t0 = Instant::now();
    let (cfg, dev) = setup(common)?;
    let corpus = Corpus::load(&cfg.data, &project_root())?;
    let sft_dir = sft_stage(&cfg, dev, &corpus)?;
    let gdir = Path::new(&cfg.run.out_dir).join("grid");
    std::fs::create_dir_all(&gdir).map_err(|e| TrainerError::io(&gdir, e))?;
    // The SFT model's reward means: the Lagrangian cells' thresholds (each reward must
    // stay at least at its SFT level).
    let sft_eval_path = gdir.join("sft-eval.json");
    let sft_eval = if sft_eval_path.is_file() {
        read_json(&sft_eval_path)?
    } else {
        let mut c = cfg.clone();
        c.composer.rewards = grid::cells(1).last().expect("cells").rewards.clone();
        let e = eval_model(&c, &sft_dir, dev, &corpus)?;
        write_json(&sft_eval_path, &e)?;
        e
    };
    let cells = grid::cells(seeds);
    let mut results = Vec::with_capacity(cells.len());
    for (k, cell) in cells.iter().enumerate() {
        let dir = gdir.join(cell.name());
        let done = dir.join("eval.json");
        let e = if done.is_file() {
            read_json(&done)?
        } else {
            let mut c = cfg.clone();
            c.run.out_dir = dir.display().to_string();
            c.run.seed = cell.seed;
            c.composer.kind = cell.composer.clone();
            c.composer.rewards = cell.rewards.clone();
            c.composer.weights = vec![];
            c.composer.placement = vec![];
            c.composer.thresholds = if cell.composer == "lagrangian" {
                cell.rewards
                    .iter()
                    .map(|r| sft_eval["rewards"][r].as_f64().unwrap_or(0.0) as f32)
                    .collect()
            } else {
                vec![]
            };
            c.validate()?;
            tch::manual_seed(cell.seed as i64);
            let resume = fastrl_trainer::checkpoint::latest(&dir.join("ppo"))?.is_some();
            let fin = ppo_stage(&c, dev, &corpus, &sft_dir, resume)?;
            let mut e = eval_model(&c, &fin, dev, &corpus)?;
            let log = std::fs::read_to_string(dir.join("ppo/metrics.jsonl")).unwrap_or_default();
            if let Some(last) = log.lines().last() {
                let v: serde_json::Value = serde_json::from_str(last).unwrap_or_default();
                e["weights"] = v["weights"].clone();
            }
            write_json(&done, &e)?;
            e
        };
        eprintln!(
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
        common.preset
    );
    let read_lines = |p: PathBuf| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let runs: Vec<grid::CellRun> = results
        .iter()
        .map(|(cell, e)| {
            let dir = gdir.join(cell.name()).join("ppo");
            grid::CellRun {
                cell: cell.clone(),
                eval: e.clone(),
                curve: read_lines(dir.join("eval-curve.jsonl")),
                metrics: read_lines(dir.join("metrics.jsonl")),
            }
        })
        .collect();
    let figures = grid::figures(&runs, &gdir)?;
    let path = gdir.join("report.md");
    std::fs::write(&path, grid::report(&results, &budget, &figures))
        .map_err(|e| TrainerError::io(&path, e))?;
    println!(
        "grid of {} runs done in {:.0} s -> {}",
        results.len(),
        t0.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
