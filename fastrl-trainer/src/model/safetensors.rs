//! The one safetensors loader and writer: named tensors to and from a file, and copying
//! named tensors into a variable store with every name and shape checked.

use crate::error::TrainerError;
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn, Tensor};

/// Reads every tensor of `path`.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>, TrainerError> {
    Tensor::read_safetensors(path).map_err(|e| {
        TrainerError::Checkpoint(format!("{}: cannot read safetensors: {e}", path.display()))
    })
}

/// Writes `tensors` to `path` and syncs it to disk.
pub fn write(tensors: &[(String, Tensor)], path: &Path) -> Result<(), TrainerError> {
    Tensor::write_safetensors(tensors, path)
        .map_err(|e| TrainerError::Checkpoint(format!("writing {}: {e}", path.display())))?;
    sync(path)
}

/// `fsync` of one file.
pub fn sync(path: &Path) -> Result<(), TrainerError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainerError::io(path, e))
}

/// Copies into every variable of `vs` the tensor of the same name from `ts` (converted to
/// the variable's kind and device); a missing name or another shape is an error naming
/// the tensor and `what` (the file).
pub fn copy_exact(
    vs: &nn::VarStore,
    ts: Vec<(String, Tensor)>,
    what: &Path,
) -> Result<(), TrainerError> {
    let mut by: BTreeMap<String, Tensor> = ts.into_iter().collect();
    let _g = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        let t = by.remove(&name).ok_or_else(|| {
            TrainerError::Checkpoint(format!(
                "{}: {name} is missing: the checkpoint is for another model shape",
                what.display()
            ))
        })?;
        if t.size() != var.size() {
            return Err(TrainerError::Checkpoint(format!(
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
