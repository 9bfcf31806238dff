//! A llama.cpp GGUF model (architecture `llama` or `qwen2`) as a [`LlamaModel`] and its
//! [`Tok`]: the configuration from the metadata, the tensors renamed to Hugging Face
//! names with llama.cpp's Q/K row permutation undone, the GPT-2-style BPE tokenizer
//! rebuilt from `tokenizer.ggml.*`, and [`convert`] writing a Hugging Face directory.

use crate::error::ModelError;
use crate::gguf::{GgufError, GgufFile};
use crate::hf_dir::export_hf;
use crate::hf_model::Network;
use crate::llama::{Llama, LlamaModel};
use crate::llama_config::{LlamaConfig, LlamaFlavor};
use crate::safetensors::load_hf;
use crate::tokenizer::{ChatSpec, Tok};
use std::path::Path;
use tch::{Device, Tensor};

/// The model's configuration from `{arch}.*` metadata; a tied LM head when the file has
/// no `output.weight`.
pub fn config_of(g: &GgufFile) -> Result<LlamaConfig, GgufError> {
    let arch = g.get_str("general.architecture")?;
    let flavor = match arch {
        "llama" => LlamaFlavor::Llama,
        "qwen2" => LlamaFlavor::Qwen2,
        other => {
            return Err(GgufError::Metadata {
                path: g.path.clone(),
                key: "general.architecture".into(),
                message: format!("{other:?} is not supported (supported: \"llama\", \"qwen2\")"),
            })
        }
    };
    let k = |s: &str| format!("{arch}.{s}");
    let int = |s: &str| -> Result<i64, GgufError> {
        let key = k(s);
        let v = g.get_u64(&key)?;
        i64::try_from(v).map_err(|_| GgufError::Metadata {
            path: g.path.clone(),
            key,
            message: format!("{v} is too large"),
        })
    };
    let opt_int = |s: &str| g.metadata.contains_key(&k(s)).then(|| int(s)).transpose();
    if let Ok(t) = g.get_str(&k("rope.scaling.type")) {
        if t != "none" {
            return Err(GgufError::Metadata {
                path: g.path.clone(),
                key: k("rope.scaling.type"),
                message: format!("{t:?} is not supported (only unscaled RoPE)"),
            });
        }
    }
    let hidden = int("embedding_length")?;
    let heads = int("attention.head_count")?;
    let head_dim =
        opt_int("attention.key_length")?.unwrap_or(if heads > 0 { hidden / heads } else { 0 });
    if let Some(rd) = opt_int("rope.dimension_count")? {
        if rd != head_dim {
            return Err(GgufError::Metadata {
                path: g.path.clone(),
                key: k("rope.dimension_count"),
                message: format!("{rd} != head_dim {head_dim}: partial RoPE is not supported"),
            });
        }
    }
    let vocab = match opt_int("vocab_size")? {
        Some(v) => v,
        None => g.get_strings("tokenizer.ggml.tokens")?.len() as i64,
    };
    let id = |key: &str| g.get_u64(key).ok().map(|v| v as i64);
    let cfg = LlamaConfig {
        flavor,
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: int("feed_forward_length")?,
        num_hidden_layers: int("block_count")?,
        num_attention_heads: heads,
        num_key_value_heads: opt_int("attention.head_count_kv")?.unwrap_or(heads),
        head_dim,
        rms_norm_eps: g.get_f64(&k("attention.layer_norm_rms_epsilon"))?,
        rope_theta: g.get_f64(&k("rope.freq_base")).unwrap_or(10000.0),
        max_position_embeddings: int("context_length")?,
        tie_word_embeddings: g.info("output.weight").is_none(),
        qkv_bias: flavor == LlamaFlavor::Qwen2 || g.info("blk.0.attn_q.bias").is_some(),
        o_bias: g.info("blk.0.attn_output.bias").is_some(),
        mlp_bias: g.info("blk.0.ffn_up.bias").is_some(),
        bos_token_id: id("tokenizer.ggml.bos_token_id"),
        eos_token_id: id("tokenizer.ggml.eos_token_id"),
    };
    cfg.validate().map_err(|e| GgufError::Metadata {
        path: g.path.clone(),
        key: format!("{arch}.*"),
        message: e.to_string(),
    })?;
    Ok(cfg)
}

