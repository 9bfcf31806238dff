//! Our Llama-family model loads checkpoints written by Hugging Face transformers
//! (`LlamaForCausalLM` with tied embeddings and grouped-query attention,
//! `Qwen2ForCausalLM` with an untied head and q/k/v biases) and gives the same logits
//! (max abs diff <= 1e-4) on a batch with a left-padded row; prefill + cached decoding
//! equals the full forward. The checkpoints are made in the test by
//! fastrl-models/tests/make_llama.py with the project's .venv; without the .venv the test
//! prints SKIPPED, unless FASTRL_REQUIRE_VENV=1, where that is a failure.

use fastrl_models::causal_lm::{positions_from_mask, CausalLm};
use fastrl_models::llama::LlamaModel;
mod common;

use common::python;
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind, Tensor};

fn rows(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()))
        .collect()
}

fn check(dir: &Path, model_type: &str) {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let ids = Tensor::from_slice(&rows(&expected["ids"])).view([2, 7]);
    let mask = Tensor::from_slice(&rows(&expected["mask"])).view([2, 7]);
    let want: Vec<f32> = expected["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter())
        .flat_map(|t| {
            t.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect();
    let want = Tensor::from_slice(&want).view([2, 7, 61]);
    let scale = want.abs().max().double_value(&[]);
    assert!(
        scale > 0.1,
        "{model_type}: reference logits are trivial (max |x| {scale})"
    );
    let model = LlamaModel::load_dir(dir, Device::Cpu).expect("load");
    assert_eq!(model.model_type(), model_type);
    let got = model.window(&ids, &mask, 0, 7).logits;
    // Compare the valid positions only (padded queries attend to nothing valid).
    let invalid = mask.to_kind(Kind::Bool).unsqueeze(-1).logical_not();
    let diff = (&got - &want)
        .abs()
        .masked_fill(&invalid, 0.0)
        .max()
        .double_value(&[]);
    println!(
        "{model_type}: max abs logit diff vs transformers {diff:.3e} (max |logit| {scale:.3})"
    );
    assert!(diff <= 1e-4, "{model_type}: max abs diff {diff}");

    // Prefill 4 positions, then decode the other 3 one at a time with the cache.
    let pos = positions_from_mask(&mask);
    let first = model.prefill(&ids.narrow(1, 0, 4), &mask.narrow(1, 0, 4));
    let mut worst = (&first.logits - got.select(1, 3))
        .abs()
        .max()
        .double_value(&[]);
    let mut cache = first.cache;
    for t in 4..7 {
        let d = model.decode_step(
            &ids.narrow(1, t, 1),
            &pos.narrow(1, t, 1),
            &mask.narrow(1, 0, t + 1),
            &cache,
        );
        cache = d.cache;
        worst = worst.max((&d.logits - got.select(1, t)).abs().max().double_value(&[]));
    }
    println!("{model_type}: max abs diff cached decoding vs full forward {worst:.3e}");
    assert!(
        worst <= 1e-5,
        "{model_type}: cached decoding differs by {worst}"
    );
}

#[test]
fn llama_and_qwen2_logits_equal_transformers() {
    let Some(py) = python() else { return };
    let dir = std::env::temp_dir().join(format!("fastrl-llama-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make_llama.py"))
        .arg(&dir)
        .status()
        .expect("run python");
    assert!(st.success(), "make_llama.py failed");
    check(&dir.join("llama"), "llama");
    check(&dir.join("qwen2"), "qwen2");

    // A checkpoint of another shape is refused with a message naming the tensor.
    let cfg_path = dir.join("qwen2/config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["intermediate_size"] = serde_json::json!(64);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let err = LlamaModel::load_dir(&dir.join("qwen2"), Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("another model shape") && err.contains("mlp"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
