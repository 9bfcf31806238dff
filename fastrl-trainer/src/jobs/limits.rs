//! Limits checked before any work: sizes against the data, and the memory a PPO step
//! needs against what the machine has, refused with both numbers.

use crate::config::Config;
use crate::corpus::Corpus;
use crate::error::TrainerError;
use fastrl_models::causal_lm::CausalLm;

/// Bytes a PPO step needs at least, from the model's shape and the config's sizes.
///
/// The larger of the rollout (no gradients: policy and reference logits and their
/// log-softmax `2 B R V`, the KV cache `2 layers B T E`, one layer's attention `2 B H T^2`)
/// and a minibatch update (autograd keeps per layer about `16 mb T E` activations and
/// `3 mb H T^2` attention values, and `3 mb R V` for the logits), plus the weights:
/// policy, its gradient and Adam's two moments, and the reference (`5 P`), all `f32`.
/// `T = max_context_tokens + max_response_tokens`. A lower bound: libtorch's workspace
/// and the allocator's slack come on top.
pub fn step_bytes(cfg: &Config, model: &dyn CausalLm) -> u64 {
    let d = model.dims();
    // In f64: a mistyped size must give a large number, not an overflow.
    let b = cfg.ppo.batch_size as f64;
    let mb = cfg.ppo.minibatch_size as f64;
    let r = cfg.tokenizer.max_response_tokens as f64;
    let t = (cfg.tokenizer.max_context_tokens + cfg.tokenizer.max_response_tokens) as f64;
    let (v, e, h, l) = (
        d.vocab as f64,
        d.hidden as f64,
        d.heads as f64,
        d.layers as f64,
    );
    let rollout = 2.0 * b * r * v + 2.0 * l * b * t * e + 2.0 * b * h * t * t;
    let update = l * (16.0 * mb * t * e + 3.0 * mb * h * t * t) + 3.0 * mb * r * v;
    let weights = 5.0 * model.parameter_count() as f64;
    (4.0 * (rollout.max(update) + weights)) as u64
}