/// The Hugging Face name of GGUF tensor `name` (`None` for a tensor this model lacks).
fn hf_name(name: &str) -> Option<String> {
    let fixed = match name {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, part) = rest.split_once('.')?;
    layer.parse::<u32>().ok()?;
    let (stem, kind) = part.rsplit_once('.')?;
    let hf = match stem {
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{kind}"))
}

/// Undoes llama.cpp's `permute` of Q/K rows (`convert_hf_to_gguf.py` interleaves each
/// head's rotary halves, rows `[n, 2, d/2]` stored as `[n, d/2, 2]`): rows read as
/// `[n, d/2, 2]` and transposed back to `[n, 2, d/2]`. `w` is `[n * d, ...]` (a weight
/// or a bias), `n` the heads of that projection.
pub fn unpermute_qk(w: &Tensor, n_heads: i64) -> Tensor {
    let shape = w.size();
    let rows = shape[0];
    let mut view = vec![n_heads, rows / n_heads / 2, 2];
    view.extend_from_slice(&shape[1..]);
    w.view(view.as_slice())
        .transpose(1, 2)
        .contiguous()
        .view(shape.as_slice())
}

/// Every tensor of `g` under its Hugging Face name, dequantised to f32, Q/K
/// un-permuted for `llama`; a tensor without a Hugging Face name is an error naming it.
pub fn tensors_of(g: &GgufFile, cfg: &LlamaConfig) -> Result<Vec<(String, Tensor)>, GgufError> {
    let mut out = Vec::with_capacity(g.tensors.len());
    for info in &g.tensors {
        let name = hf_name(&info.name).ok_or_else(|| GgufError::Tensor {
            path: g.path.clone(),
            tensor: info.name.clone(),
            message: "has no counterpart in a Llama/Qwen2 model".into(),
        })?;
        let mut t = g.tensor(&info.name)?;
        if cfg.flavor == LlamaFlavor::Llama {
            if name.contains(".q_proj.") {
                t = unpermute_qk(&t, cfg.num_attention_heads);
            } else if name.contains(".k_proj.") {
                t = unpermute_qk(&t, cfg.num_key_value_heads);
            }
        }
        out.push((name, t));
    }
    Ok(out)
}

/// The `tokenizer.json` of a GGUF's GPT-2-style BPE (`tokenizer.ggml.model = "gpt2"`):
/// vocabulary and merges from the metadata, control tokens (type 3) as special added
/// tokens, byte-level pre-tokenizer and decoder; pre-tokenizer `smollm` also splits
/// digits one by one (as SmolLM's own `tokenizer.json`).
pub fn tokenizer_json(g: &GgufFile) -> Result<serde_json::Value, GgufError> {
    let meta = |key: &str, message: String| GgufError::Metadata {
        path: g.path.clone(),
        key: key.into(),
        message,
    };
    let model = g.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(meta(
            "tokenizer.ggml.model",
            format!("{model:?} is not supported (only \"gpt2\", byte-level BPE)"),
        ));
    }
    let byte_level = serde_json::json!({
        "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true
    });
    let pre = g.get_str("tokenizer.ggml.pre").unwrap_or("default");
    let pre_tokenizer = match pre {
        "smollm" => serde_json::json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level]}),
        "gpt2" | "default" => byte_level,
        other => {
            return Err(meta(
                "tokenizer.ggml.pre",
                format!("{other:?} is not supported (supported: \"smollm\", \"gpt2\")"),
            ))
        }
    };
    let tokens = g.get_strings("tokenizer.ggml.tokens")?;
    let merges = g.get_strings("tokenizer.ggml.merges")?;
    let types = if g.metadata.contains_key("tokenizer.ggml.token_type") {
        g.get_ints("tokenizer.ggml.token_type")?
    } else {
        vec![1; tokens.len()]
    };
    if types.len() != tokens.len() {
        return Err(meta(
            "tokenizer.ggml.token_type",
            format!("{} entries for {} tokens", types.len(), tokens.len()),
        ));
    }
    let vocab: serde_json::Map<String, serde_json::Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| ((*t).to_string(), serde_json::json!(i)))
        .collect();
    if vocab.len() != tokens.len() {
        return Err(meta(
            "tokenizer.ggml.tokens",
            format!("{} tokens but {} distinct", tokens.len(), vocab.len()),
        ));
    }
    // Type 3 is CONTROL, 4 USER_DEFINED (llama.cpp's llama_token_type).
    let added: Vec<serde_json::Value> = types
        .iter()
        .enumerate()
        .filter(|(_, &ty)| ty == 3 || ty == 4)
        .map(|(i, &ty)| {
            serde_json::json!({"id": i, "content": tokens[i], "single_word": false,
                "lstrip": false, "rstrip": false, "normalized": ty == 4, "special": ty == 3})
        })
        .collect();
    Ok(serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
            "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
            "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": merges},
    }))
}

