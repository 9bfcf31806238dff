//! METEOR as `nltk.translate.meteor_score.meteor_score` computes it (alpha 0.9, beta 3,
//! gamma 0.5): lowercase, then align by exact match, Porter-stem match and WordNet
//! synonym match, then F-mean with a fragmentation penalty. Without a [`WordNet`] the
//! synonym stage matches nothing (nltk with an empty WordNet).

use crate::porter::porter_stem;
use crate::wordnet::WordNet;
use std::collections::{HashMap, HashSet};

type Enum = Vec<(usize, String)>;

/// `_match_enums`: hypothesis words from the last, each taking the last free reference
/// position holding the same string.
fn match_enums(hyp: &Enum, refs: &Enum) -> (Vec<(usize, usize)>, Enum, Enum) {
    let mut positions: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, (_, w)) in refs.iter().enumerate() {
        positions.entry(w.as_str()).or_default().push(j);
    }
    let (mut matched_h, mut matched_r) = (HashSet::new(), HashSet::new());
    let mut pairs = Vec::new();
    for i in (0..hyp.len()).rev() {
        if let Some(j) = positions.get_mut(hyp[i].1.as_str()).and_then(|p| p.pop()) {
            matched_h.insert(i);
            matched_r.insert(j);
            pairs.push((hyp[i].0, refs[j].0));
        }
    }
    let keep = |list: &Enum, used: &HashSet<usize>| {
        list.iter()
            .enumerate()
            .filter(|(k, _)| !used.contains(k))
            .map(|(_, p)| p.clone())
            .collect()
    };
    (pairs, keep(hyp, &matched_h), keep(refs, &matched_r))
}

fn count_chunks(matches: &[(usize, usize)]) -> usize {
    let mut chunks = 1;
    for w in matches.windows(2) {
        if !(w[1].0 == w[0].0 + 1 && w[1].1 == w[0].1 + 1) {
            chunks += 1;
        }
    }
    chunks
}

/// `_enum_wordnetsyn_match`: each hypothesis word (from the last) takes the reference
/// position, furthest right, of any of its synonyms (or itself).
fn wordnet_match(hyp: &Enum, refs: &Enum, wn: &WordNet) -> Vec<(usize, usize)> {
    let mut positions: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, (_, w)) in refs.iter().enumerate() {
        positions.entry(w.as_str()).or_default().push(j);
    }
    let mut pairs = Vec::new();
    for i in (0..hyp.len()).rev() {
        let mut syns = wn.synonyms(&hyp[i].1);
        syns.retain(|s| !s.contains('_'));
        syns.insert(hyp[i].1.clone());
        let mut best: Option<(usize, &str)> = None;
        for syn in &syns {
            if let Some(&j) = positions.get(syn.as_str()).and_then(|p| p.last()) {
                if best.is_none_or(|(b, _)| j > b) {
                    best = Some((j, syn.as_str()));
                }
            }
        }
        if let Some((j, syn)) = best {
            if let Some(p) = positions.get_mut(syn) {
                p.pop();
            }
            pairs.push((hyp[i].0, refs[j].0));
        }
    }
    pairs
}

/// `single_meteor_score(reference, hypothesis)` over pre-tokenized inputs, with WordNet
/// synonyms when `wordnet` is given.
pub fn single_meteor_with(
    reference: &[&str],
    hypothesis: &[&str],
    wordnet: Option<&WordNet>,
) -> f64 {
    let hyp: Enum = hypothesis
        .iter()
        .map(|w| w.to_lowercase())
        .enumerate()
        .collect();
    let refs: Enum = reference
        .iter()
        .map(|w| w.to_lowercase())
        .enumerate()
        .collect();
    let (exact, h, r) = match_enums(&hyp, &refs);
    let stem = |l: &Enum| -> Enum { l.iter().map(|(i, w)| (*i, porter_stem(w))).collect() };
    // As nltk, the synonym stage sees the *stemmed* leftovers of the stem stage.
    let (stemmed, h, r) = match_enums(&stem(&h), &stem(&r));
    let synonyms = wordnet
        .map(|wn| wordnet_match(&h, &r, wn))
        .unwrap_or_default();
    let mut matches: Vec<(usize, usize)> =
        exact.into_iter().chain(stemmed).chain(synonyms).collect();
    matches.sort_by_key(|m| m.0);
    let m = matches.len();
    if hyp.is_empty() || refs.is_empty() || m == 0 {
        return 0.0;
    }
    let precision = m as f64 / hyp.len() as f64;
    let recall = m as f64 / refs.len() as f64;
    let (alpha, beta, gamma) = (0.9, 3.0, 0.5);
    let fmean = precision * recall / (alpha * precision + (1.0 - alpha) * recall);
    let frag = count_chunks(&matches) as f64 / m as f64;
    (1.0 - gamma * frag.powf(beta)) * fmean
}

/// `single_meteor_score` without WordNet.
pub fn single_meteor(reference: &[&str], hypothesis: &[&str]) -> f64 {
    single_meteor_with(reference, hypothesis, None)
}

/// `meteor_score(references, hypothesis)`: the best score over the references, with
/// WordNet synonyms when `wordnet` is given.
pub fn meteor_with(
    references: &[Vec<&str>],
    hypothesis: &[&str],
    wordnet: Option<&WordNet>,
) -> f64 {
    references
        .iter()
        .map(|r| single_meteor_with(r, hypothesis, wordnet))
        .fold(0.0, f64::max)
}

/// `meteor_score(references, hypothesis)` without WordNet.
pub fn meteor(references: &[Vec<&str>], hypothesis: &[&str]) -> f64 {
    meteor_with(references, hypothesis, None)
}
