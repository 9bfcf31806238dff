//! Parity with the reference implementations, on fixtures they produced
//! (`fixtures/metrics.json`, written by `make_fixtures.py` with sacrebleu and rouge-score).

use fastrl_metrics::{rouge_l, rouge_n, sentence_bleu, tokenize_13a};
use serde_json::Value;

/// The fixture document written by `make_fixtures.py`.
fn doc() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn cases() -> Vec<Value> {
    doc()["cases"].as_array().expect("cases").clone()
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

#[test]
fn tokenize_13a_matches_sacrebleu() {
    for c in cases() {
        let hyp = c["hypothesis"].as_str().unwrap();
        let want: Vec<&str> = c["tokens_13a"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tokenize_13a(hyp.trim_end()), want, "{hyp:?}");
    }
}

#[test]
fn sentence_bleu_matches_sacrebleu() {
    let all = cases();
    assert!(all.len() >= 20);
    for c in all {
        let hyp = c["hypothesis"].as_str().unwrap();
        let refs: Vec<&str> = c["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let got = sentence_bleu(hyp, &refs);
        assert!(
            (got.score - f(&c["bleu"])).abs() <= 1e-9,
            "{hyp:?}: {} vs {}",
            got.score,
            c["bleu"]
        );
        assert!((got.bp - f(&c["bleu_bp"])).abs() <= 1e-12, "{hyp:?} bp");
    }
}

#[test]
fn rouge_matches_rouge_score() {
    for c in cases() {
        let hyp = c["hypothesis"].as_str().unwrap();
        let target = c["references"][0].as_str().unwrap();
        let l = rouge_l(target, hyp);
        let two = rouge_n(target, hyp, 2);
        for (got, key) in [
            ([l.precision, l.recall, l.fmeasure], "rougeL"),
            ([two.precision, two.recall, two.fmeasure], "rouge2"),
        ] {
            for k in 0..3 {
                assert!(
                    (got[k] - f(&c[key][k])).abs() <= 1e-12,
                    "{hyp:?} {key}[{k}]: {} vs {}",
                    got[k],
                    c[key][k]
                );
            }
        }
    }
}

#[test]
fn hand_derived_bleu() {
    // Identical 6-token sentences: every precision 100, bp 1 -> 100.
    assert!(
        (sentence_bleu("the cat sat on the mat", &["the cat sat on the mat"]).score - 100.0).abs()
            < 1e-9
    );
    // No reference: nothing matches -> 0.
    assert_eq!(sentence_bleu("anything", &[]).score, 0.0);
}

#[test]
fn porter_matches_nltk() {
    let doc = doc();
    let stems = doc["porter"].as_object().expect("porter");
    assert!(stems.len() > 100);
    let mut bad = Vec::new();
    for (w, s) in stems {
        let got = fastrl_metrics::porter_stem(w);
        if got != s.as_str().unwrap() {
            bad.push(format!("{w}: {got} vs {s}"));
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}

/// One METEOR fixture case: hypothesis tokens, reference token lists, the case itself.
type MeteorCase<'a> = (Vec<&'a str>, Vec<Vec<&'a str>>, &'a Value);

/// The METEOR fixture cases.
fn meteor_cases(doc: &Value) -> Vec<MeteorCase<'_>> {
    fn toks(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect()
    }
    doc["meteor"]
        .as_array()
        .expect("meteor")
        .iter()
        .map(|c| {
            (
                toks(&c["hypothesis"]),
                c["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(toks)
                    .collect(),
                c,
            )
        })
        .collect()
}

#[test]
fn meteor_matches_nltk_without_wordnet() {
    let doc = doc();
    let cases = meteor_cases(&doc);
    assert!(cases.len() > 20);
    for (hyp, refs, c) in cases {
        let got = fastrl_metrics::meteor(&refs, &hyp);
        assert!(
            (got - f(&c["meteor"])).abs() <= 1e-12,
            "{hyp:?}: {got} vs {}",
            c["meteor"]
        );
    }
}

fn wordnet() -> Option<fastrl_metrics::WordNet> {
    match fastrl_metrics::WordNet::default_dir() {
        Some(dir) => Some(fastrl_metrics::WordNet::load(&dir).expect("WordNet loads")),
        None => {
            assert!(
                std::env::var_os("FASTRL_REQUIRE_WORDNET").is_none(),
                "FASTRL_REQUIRE_WORDNET is set but no WordNet at /usr/share/wordnet (apt-get install wordnet-base)"
            );
            println!("SKIPPED: no WordNet (apt-get install wordnet-base)");
            None
        }
    }
}

#[test]
fn wordnet_synonyms_match_nltk() {
    let Some(wn) = wordnet() else { return };
    let doc = doc();
    let syns = doc["wordnet_synonyms"].as_object().expect("synonyms");
    assert!(syns.len() > 50);
    for (w, want) in syns {
        let mut got: Vec<String> = wn.synonyms(w).into_iter().collect();
        got.sort();
        let want: Vec<String> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{w}");
    }
}

#[test]
fn meteor_matches_nltk_with_wordnet() {
    let Some(wn) = wordnet() else { return };
    let doc = doc();
    let mut differs = 0;
    for (hyp, refs, c) in meteor_cases(&doc) {
        let got = fastrl_metrics::meteor_with(&refs, &hyp, Some(&wn));
        let want = f(&c["meteor_wordnet"]);
        assert!((got - want).abs() <= 1e-12, "{hyp:?}: {got} vs {want}");
        differs += (want != f(&c["meteor"])) as usize;
    }
    assert!(differs >= 2, "the fixtures must exercise the synonym stage");
}

#[test]
fn diversity_matches_gem_ngram_stats() {
    let doc = doc();
    let d = &doc["diversity"];
    let texts: Vec<&str> = d["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let (all, nopunct) = fastrl_metrics::diversity(&texts);
    for (got, want) in [(all, &d["all"]), (nopunct, &d["nopunct"])] {
        let close = |g: f64, key: &str| {
            assert!(
                (g - f(&want[key])).abs() <= 1e-9,
                "{key}: {g} vs {}",
                want[key]
            )
        };
        close(got.total_length as f64, "total_length");
        close(got.mean_pred_length, "mean_pred_length");
        close(got.std_pred_length, "std_pred_length");
        close(got.median_pred_length, "median_pred_length");
        close(got.min_pred_length as f64, "min_pred_length");
        close(got.max_pred_length as f64, "max_pred_length");
        for n in 1..=3 {
            let o = &got.orders[n - 1];
            close(o.distinct, &format!("distinct-{n}"));
            close(o.vocab_size as f64, &format!("vocab_size-{n}"));
            close(o.unique as f64, &format!("unique-{n}"));
            close(o.entropy, &format!("entropy-{n}"));
            if n > 1 {
                close(
                    o.cond_entropy.expect("cond entropy"),
                    &format!("cond_entropy-{n}"),
                );
            }
        }
    }
}

#[test]
fn corpus_bleu_matches_sacrebleu() {
    let d = doc();
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    for c in d["corpus_bleu"].as_array().unwrap() {
        let (h, r) = (strs(&c["hypotheses"]), strs(&c["references"]));
        let h: Vec<&str> = h.iter().map(String::as_str).collect();
        let r: Vec<&str> = r.iter().map(String::as_str).collect();
        let got = fastrl_metrics::corpus_bleu(&h, &r).score;
        assert!(
            (got - f(&c["bleu"])).abs() <= 1e-9,
            "{} sentences: {got} vs {}",
            h.len(),
            c["bleu"]
        );
    }
}

#[test]
fn vader_compound_matches_vader_sentiment() {
    // Its own file, so that each fixture file can be regenerated without the other's
    // reference packages; a missing file fails the test. Both sides round to 4 decimals
    // (Python's `round`), so they must agree exactly, not just within a tolerance.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vader.json");
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run make_fixtures.py --only vader)"));
    let doc: Value = serde_json::from_str(&text).expect("vader.json is JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 300, "{} VADER cases", cases.len());
    let mut bad = Vec::new();
    let mut max_diff = 0.0f64;
    for c in cases {
        let t = c["text"].as_str().expect("text");
        let (got, want) = (fastrl_metrics::vader_compound(t), f(&c["compound"]));
        max_diff = max_diff.max((got - want).abs());
        if got != want {
            bad.push(format!("{t:?}: {got} vs {want}"));
        }
    }
    println!("{} VADER cases, max |diff| {max_diff:e}", cases.len());
    assert!(
        bad.is_empty(),
        "{} of {} differ: {bad:#?}",
        bad.len(),
        cases.len()
    );
}
