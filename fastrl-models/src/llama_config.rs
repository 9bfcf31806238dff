//! The Llama-family configuration: what [`crate::llama`] needs from a Hugging Face
//! `config.json` of `LlamaForCausalLM` or `Qwen2ForCausalLM`, validated, and written back.

use crate::error::ModelError;
use serde::Deserialize;
use std::path::Path;

/// Which Hugging Face architecture a Llama-family model is (the names differ only in
/// `config.json`; Qwen2 adds biases to the q/k/v projections).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlamaFlavor {
    /// `LlamaForCausalLM`, `model_type = "llama"`.
    Llama,
    /// `Qwen2ForCausalLM`, `model_type = "qwen2"`.
    Qwen2,
}

impl LlamaFlavor {
    /// `config.json`'s `model_type`.
    pub fn model_type(self) -> &'static str {
        match self {
            LlamaFlavor::Llama => "llama",
            LlamaFlavor::Qwen2 => "qwen2",
        }
    }

    /// `config.json`'s `architectures[0]`.
    pub fn architecture(self) -> &'static str {
        match self {
            LlamaFlavor::Llama => "LlamaForCausalLM",
            LlamaFlavor::Qwen2 => "Qwen2ForCausalLM",
        }
    }
}

/// A Llama-family architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Llama or Qwen2.
    pub flavor: LlamaFlavor,
    /// Vocabulary size.
    pub vocab_size: i64,
    /// Hidden size.
    pub hidden_size: i64,
    /// SwiGLU inner size.
    pub intermediate_size: i64,
    /// Blocks.
    pub num_hidden_layers: i64,
    /// Query heads.
    pub num_attention_heads: i64,
    /// Key/value heads (grouped-query attention; equal to the query heads for MHA).
    pub num_key_value_heads: i64,
    /// Per-head size.
    pub head_dim: i64,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Longest sequence.
    pub max_position_embeddings: i64,
    /// LM head shares the token embedding.
    pub tie_word_embeddings: bool,
    /// Biases on the q, k and v projections (Qwen2; Llama's `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on the output projection (Llama's `attention_bias`).
    pub o_bias: bool,
    /// Biases on the MLP projections (Llama's `mlp_bias`).
    pub mlp_bias: bool,
    /// Beginning-of-sequence id, if the config names one.
    pub bos_token_id: Option<i64>,
    /// End-of-sequence id, if the config names one.
    pub eos_token_id: Option<i64>,
}

#[derive(Deserialize)]
struct RopeParameters {
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    rope_type: Option<String>,
}

/// `config.json` as Hugging Face writes it (transformers 4 and 5 spellings).
#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    vocab_size: i64,
    hidden_size: i64,
    intermediate_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    #[serde(default)]
    num_key_value_heads: Option<i64>,
    #[serde(default)]
    head_dim: Option<i64>,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    rope_parameters: Option<RopeParameters>,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(default = "default_max_pos")]
    max_position_embeddings: i64,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    #[serde(default)]
    use_sliding_window: bool,
    #[serde(default)]
    bos_token_id: Option<serde_json::Value>,
    #[serde(default)]
    eos_token_id: Option<serde_json::Value>,
}

fn default_eps() -> f64 {
    1e-6
}
fn default_max_pos() -> i64 {
    2048
}
fn default_act() -> String {
    "silu".into()
}

/// The first id of a `bos_token_id`/`eos_token_id` field (an integer or a list).
fn first_id(v: &Option<serde_json::Value>) -> Option<i64> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::Array(a)) => a.first().and_then(|x| x.as_i64()),
        _ => None,
    }
}

/// The Llama-family flavor a `config.json` names (`model_type`, else `architectures`),
/// `None` for another architecture.
pub fn flavor_of(model_type: Option<&str>, architectures: &[String]) -> Option<LlamaFlavor> {
    match model_type {
        Some("llama") => return Some(LlamaFlavor::Llama),
        Some("qwen2") => return Some(LlamaFlavor::Qwen2),
        Some(_) => return None,
        None => {}
    }
    architectures.iter().find_map(|a| match a.as_str() {
        "LlamaForCausalLM" => Some(LlamaFlavor::Llama),
        "Qwen2ForCausalLM" => Some(LlamaFlavor::Qwen2),
        _ => None,
    })
}

