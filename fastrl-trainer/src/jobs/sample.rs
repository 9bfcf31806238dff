//! The `generate` command: sampled (or greedy) responses of a model directory to one
//! context.

use crate::config::Config;
use crate::error::TrainerError;
use crate::rl::rollout::{generate, Sampling};
use crate::rng::Rng;
use fastrl_models::hf_dir::import_hf;
use std::path::Path;

/// `n` responses of the model in `dir` to `context` (the config's lengths, temperature,
/// top-k and seed); `greedy` takes the most likely token at every step instead (the same
/// response `n` times: reproducible output).
pub fn sample(
    cfg: &Config,
    dev: tch::Device,
    dir: &Path,
    context: &str,
    n: usize,
    greedy: bool,
) -> Result<Vec<String>, TrainerError> {
    let (m, tok) = import_hf(dir, dev)?;
    let ids = tok.encode_context(context, cfg.tokenizer.max_context_tokens)?;
    let mut rng = Rng::new(cfg.run.seed);
    let ro = generate(
        &*m,
        &tok,
        &vec![ids; n],
        cfg.tokenizer.max_response_tokens,
        Sampling {
            temperature: if greedy { 0.0 } else { cfg.ppo.temperature },
            top_k: cfg.ppo.top_k,
        },
        &mut rng,
    )?;
    Ok(ro.texts)
}
