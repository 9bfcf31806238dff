//! The pipeline's stages, each reusable by the commands: configuration and device,
//! tokenizer + SFT, PPO, and evaluating a model directory.

use crate::config::Config;
use crate::corpus::Corpus;
use crate::error::TrainerError;
use crate::eval::evaluate::evaluate;
use crate::io::records::EvalReport;
use crate::jobs::limits;
use crate::jobs::train::train;
use crate::rewards::registry;
use crate::rl::ppo::Ppo;
use crate::rl::sft::sft;
use fastrl_models::causal_lm::CausalLm;
use fastrl_models::gpt2::{Gpt2Config, Gpt2Model};
use fastrl_models::hf_dir::{export_hf, import_hf};
use fastrl_models::pretrained;
use fastrl_models::tokenizer::Tok;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Resolves the configuration, applies its threads and seed, picks the device, and
/// writes the resolved `config.toml` into the run directory.
pub fn setup(
    preset: &str,
    file: Option<&Path>,
    sets: &[String],
) -> Result<(Config, tch::Device), TrainerError> {
    let cfg = Config::resolve(preset, file, sets)?;
    if cfg.run.threads > 0 {
        tch::set_num_threads(cfg.run.threads as i32);
    }
    tch::manual_seed(cfg.run.seed as i64);
    let dev = cfg.run.device.device()?;
    let out = cfg.run.out_dir.as_path();
    std::fs::create_dir_all(out).map_err(|e| TrainerError::io(out, e))?;
    let cp = out.join("config.toml");
    std::fs::write(&cp, cfg.to_toml()?).map_err(|e| TrainerError::io(&cp, e))?;
    Ok((cfg, dev))
}

/// Where `.venv` and the data are looked for: the current directory.
pub fn project_root() -> Result<PathBuf, TrainerError> {
    std::env::current_dir().map_err(|e| TrainerError::io(Path::new("."), e))
}

/// The corpus of the config, with a line on stderr saying its sizes.
pub fn load_corpus(cfg: &Config) -> Result<Corpus, TrainerError> {
    load_corpus_at(cfg, &project_root()?)
}

/// [`load_corpus`] with `.venv` and the data looked for under `root`.
pub fn load_corpus_at(cfg: &Config, root: &Path) -> Result<Corpus, TrainerError> {
    let corpus = Corpus::load(&cfg.data, root)?;
    crate::note!(
        "corpus: {} training pairs, {} evaluation pairs",
        corpus.train.len(),
        corpus.eval.len()
    );
    Ok(corpus)
}

/// Tokenizer + SFT into `<out_dir>/sft` (reused when it already exists).
pub fn sft_stage(cfg: &Config, dev: tch::Device, corpus: &Corpus) -> Result<PathBuf, TrainerError> {
    let out = cfg.run.out_dir.as_path().join("sft");
    if out.join("model.safetensors").is_file() {
        crate::note!(
            "using the SFT model in {} (delete it to retrain)",
            out.display()
        );
        return Ok(out);
    }
    let t0 = Instant::now();
    let (model, tok): (Box<dyn CausalLm>, Tok) = if cfg.model.pretrained.is_empty() {
        let tok = if cfg.tokenizer.path.as_os_str().is_empty() {
            let texts = corpus
                .train
                .iter()
                .flat_map(|p| [p.context.as_str(), p.response.as_str()]);
            Tok::train(texts, cfg.tokenizer.vocab_size)?
        } else {
            Tok::load(&cfg.tokenizer.path)?
        };
        let m = &cfg.model;
        let mc = Gpt2Config::with_shape(
            tok.vocab_size() as i64,
            m.n_positions,
            m.n_embd,
            m.n_layer,
            m.n_head,
        );
        (Box::new(Gpt2Model::new(&mc, dev)?), tok)
    } else {
        pretrained::load(&cfg.model.pretrained, &project_root()?, dev)?
    };
    crate::note!(
        "tokenizer: {} tokens; model: {} parameters",
        tok.vocab_size(),
        model.parameter_count()
    );
    // PPO's limits are checked before SFT spends its time.
    limits::check(cfg, corpus, &*model)?;
    let log = cfg.run.out_dir.as_path().join("sft-metrics.jsonl");
    sft(cfg, &*model, &tok, corpus, &log)?;
    export_hf(&out, &*model, &tok)?;
    crate::note!(
        "SFT done in {:.0} s -> {}",
        t0.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(out)
}

/// The evaluation of the model in `dir` on the corpus's evaluation pairs with the
/// config's rewards.
pub fn eval_model(
    cfg: &Config,
    dir: &Path,
    dev: tch::Device,
    corpus: &Corpus,
) -> Result<EvalReport, TrainerError> {
    let (model, tok) = import_hf(dir, dev)?;
    let rw = registry::build(&cfg.composer.rewards, &cfg.reward_settings())?;
    evaluate(cfg, &*model, &tok, &corpus.eval, &rw)
}

/// PPO from the model in `model_dir` into `<out_dir>/ppo`, exported to `ppo/final`.
pub fn ppo_stage(
    cfg: &Config,
    dev: tch::Device,
    corpus: &Corpus,
    model_dir: &Path,
    resume: bool,
) -> Result<PathBuf, TrainerError> {
    let (model, tok) = import_hf(model_dir, dev)?;
    for note in limits::check(cfg, corpus, &*model)? {
        crate::note!("{note}");
    }
    let dir = cfg.run.out_dir.as_path().join("ppo");
    if !resume && !crate::io::checkpoint::list(&dir)?.is_empty() {
        crate::note!(
            "note: starting over in {}; pass --resume to continue its checkpoint",
            dir.display()
        );
    }
    let p = Ppo::new(cfg, model, tok, corpus)?;
    let t0 = Instant::now();
    let p = train(p, &dir, resume, &corpus.eval)?;
    let fin = dir.join("final");
    export_hf(&fin, p.policy(), p.tok())?;
    crate::note!(
        "PPO done in {:.0} s -> {}",
        t0.elapsed().as_secs_f64(),
        fin.display()
    );
    Ok(fin)
}