/// A GGUF model read into memory: the model, its tokenizer and the file's chat template.
#[derive(Debug)]
pub struct Imported {
    /// The model on the requested device.
    pub model: LlamaModel,
    /// Its tokenizer.
    pub tok: Tok,
    /// `tokenizer.chat_template`, if the file has one.
    pub chat_template: Option<String>,
}

/// Reads `path` into a [`LlamaModel`] on `device` and its [`Tok`].
pub fn import_gguf(path: &Path, device: Device) -> Result<Imported, ModelError> {
    let g = GgufFile::open(path)?;
    let cfg = config_of(&g)?;
    let model = LlamaModel::new(&cfg, device)?;
    load_hf(
        &model.vs,
        tensors_of(&g, &cfg)?,
        &path.display().to_string(),
        Llama::NAMES,
    )?;
    let json = tokenizer_json(&g)?.to_string();
    let origin = format!("{} (tokenizer)", path.display());
    let chat_template = g
        .get_str("tokenizer.chat_template")
        .ok()
        .map(str::to_string);
    let tokens = g.get_strings("tokenizer.ggml.tokens")?;
    let token = |key: &str, id: Option<i64>| -> Result<Option<String>, ModelError> {
        let Some(i) = id else { return Ok(None) };
        match usize::try_from(i).ok().and_then(|i| tokens.get(i)) {
            Some(s) => Ok(Some((*s).to_string())),
            None => Err(GgufError::Metadata {
                path: g.path.clone(),
                key: key.into(),
                message: format!(
                    "token id {i} is not in the vocabulary ({} tokens)",
                    tokens.len()
                ),
            }
            .into()),
        }
    };
    let tok = match &chat_template {
        Some(template) => {
            let eos_token =
                token("tokenizer.ggml.eos_token_id", cfg.eos_token_id)?.ok_or_else(|| {
                    ModelError::Tokenizer(format!(
                        "{origin}: a chat template but no tokenizer.ggml.eos_token_id"
                    ))
                })?;
            let spec = ChatSpec {
                template: template.clone(),
                bos_token: token("tokenizer.ggml.bos_token_id", cfg.bos_token_id)?
                    .unwrap_or_default(),
                eos_token,
            };
            Tok::from_json_with_chat(&json, &spec, &origin)?
        }
        None => Tok::from_json(&json, &origin)?,
    };
    tok.check_model(cfg.vocab_size)?;
    Ok(Imported {
        model,
        tok,
        chat_template,
    })
}

/// `fastrl-trainer convert --gguf FILE --out DIR`: writes `out` as a Hugging Face
/// directory (`config.json`, `model.safetensors`, `tokenizer.json`, and a
/// `tokenizer_config.json` with the chat template and the bos/eos token strings).
pub fn convert(gguf: &Path, out: &Path) -> Result<(), ModelError> {
    let imp = import_gguf(gguf, Device::Cpu)?;
    export_hf(out, &imp.model, &imp.tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_hugging_face() {
        assert_eq!(
            hf_name("blk.12.attn_k.weight").as_deref(),
            Some("model.layers.12.self_attn.k_proj.weight")
        );
        assert_eq!(
            hf_name("token_embd.weight").as_deref(),
            Some("model.embed_tokens.weight")
        );
        assert_eq!(hf_name("rope_freqs.weight"), None);
        assert_eq!(hf_name("blk.x.attn_k.weight"), None);
    }

    #[test]
    fn unpermute_inverts_llama_cpps_permute() {
        // llama.cpp: w.reshape(n, 2, d/2, in).swapaxes(1, 2).reshape(w.shape).
        let (n, d, i) = (3i64, 4i64, 2i64);
        let w = Tensor::arange(n * d * i, (tch::Kind::Float, Device::Cpu)).view([n * d, i]);
        let permuted = w
            .view([n, 2, d / 2, i])
            .transpose(1, 2)
            .contiguous()
            .view([n * d, i]);
        assert_eq!(unpermute_qk(&permuted, n), w);
        let b = Tensor::arange(n * d, (tch::Kind::Float, Device::Cpu));
        let pb = b
            .view([n, 2, d / 2])
            .transpose(1, 2)
            .contiguous()
            .view([n * d]);
        assert_eq!(unpermute_qk(&pb, n), b);
    }
}
