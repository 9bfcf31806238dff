//! The one safetensors loader and writer: named tensors to and from a file, and copying
//! named tensors into a variable store with every name and shape checked (exactly, for
//! our checkpoints; with a family's [`HfNames`] rules, for Hugging Face weights).

use crate::error::ModelError;
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn, Tensor};

/// Reads every tensor of `path`.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>, ModelError> {
    Tensor::read_safetensors(path).map_err(|e| {
        ModelError::Checkpoint(format!("{}: cannot read safetensors: {e}", path.display()))
    })
}

/// Writes `tensors` to `path` and syncs it to disk.
pub fn write(tensors: &[(String, Tensor)], path: &Path) -> Result<(), ModelError> {
    Tensor::write_safetensors(tensors, path)
        .map_err(|e| ModelError::Checkpoint(format!("writing {}: {e}", path.display())))?;
    sync(path)
}

/// `fsync` of one file.
pub fn sync(path: &Path) -> Result<(), ModelError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| ModelError::io(path, e))
}

/// Copies into every variable of `vs` the tensor of the same name from `ts` (converted to
/// the variable's kind and device); a missing name or another shape is an error naming
/// the tensor and `what` (the file).
pub fn copy_exact(
    vs: &nn::VarStore,
    ts: Vec<(String, Tensor)>,
    what: &Path,
) -> Result<(), ModelError> {
    let mut by: BTreeMap<String, Tensor> = ts.into_iter().collect();
    let _g = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        let t = by.remove(&name).ok_or_else(|| {
            ModelError::Checkpoint(format!(
                "{}: {name} is missing: the checkpoint is for another model shape",
                what.display()
            ))
        })?;
        if t.size() != var.size() {
            return Err(ModelError::Checkpoint(format!(
                "{}: {name} has shape {:?}, this model {:?}: the checkpoint is for another \
                 model shape",
                what.display(),
                t.size(),
                var.size()
            )));
        }
        var.copy_(&t.to_kind(var.kind()).to_device(var.device()));
    }
    Ok(())
}

/// What a model family's Hugging Face weights may hold beside our variables.
#[derive(Debug, Clone, Copy)]
pub struct HfNames {
    /// The family, named in errors ("GPT-2", "Llama/Qwen2").
    pub family: &'static str,
    /// Tensors of the file that are not variables of ours and are ignored: buffers of old
    /// exports, the tied LM head. Any other extra tensor is an error.
    pub ignored: fn(&str) -> bool,
}

/// Copies Hugging Face `tensors` (already named as our variables) into `vs`; `origin`
/// names the source in errors. Every variable except the value head (`v_head.`) must be
/// present with its shape; the value head is kept as initialised when absent. Extra
/// tensors are an error unless `names.ignored` says otherwise.
pub fn load_hf(
    vs: &nn::VarStore,
    tensors: Vec<(String, Tensor)>,
    origin: &str,
    names: HfNames,
) -> Result<(), ModelError> {
    let mut by_name: BTreeMap<String, Tensor> = tensors.into_iter().collect();
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        match by_name.remove(&name) {
            Some(t) if t.size() != var.size() => {
                return Err(ModelError::Checkpoint(format!(
                    "{origin}: tensor {name} has shape {:?}, the model expects {:?}: the \
                     checkpoint is for another model shape (check config.json)",
                    t.size(),
                    var.size()
                )))
            }
            Some(t) => {
                var.copy_(&t.to_kind(var.kind()).to_device(var.device()));
            }
            None if name.starts_with("v_head.") => {}
            None => {
                return Err(ModelError::Checkpoint(format!(
                    "{origin}: tensor {name} is missing: not a {} checkpoint of this shape",
                    names.family
                )))
            }
        }
    }
    let extra: Vec<String> = by_name
        .into_keys()
        .filter(|n| !(names.ignored)(n))
        .collect();
    if !extra.is_empty() {
        return Err(ModelError::Checkpoint(format!(
            "{origin}: unexpected tensors {extra:?}: not a {} checkpoint of this config",
            names.family
        )));
    }
    Ok(())
}

/// A frozen copy of `vs` into `fresh` (a new store of the same model shape): the reference
/// policy.
pub fn freeze_copy(fresh: &mut nn::VarStore, vs: &nn::VarStore) -> Result<(), ModelError> {
    fresh
        .copy(vs)
        .map_err(|e| ModelError::Checkpoint(format!("copying the policy: {e}")))?;
    fresh.freeze();
    Ok(())
}