impl LlamaConfig {
    /// Parses a `config.json` text; `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ModelError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| {
            ModelError::Config(format!("{origin}: not a Llama/Qwen2 config.json: {e}"))
        })?;
        let archs = raw.architectures.clone().unwrap_or_default();
        let flavor = flavor_of(raw.model_type.as_deref(), &archs).ok_or_else(|| {
            ModelError::Config(format!(
                "{origin}: model_type {:?} / architectures {archs:?} is not Llama or Qwen2",
                raw.model_type
            ))
        })?;
        if raw.hidden_act != "silu" {
            return Err(ModelError::Config(format!(
                "{origin}: hidden_act {:?} is not supported (expected \"silu\")",
                raw.hidden_act
            )));
        }
        if raw.use_sliding_window {
            return Err(ModelError::Config(format!(
                "{origin}: use_sliding_window = true is not supported"
            )));
        }
        if let Some(s) = raw.rope_scaling.as_ref().filter(|s| !s.is_null()) {
            return Err(ModelError::Config(format!(
                "{origin}: rope_scaling {s} is not supported (only the default RoPE)"
            )));
        }
        let (mut theta, mut rope_type) = (raw.rope_theta, None);
        if let Some(p) = &raw.rope_parameters {
            theta = p.rope_theta.or(theta);
            rope_type = p.rope_type.clone();
        }
        if let Some(t) = rope_type.filter(|t| t != "default") {
            return Err(ModelError::Config(format!(
                "{origin}: rope_parameters.rope_type {t:?} is not supported (only \"default\")"
            )));
        }
        let heads = raw.num_attention_heads;
        let cfg = LlamaConfig {
            flavor,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: raw.num_key_value_heads.unwrap_or(heads),
            head_dim: raw.head_dim.unwrap_or(if heads > 0 {
                raw.hidden_size / heads
            } else {
                0
            }),
            rms_norm_eps: raw.rms_norm_eps,
            rope_theta: theta.unwrap_or(10000.0),
            max_position_embeddings: raw.max_position_embeddings,
            tie_word_embeddings: raw.tie_word_embeddings,
            qkv_bias: flavor == LlamaFlavor::Qwen2 || raw.attention_bias,
            o_bias: flavor == LlamaFlavor::Llama && raw.attention_bias,
            mlp_bias: flavor == LlamaFlavor::Llama && raw.mlp_bias,
            bos_token_id: first_id(&raw.bos_token_id),
            eos_token_id: first_id(&raw.eos_token_id),
        };
        cfg.validate().map_err(|e| match e {
            ModelError::Config(m) => ModelError::Config(format!("{origin}: {m}")),
            other => other,
        })?;
        Ok(cfg)
    }

    /// Reads `config.json`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        LlamaConfig::from_json(&text, &path.display().to_string())
    }

    /// Checks the shape parameters.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |what: String| Err(ModelError::Config(what));
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if let Some((k, v)) = sizes.iter().find(|(_, v)| *v < 1) {
            return bad(format!("{k} = {v}, expected >= 1"));
        }
        if self.num_attention_heads % self.num_key_value_heads != 0 {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if self.head_dim % 2 != 0 {
            return bad(format!(
                "head_dim {} is odd: RoPE needs pairs",
                self.head_dim
            ));
        }
        if !self.rope_theta.is_finite() || self.rope_theta <= 0.0 {
            return bad(format!(
                "rope_theta {} is not a positive number",
                self.rope_theta
            ));
        }
        if self.rms_norm_eps.is_nan() || self.rms_norm_eps <= 0.0 {
            return bad(format!(
                "rms_norm_eps {} is not positive",
                self.rms_norm_eps
            ));
        }
        Ok(())
    }

    /// The `config.json` a Hugging Face loader accepts (transformers 4 reads
    /// `rope_theta`, 5 reads `rope_parameters`; both are written).
    pub fn to_hf_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "architectures": [self.flavor.architecture()],
            "model_type": self.flavor.model_type(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_parameters": {"rope_theta": self.rope_theta, "rope_type": "default"},
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "attention_dropout": 0.0,
            "torch_dtype": "float32",
        });
        if self.flavor == LlamaFlavor::Llama {
            v["attention_bias"] = serde_json::json!(self.qkv_bias && self.o_bias);
            v["mlp_bias"] = serde_json::json!(self.mlp_bias);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{"model_type": "llama", "vocab_size": 64, "hidden_size": 32,
        "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "rope_parameters": {"rope_theta": 5000.0,
        "rope_type": "default"}, "tie_word_embeddings": true}"#;

    #[test]
    fn reads_both_rope_spellings_and_the_flavor() {
        let c = LlamaConfig::from_json(TINY, "t").unwrap();
        assert_eq!(
            (c.flavor, c.head_dim, c.rope_theta),
            (LlamaFlavor::Llama, 8, 5000.0)
        );
        assert!(!c.qkv_bias && c.tie_word_embeddings);
        let q = TINY.replace("\"llama\"", "\"qwen2\"").replace(
            r#""rope_parameters": {"rope_theta": 5000.0,
        "rope_type": "default"}"#,
            r#""rope_theta": 100000.0"#,
        );
        let c = LlamaConfig::from_json(&q, "t").unwrap();
        assert_eq!((c.flavor, c.rope_theta), (LlamaFlavor::Qwen2, 100000.0));
        assert!(c.qkv_bias && !c.o_bias);
        let back = LlamaConfig::from_json(&c.to_hf_json().to_string(), "t").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn bad_configs_are_refused_by_name() {
        let e = LlamaConfig::from_json(
            &TINY.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
            "cfg.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cfg.json") && e.contains("multiple"), "{e}");
        let e = LlamaConfig::from_json(&TINY.replace("\"default\"", "\"yarn\""), "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("yarn"), "{e}");
        let e = LlamaConfig::from_json(&TINY.replace("\"llama\"", "\"gpt2\""), "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not Llama"), "{e}");
    }
}