/// Bytes of memory available on this machine (`MemAvailable` of `/proc/meminfo`), if
/// known.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Bytes free on `device` and where the number comes from: `MemAvailable` for the CPU;
/// the driver's free memory for a CUDA device (feature `cuda`); `None` when unknown
/// (a CUDA device without the `cuda` feature: libtorch through tch has no such query).
pub fn available_on(device: tch::Device) -> Result<Option<(u64, &'static str)>, TrainerError> {
    match device {
        tch::Device::Cpu => Ok(available_bytes().map(|b| (b, "MemAvailable"))),
        #[cfg(feature = "cuda")]
        tch::Device::Cuda(i) => match composer_cuda::tch::TchFused::new(i) {
            Ok(g) => Ok(Some((g.memory()?.0, "the CUDA device's free memory"))),
            Err(composer_cuda::CudaError::NoCuda { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        },
        _ => Ok(None),
    }
}

/// Checks the config against the corpus and the step's memory against what the device
/// has ([`available_on`]). Returns notes to print (e.g. what an uneven minibatch split does).
pub fn check(
    cfg: &Config,
    corpus: &Corpus,
    model: &dyn CausalLm,
) -> Result<Vec<String>, TrainerError> {
    let n = corpus.train.len() as u64;
    for (key, size) in [
        ("ppo.batch_size", cfg.ppo.batch_size),
        ("sft.batch_size", cfg.sft.batch_size),
    ] {
        if size as u64 > n {
            return Err(TrainerError::Limit {
                what: format!(
                    "{key} {size} prompts per batch from {n} training pairs (lower {key} or \
                     raise data.max_train_pairs)"
                ),
                need: size as u64,
                have: n,
            });
        }
    }
    let need = step_bytes(cfg, model);
    if let Some((have, what)) = available_on(model.device())? {
        if need > have {
            return Err(TrainerError::Limit {
                what: format!(
                    "memory of one PPO step in bytes (ppo.batch_size, ppo.minibatch_size, \
                     tokenizer.max_*_tokens and the model's shape), against {what}"
                ),
                need,
                have,
            });
        }
    }
    let mut notes = Vec::new();
    let (b, m) = (cfg.ppo.batch_size, cfg.ppo.minibatch_size);
    if b % m != 0 {
        notes.push(format!(
            "note: ppo.minibatch_size {m} does not divide ppo.batch_size {b}: each epoch has \
             {} minibatches of {m} rows and one of {} rows, each one optimiser step",
            b / m,
            b % m
        ));
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastrl_models::gpt2::{Gpt2Config, Gpt2Model};
    use fastrl_models::llama::LlamaModel;
    use fastrl_models::llama_config::{LlamaConfig, LlamaFlavor};

    /// SmolLM2-135M-Instruct's shape (its GGUF's metadata).
    fn smollm2_shape() -> LlamaConfig {
        LlamaConfig {
            flavor: LlamaFlavor::Llama,
            vocab_size: 49152,
            hidden_size: 576,
            intermediate_size: 1536,
            num_hidden_layers: 30,
            num_attention_heads: 9,
            num_key_value_heads: 3,
            head_dim: 64,
            rms_norm_eps: 1e-5,
            rope_theta: 100000.0,
            max_position_embeddings: 8192,
            tie_word_embeddings: true,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
            bos_token_id: Some(1),
            eos_token_id: Some(2),
        }
    }

    #[test]
    fn the_step_estimate_is_its_formula_and_too_much_is_refused() {
        let m =
            Gpt2Model::new(&Gpt2Config::with_shape(100, 32, 16, 2, 2), tch::Device::Cpu).unwrap();
        let cfg = Config::resolve("smoke", None, &[]).unwrap();
        // smoke: B 8, mb 4, R 8, T 32; V 100, E 16, H 2, L 2.
        let rollout =
            2.0 * 8.0 * 8.0 * 100.0 + 2.0 * 2.0 * 8.0 * 32.0 * 16.0 + 2.0 * 8.0 * 2.0 * 1024.0;
        let update =
            2.0 * (16.0 * 4.0 * 32.0 * 16.0 + 3.0 * 4.0 * 2.0 * 1024.0) + 3.0 * 4.0 * 8.0 * 100.0;
        let want = 4.0 * (f64::max(rollout, update) + 5.0 * m.parameter_count() as f64);
        assert_eq!(step_bytes(&cfg, &m), want as u64);
        let mut big = cfg.clone();
        big.ppo.batch_size = 1 << 40;
        big.ppo.minibatch_size = 1 << 40;
        assert!(step_bytes(&big, &m) > 1 << 50);
        let corpus = Corpus {
            train: vec![
                fastrl_data::Pair {
                    context: "a".into(),
                    response: "b".into(),
                    dialogue: 0,
                    turn: 1,
                };
                3
            ],
            eval: vec![],
        };
        let e = check(&cfg, &corpus, &m).unwrap_err().to_string();
        assert!(
            e.contains("ppo.batch_size 8") && e.contains("needs 8, has 3"),
            "{e}"
        );
        let mut odd = cfg.clone();
        odd.sft.batch_size = 2;
        odd.ppo.batch_size = 3;
        odd.ppo.minibatch_size = 2;
        let notes = check(&odd, &corpus, &m).unwrap();
        assert!(
            notes[0].contains("1 minibatches of 2 rows and one of 1 rows"),
            "{notes:?}"
        );
    }

    #[test]
    fn every_preset_fits_in_8_gib() {
        for (name, _) in crate::config::PRESETS {
            let cfg = Config::resolve(name, None, &[]).unwrap();
            let model: Box<dyn CausalLm> = if cfg.model.pretrained.is_empty() {
                let m = &cfg.model;
                let shape = Gpt2Config::with_shape(
                    cfg.tokenizer.vocab_size as i64,
                    m.n_positions,
                    m.n_embd,
                    m.n_layer,
                    m.n_head,
                );
                Box::new(Gpt2Model::new(&shape, tch::Device::Cpu).unwrap())
            } else {
                // The one pretrained preset starts from SmolLM2-135M-Instruct: a Llama of
                // its shape (random weights: the estimate reads only sizes).
                assert_eq!(cfg.model.pretrained, "SmolLM2-135M-Instruct", "{name}");
                Box::new(LlamaModel::new(&smollm2_shape(), tch::Device::Cpu).unwrap())
            };
            let need = step_bytes(&cfg, &*model);
            println!("{name}: {:.2} GiB", need as f64 / (1u64 << 30) as f64);
            assert!(need < 8 << 30, "{name}: {need} bytes");
        }
    }
}
