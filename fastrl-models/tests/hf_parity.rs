//! Our GPT-2 loads a checkpoint written by Hugging Face transformers and gives the same
//! logits (max abs diff <= 1e-4), including a left-padded row. The checkpoint is made in
//! the test by fastrl-models/tests/make_gpt2.py with the project's .venv (torch 2.11.0,
//! transformers 5.24.0); without the .venv the test prints SKIPPED, unless
//! FASTRL_REQUIRE_VENV=1 (scripts/test.sh sets it), where that is a failure.

use fastrl_models::gpt2::Gpt2Model;
mod common;

use common::python;
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind, Tensor};

#[test]
fn logits_equal_transformers() {
    let Some(py) = python() else { return };
    let dir = std::env::temp_dir().join(format!("fastrl-hf-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make_gpt2.py"))
        .arg(&dir)
        .status()
        .expect("run python");
    assert!(st.success(), "make_gpt2.py failed");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let rows = |k: &str| -> Vec<i64> {
        expected[k]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()))
            .collect()
    };
    let ids = Tensor::from_slice(&rows("ids")).view([2, 7]);
    let mask = Tensor::from_slice(&rows("mask")).view([2, 7]);
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
    let model = Gpt2Model::load_dir(&dir, Device::Cpu).expect("load");
    let got = model.net.forward_full(&ids, &mask).logits;
    let want = Tensor::from_slice(&want).view([2, 7, 61]);
    // Left padding: compare the valid positions only (HF's logits at padded positions
    // attend to nothing valid and are not meaningful).
    let valid = mask.to_kind(Kind::Bool).unsqueeze(-1);
    let diff = (got - want)
        .abs()
        .masked_fill(&valid.logical_not(), 0.0)
        .max()
        .double_value(&[]);
    assert!(diff <= 1e-4, "max abs diff {diff}");
    // A checkpoint of another shape is refused with a message naming the tensor.
    let cfg_path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["n_embd"] = serde_json::json!(64);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let err = Gpt2Model::load_dir(&dir, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another model shape"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
