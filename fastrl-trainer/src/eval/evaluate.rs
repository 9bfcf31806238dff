//! Evaluation of a policy on held-out pairs: each reward's mean over sampled responses
//! and the responses' n-gram diversity.

use crate::config::Config;
use crate::error::TrainerError;
use crate::io::records::{EvalReport, MEvalMetrics, Sample};
use crate::rewards::reward::{last_turn, score_all, Reward, Targets};
use crate::rl::rollout::{encode_with, generate, Sampling};
use crate::rng::Rng;
use fastrl_data::Pair;
use fastrl_models::causal_lm::CausalLm;
use fastrl_models::tokenizer::Tok;

/// Samples one response per pair (the config's temperature and top-k, a fixed seed) and
/// scores it. Returns per-reward means, mean response length, distinct-2,
/// the six metrics of the paper's m_eval (corpus SacreBLEU, ROUGE-2 and ROUGE-L F,
/// conditional entropy of 3-grams, 3-gram vocabulary and mean length without
/// punctuation; GEM-metrics / RL4LMs definitions over 13a tokens), every response's score
/// per reward (`scores`) and a few samples.
pub fn evaluate(
    cfg: &Config,
    model: &dyn CausalLm,
    tok: &Tok,
    pairs: &[Pair],
    rewards: &[Box<dyn Reward>],
) -> Result<EvalReport, TrainerError> {
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
            Sampling::of(cfg),
            &mut rng,
        )?;
        texts.extend(ro.texts);
        refs.extend(chunk.iter().map(|p| p.response.clone()));
    }
    let last_turns: Vec<String> = pairs.iter().map(|p| last_turn(&p.context)).collect();
    let scores = score_all(
        rewards,
        &texts,
        Targets {
            references: &refs,
            last_turns: &last_turns,
        },
    )?;
    let mut means = std::collections::BTreeMap::new();
    let mut each = std::collections::BTreeMap::new();
    for (r, s) in rewards.iter().zip(&scores) {
        means.insert(
            r.name().to_string(),
            s.iter().map(|&x| x as f64).sum::<f64>() / s.len().max(1) as f64,
        );
        each.insert(
            r.name().to_string(),
            s.iter().map(|&x| f64::from(x)).collect(),
        );
    }
    let hyps: Vec<&str> = texts.iter().map(String::as_str).collect();
    let refs_s: Vec<&str> = refs.iter().map(String::as_str).collect();
    let (stats, _) = fastrl_metrics::diversity(&hyps);
    let m_eval = m_eval_metrics(&hyps, &refs_s);
    let samples: Vec<Sample> = pairs
        .iter()
        .zip(&texts)
        .take(5)
        .map(|(p, t)| Sample {
            context: p.context.clone(),
            reference: p.response.clone(),
            response: t.clone(),
        })
        .collect();
    Ok(EvalReport {
        distinct_2: stats.orders[1].distinct,
        m_eval_metrics: m_eval,
        mean_length: stats.mean_pred_length,
        pairs: texts.len(),
        rewards: means,
        samples,
        scores: each,
        responses: texts,
        weights: None,
    })
}

/// The six metrics of the paper's m_eval of responses `hyps` to references `refs`
/// (corpus SacreBLEU, ROUGE-2 and ROUGE-L F, conditional entropy of 3-grams, 3-gram
/// vocabulary and mean length without punctuation), normalised across runs by
/// `fastrl_experiments::m_eval::m_eval`. The comparison's bootstrap recomputes them on
/// resampled prompts.
pub fn m_eval_metrics(hyps: &[&str], refs: &[&str]) -> MEvalMetrics {
    let (stats, nopunct) = fastrl_metrics::diversity(hyps);
    let n = hyps.len().max(1) as f64;
    let rouge = |k: usize| -> f64 {
        hyps.iter()
            .zip(refs)
            .map(|(h, r)| {
                if k == 0 {
                    fastrl_metrics::rouge_l(r, h).fmeasure
                } else {
                    fastrl_metrics::rouge_n(r, h, k).fmeasure
                }
            })
            .sum::<f64>()
            / n
    };
    MEvalMetrics {
        sacrebleu: fastrl_metrics::corpus_bleu(hyps, refs).score,
        rouge_2: rouge(2),
        rouge_l: rouge(0),
        cond_entropy_3: stats.orders[2].cond_entropy,
        vocab_3_nopunct: nopunct.orders[2].vocab_size,
        mean_length_nopunct: nopunct.mean_pred_length,
    }
}
