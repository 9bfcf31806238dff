//! The corpus as (context, response) pairs with the fixed train/validation/test split of
//! `fastrl-data`.

use crate::config::{CorpusChoice, DataConfig};
use crate::error::TrainerError;
use fastrl_data::{chitchat, dailydialog, pairs, Dialogue, Pair, PairConfig, Split};
use std::path::Path;

/// Training and evaluation pairs.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Training pairs (at most `max_train_pairs`).
    pub train: Vec<Pair>,
    /// Validation pairs (at most `max_eval_pairs`).
    pub eval: Vec<Pair>,
}

fn dialogues(cfg: &DataConfig, root: &Path) -> Result<Vec<Dialogue>, TrainerError> {
    Ok(match cfg.corpus {
        CorpusChoice::Chitchat => {
            let path = if cfg.path.as_os_str().is_empty() {
                chitchat::find(root)?
            } else {
                cfg.path.clone()
            };
            chitchat::load(&path)?
                .into_iter()
                .map(|c| c.dialogue)
                .collect()
        }
        CorpusChoice::Dailydialog => {
            if cfg.path.as_os_str().is_empty() {
                return Err(TrainerError::Config(
                    "data.corpus = \"dailydialog\" needs data.path = the release's \
                     dialogues_text.txt"
                        .into(),
                ));
            }
            dailydialog::load(&cfg.path, None)?
                .into_iter()
                .map(|d| d.dialogue)
                .collect()
        }
    })
}

fn take(mut v: Vec<Pair>, max: usize) -> Vec<Pair> {
    if max > 0 && v.len() > max {
        // Spread the kept pairs over the whole split (every k-th), deterministically.
        let k = v.len() / max;
        v = v.into_iter().step_by(k).take(max).collect();
    }
    v
}

impl Corpus {
    /// Loads the configured corpus (`root` is where `.venv` is looked for).
    pub fn load(cfg: &DataConfig, root: &Path) -> Result<Self, TrainerError> {
        let ds = dialogues(cfg, root)?;
        let pc = PairConfig {
            context_utterances: cfg.context_utterances,
            ..Default::default()
        };
        let train = take(pairs(&ds, Some(Split::Train), &pc), cfg.max_train_pairs);
        let eval = take(pairs(&ds, Some(Split::Validation), &pc), cfg.max_eval_pairs);
        if train.is_empty() || eval.is_empty() {
            return Err(TrainerError::Data(format!(
                "the {} corpus gave {} training and {} validation pairs; it needs both \
                 (check data.path and data.max_*_pairs)",
                cfg.corpus.name(),
                train.len(),
                eval.len()
            )));
        }
        Ok(Corpus { train, eval })
    }
}
