//! Hugging Face model directories (`config.json`, `model.safetensors`, `tokenizer.json`):
//! what SFT and PPO export and every command loads. `config.json`'s `model_type` picks
//! the [`CausalLm`] implementation
//! (GPT-2, or Llama/Qwen2 by `model_type` or `architectures`).

use crate::causal_lm::CausalLm;
use crate::error::ModelError;
use crate::gpt2::Gpt2Model;
use crate::llama::LlamaModel;
use crate::llama_config::flavor_of;
use crate::safetensors;
use crate::tokenizer::{Tok, CONFIG_FILE};
use std::path::Path;

/// Writes `dir` as a Hugging Face directory, atomically (temporary directory + rename).
pub fn export_hf(dir: &Path, model: &dyn CausalLm, tok: &Tok) -> Result<(), ModelError> {
    export_hf_with(dir, model, tok, &[])
}

/// [`export_hf`] with `extra` files `(name, text)` in the directory. The tokenizer's
/// own `tokenizer_config.json` (its chat template and end-of-turn token) is written
/// unless `extra` holds one.
pub fn export_hf_with(
    dir: &Path,
    model: &dyn CausalLm,
    tok: &Tok,
    extra: &[(&str, String)],
) -> Result<(), ModelError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| ModelError::io(&p, e)
    };
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let cfg_path = tmp.join("config.json");
    let text = serde_json::to_string_pretty(&model.hf_config())
        .map_err(|e| ModelError::Checkpoint(format!("config.json: {e}")))?;
    std::fs::write(&cfg_path, text).map_err(io(&cfg_path))?;
    safetensors::sync(&cfg_path)?;
    safetensors::write(&model.named_parameters(), &tmp.join("model.safetensors"))?;
    let tp = tmp.join("tokenizer.json");
    tok.save(&tp)?;
    safetensors::sync(&tp)?;
    let own = tok.config_json().map(|t| (CONFIG_FILE, t));
    let given = extra.iter().map(|(n, t)| (*n, t.clone()));
    for (name, text) in own
        .into_iter()
        .filter(|_| !extra.iter().any(|(n, _)| *n == CONFIG_FILE))
        .chain(given)
    {
        let p = tmp.join(name);
        std::fs::write(&p, text).map_err(io(&p))?;
        safetensors::sync(&p)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct ModelType {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
}

/// Loads a directory written by [`export_hf`] (or any Hugging Face directory of a
/// supported architecture with a `tokenizer.json`), checking the tokenizer against the
/// model.
pub fn import_hf(dir: &Path, device: tch::Device) -> Result<(Box<dyn CausalLm>, Tok), ModelError> {
    let cfg_path = dir.join("config.json");
    if !cfg_path.is_file() {
        return Err(ModelError::Checkpoint(format!(
            "{} has no config.json: not a model directory",
            dir.display()
        )));
    }
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::io(&cfg_path, e))?;
    let mt: ModelType =
        serde_json::from_str(&text).map_err(|e| ModelError::record(&cfg_path, 0, e))?;
    let archs = mt.architectures.unwrap_or_default();
    let is_gpt2 = match mt.model_type.as_deref() {
        Some(t) => t == "gpt2",
        None => archs.is_empty() || archs.iter().any(|a| a == "GPT2LMHeadModel"),
    };
    let model: Box<dyn CausalLm> = if is_gpt2 {
        Box::new(Gpt2Model::load_dir(dir, device)?)
    } else if flavor_of(mt.model_type.as_deref(), &archs).is_some() {
        Box::new(LlamaModel::load_dir(dir, device)?)
    } else {
        return Err(ModelError::Checkpoint(format!(
            "{}: model_type {:?} / architectures {archs:?} is not supported (supported: \
             \"gpt2\", \"llama\", \"qwen2\")",
            cfg_path.display(),
            mt.model_type
        )));
    };
    let tok = Tok::load(&dir.join("tokenizer.json"))?;
    tok.check_model(model.vocab_size())?;
    Ok((model, tok))
}
