//! The tch BERT gives all-MiniLM-L6-v2's embeddings: token ids equal to transformers'
//! tokenizer, last hidden states and sentence embeddings equal to transformers /
//! sentence-transformers (max abs diff <= 1e-4); BERTScore-style F1 of a text with itself
//! is 1 and falls for an unrelated text. Needs .venv (SKIPPED without it unless
//! FASTRL_REQUIRE_VENV=1).

use fastrl_trainer::rewards::encoder::{Encoder, Shared};
use fastrl_trainer::rewards::reward::{last_turn, score_all, Reward, Targets};
use fastrl_trainer::rewards::similarity::{BertScore, Relevance, Semantic};
mod common;

use common::python;
use std::path::Path;
use std::process::Command;
use tch::{Device, Tensor};

fn flat(v: &serde_json::Value) -> Vec<f32> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(flat).collect(),
        x => vec![x.as_f64().unwrap() as f32],
    }
}

#[test]
fn embeddings_equal_sentence_transformers() {
    let Some(py) = python() else { return };
    let out = std::env::temp_dir().join(format!("fastrl-minilm-{}.json", std::process::id()));
    let st = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make_minilm_reference.py"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).ok();
    let enc = Encoder::load(Path::new(r["model_dir"].as_str().unwrap()), Device::Cpu).unwrap();
    let texts: Vec<&str> = r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let (ids, mask) = enc.tokenize(&texts).unwrap();
    let want_ids: Vec<i64> = flat(&r["ids"]).iter().map(|&x| x as i64).collect();
    let got_ids: Vec<i64> = Vec::try_from(&ids.reshape([-1])).unwrap();
    assert_eq!(got_ids, want_ids);
    let hidden = enc.forward(&ids, &mask);
    let want = Tensor::from_slice(&flat(&r["hidden"])).view(&hidden.size()[..]);
    let m = mask.unsqueeze(-1).to_kind(tch::Kind::Float);
    let d = ((hidden - want) * m).abs().max().double_value(&[]);
    assert!(d <= 1e-4, "hidden states differ by {d}");
    let sent = enc.sentence_embeddings(&texts).unwrap();
    let want = Tensor::from_slice(&flat(&r["sentence"])).view(&sent.size()[..]);
    let d = (sent - want).abs().max().double_value(&[]);
    assert!(d <= 1e-4, "sentence embeddings differ by {d}");
    // More texts than one chunk, of mixed lengths: the chunked encoding equals one
    // forward over the whole padded batch on real tokens and is 0 on padding.
    let many: Vec<String> = (0..3 * fastrl_trainer::rewards::encoder::CHUNK + 1)
        .map(|i| match i % 3 {
            0 => texts[i % texts.len()].to_string(),
            1 => "ok".to_string(),
            _ => format!("{} and then {} more", texts[0], "a few words ".repeat(i)),
        })
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (ids, mask) = enc.tokenize(&many).unwrap();
    let whole = enc.forward(&ids, &mask);
    let (chunked, cmask) = enc.token_embeddings(&many).unwrap();
    assert_eq!(cmask, mask);
    let m = mask.unsqueeze(-1).to_kind(tch::Kind::Float);
    let d = ((&chunked - whole) * &m).abs().max().double_value(&[]);
    assert!(d <= 1e-5, "chunked states differ by {d}");
    let pad = (chunked * (m.neg() + 1.0)).abs().max().double_value(&[]);
    assert_eq!(pad, 0.0);
    // The rewards.
    let shared = Shared::new(enc);
    let bs = BertScore(shared.clone());
    let same = bs.score(texts[0], texts[0]).unwrap();
    assert!((same - 1.0).abs() < 1e-5, "{same}");
    let near = bs.score("how are you today?", texts[0]).unwrap();
    let far = bs.score("the beach is lovely", texts[0]).unwrap();
    assert!(near > far, "{near} vs {far}");
    // The batched form (one forward, masked matching) equals the pair-by-pair one over
    // rows of different lengths, an empty response included.
    let hyps: Vec<String> = ["how are you today?", "", "the beach is lovely", texts[2]]
        .map(String::from)
        .to_vec();
    let refs: Vec<String> = [
        texts[0],
        texts[1],
        "a much longer reference sentence than the response",
        texts[0],
    ]
    .map(String::from)
    .to_vec();
    let batched = bs.score_batch(&hyps, &refs).unwrap();
    for ((h, r), b) in hyps.iter().zip(&refs).zip(&batched) {
        let one = bs.score(h, r).unwrap();
        assert!(
            (one - b).abs() < 1e-5,
            "{h:?}/{r:?}: pair {one} vs batch {b}"
        );
    }
    assert_eq!(batched[1], 0.0);
    // `semantic` then `bertscore` on the same texts: the second reuses the first's
    // forward and must give the same scores as a fresh one.
    let sem = Semantic(shared.clone());
    let s1 = sem.score_batch(&hyps, &refs).unwrap();
    assert_eq!(bs.score_batch(&hyps, &refs).unwrap(), batched);
    assert_eq!(sem.score_batch(&hyps, &refs).unwrap(), s1);
    // `relevance` scores a response against the utterance it answers, the context's last
    // turn, whatever the reference: the cosine of sentence-transformers' embeddings.
    let py_sent = flat(&r["sentence"]);
    let dim = py_sent.len() / texts.len();
    let dot = |a: usize, b: usize| -> f64 {
        (0..dim)
            .map(|k| f64::from(py_sent[a * dim + k]) * f64::from(py_sent[b * dim + k]))
            .sum()
    };
    let cos = |a: usize, b: usize| dot(a, b) / (dot(a, a) * dot(b, b)).sqrt();
    let contexts = [
        format!("{} <EOU> {} <EOU>", texts[2], texts[1]),
        format!("{} <EOU>", texts[2]),
    ];
    let last: Vec<String> = contexts.iter().map(|c| last_turn(c)).collect();
    assert_eq!(last, [texts[1], texts[2]]);
    let responses: Vec<String> = [texts[0], texts[0]].map(String::from).to_vec();
    let unrelated: Vec<String> = ["x".to_string(), "y".to_string()].to_vec();
    let rel: Vec<Box<dyn Reward>> = vec![Box::new(Relevance(Semantic(shared.clone())))];
    let got = score_all(
        &rel,
        &responses,
        Targets {
            references: &unrelated,
            last_turns: &last,
        },
    )
    .unwrap();
    for (i, want) in [cos(0, 1), cos(0, 2)].into_iter().enumerate() {
        assert!(
            (f64::from(got[0][i]) - want).abs() < 1e-4,
            "relevance row {i}: {} vs sentence-transformers {want}",
            got[0][i]
        );
    }
    let sem = Semantic(shared);
    assert!(s1.iter().all(|x| x.is_finite()));
    assert!((sem.score(texts[1], texts[1]).unwrap() - 1.0).abs() < 1e-5);
    assert!(sem.score("how are you?", texts[0]).unwrap() > sem.score(texts[2], texts[0]).unwrap());
}
