//! Evaluation of a policy on held-out pairs: each reward's mean over sampled responses
//! and the responses' n-gram diversity.

use crate::config::Config;
use crate::error::TrainerError;
use crate::model::Model;
use crate::optim::Rng;
use crate::ppo::{encode_with, generate};
use crate::rewards::{score_all, Reward};
use crate::tokenizer::Tok;
use fastrl_data::Pair;
use serde_json::json;

/// Samples one response per pair (the config's temperature and top-k, a fixed seed) and
/// scores it. Returns a JSON object: per-reward means, mean response length, distinct-2
/// and a few samples.
pub fn evaluate(
    cfg: &Config,
    model: &Model,
    tok: &Tok,
    pairs: &[Pair],
    rewards: &[Box<dyn Reward>],
) -> Result<serde_json::Value, TrainerError> {
    let mut rng = Rng::new(cfg.run.seed ^ 0xe7a1);
    let mut texts = Vec::new();
    let mut refs = Vec::new();
    for chunk in pairs.chunks(cfg.ppo.batch_size.max(1)) {
        let ctx: Vec<Vec<i64>> = chunk
            .iter()
            .map(|p| encode_with(cfg, tok, p).map(|(c, _)| c))
            .collect::<Result<_, _>>()?;
        let ro = generate(
            model,
            tok,
            &ctx,
            cfg.tokenizer.max_response_tokens,
            cfg.ppo.temperature,
            cfg.ppo.top_k,
            &mut rng,
        )?;
        texts.extend(ro.texts);
        refs.extend(chunk.iter().map(|p| p.response.clone()));
    }
    let scores = score_all(rewards, &texts, &refs)?;
    let mut means = serde_json::Map::new();
    for (r, s) in rewards.iter().zip(&scores) {
        means.insert(
            r.name().to_string(),
            json!(s.iter().map(|&x| x as f64).sum::<f64>() / s.len().max(1) as f64),
        );
    }
    let tokenized: Vec<Vec<String>> = texts
        .iter()
        .map(|t| fastrl_metrics::tokenize_13a(t))
        .collect();
    let stats = fastrl_metrics::ngram_stats(&tokenized);
    let samples: Vec<serde_json::Value> = pairs
        .iter()
        .zip(&texts)
        .take(5)
        .map(|(p, t)| json!({"context": p.context, "reference": p.response, "response": t}))
        .collect();
    Ok(json!({
        "pairs": texts.len(),
        "rewards": means,
        "mean_length": stats.mean_pred_length,
        "distinct_2": stats.orders[1].distinct,
        "samples": samples,
    }))
}
