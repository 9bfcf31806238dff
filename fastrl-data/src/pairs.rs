//! `(context, response)` pairs and the fixed split.

use crate::Dialogue;

/// Train / validation / test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// 80% of conversations.
    Train,
    /// 10%.
    Validation,
    /// 10%.
    Test,
}

/// How pairs are built.
#[derive(Clone, Debug, PartialEq)]
pub struct PairConfig {
    /// Utterances of context at most (the paper: 5).
    pub context_utterances: usize,
    /// Token after each context utterance (the paper: `<EOU>`).
    pub eou: String,
}

impl Default for PairConfig {
    fn default() -> Self {
        PairConfig {
            context_utterances: 5,
            eou: "<EOU>".into(),
        }
    }
}

/// One example: the context, the next utterance (the reference), and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// Up to `context_utterances` utterances, each followed by ` <EOU>`, joined by spaces.
    pub context: String,
    /// The utterance that follows.
    pub response: String,
    /// Index of the dialogue in the input slice.
    pub dialogue: usize,
    /// Position of the response in its dialogue (>= 1).
    pub turn: usize,
}

/// FNV-1a, 64 bit.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The split a dialogue id belongs to (fixed: the same on every machine and run).
pub fn split_of(id: &str) -> Split {
    match fnv1a(id) % 100 {
        0..=79 => Split::Train,
        80..=89 => Split::Validation,
        _ => Split::Test,
    }
}

/// Every `(context, next utterance)` pair of the dialogues in `split` (all of them when
/// `None`): for each utterance after the first, the preceding utterances (at most
/// `context_utterances`) as the context. Empty utterances are skipped.
pub fn pairs(dialogues: &[Dialogue], split: Option<Split>, cfg: &PairConfig) -> Vec<Pair> {
    let mut out = Vec::new();
    for (d, dia) in dialogues.iter().enumerate() {
        if split.is_some_and(|s| split_of(&dia.id) != s) {
            continue;
        }
        let utts: Vec<&str> = dia
            .utterances
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .collect();
        for t in 1..utts.len() {
            let lo = t.saturating_sub(cfg.context_utterances.max(1));
            let context = utts[lo..t]
                .iter()
                .map(|u| format!("{u} {}", cfg.eou))
                .collect::<Vec<_>>()
                .join(" ");
            out.push(Pair {
                context,
                response: utts[t].to_string(),
                dialogue: d,
                turn: t,
            });
        }
    }
    out
}
