//! Checkpoints that survive a crash and a bad disk.
//!
//! Each checkpoint is written into a temporary directory, synced, renamed into place as
//! `ckpt-<step>`, and only then named in `LATEST` (itself replaced by an atomic rename).
//! Its `state.json` records the length and SHA-256 of each file it depends on (its
//! tensors and the run's `reference.safetensors`). The newest `keep` checkpoints stay on
//! disk; [`load_newest_valid`] takes the newest one whose files match their checksums
//! and says, one line per checkpoint, why it skipped any newer one.
//!
//! This module takes explicit parts (named tensors and a serialisable state): it knows
//! nothing of PPO.

use crate::error::TrainerError;
use crate::io::checksum::FileSum;
use fastrl_models::safetensors;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The run's frozen reference policy, written once per run.
pub const REFERENCE: &str = "reference.safetensors";
const POLICY: &str = "policy.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";

/// What one checkpoint holds.
#[derive(Debug)]
pub struct Parts<S> {
    /// The policy's variables by name.
    pub policy: Vec<(String, Tensor)>,
    /// The optimiser's state by name.
    pub optimizer: Vec<(String, Tensor)>,
    /// Everything else (steps, generators, composer record).
    pub state: S,
}

/// `state.json`: the state and the checksums of the files the checkpoint depends on.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile<S> {
    state: S,
    /// Files inside the checkpoint directory.
    files: BTreeMap<String, FileSum>,
    /// The run's `reference.safetensors`.
    reference: FileSum,
}

/// A checkpoint read back.
#[derive(Debug)]
pub struct Restored<S> {
    /// Its directory.
    pub dir: PathBuf,
    /// The state.
    pub state: S,
    /// The policy's tensors.
    pub policy: Vec<(String, Tensor)>,
    /// The optimiser's tensors.
    pub optimizer: Vec<(String, Tensor)>,
    /// The reference policy's tensors.
    pub reference: Vec<(String, Tensor)>,
    /// One line per newer checkpoint that was skipped, and why (print them).
    pub warnings: Vec<String>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainerError + '_ {
    move |e| TrainerError::io(path, e)
}

/// The directory name of the checkpoint at `step`.
pub fn name(step: usize) -> String {
    format!("ckpt-{step:06}")
}

/// Every `ckpt-<step>` directory under `dir`, newest first.
pub fn list(dir: &Path) -> Result<Vec<(usize, PathBuf)>, TrainerError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let n = e.file_name().to_string_lossy().to_string();
        if let Some(step) = n
            .strip_prefix("ckpt-")
            .and_then(|s| s.parse::<usize>().ok())
        {
            if e.path().is_dir() {
                out.push((step, e.path()));
            }
        }
    }
    out.sort_by_key(|x| std::cmp::Reverse(x.0));
    Ok(out)
}

/// Writes the run's reference policy (once, at the start of PPO).
pub fn save_reference(dir: &Path, tensors: &[(String, Tensor)]) -> Result<(), TrainerError> {
    let path = dir.join(REFERENCE);
    let tmp = dir.join("reference.safetensors.tmp");
    safetensors::write(tensors, &tmp)?;
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

/// Writes the checkpoint of `step` under `dir`, points `LATEST` at it, and removes all
/// but the newest `keep` checkpoints. Returns its directory.
pub fn save<S: Serialize>(
    dir: &Path,
    step: usize,
    parts: &Parts<S>,
    keep: usize,
) -> Result<PathBuf, TrainerError> {
    let tmp = dir.join("ckpt.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut files = BTreeMap::new();
    for (file, tensors) in [(POLICY, &parts.policy), (OPTIMIZER, &parts.optimizer)] {
        let p = tmp.join(file);
        safetensors::write(tensors, &p)?;
        files.insert(file.to_string(), FileSum::of(&p)?);
    }
    let record = StateFile {
        state: &parts.state,
        files,
        reference: FileSum::of(&dir.join(REFERENCE))?,
    };
    let sp = tmp.join(STATE);
    let text = serde_json::to_string(&record).map_err(|e| TrainerError::record(&sp, 0, e))?;
    std::fs::write(&sp, text).map_err(io(&sp))?;
    safetensors::sync(&sp)?;
    let name = name(step);
    let fin = dir.join(&name);
    if fin.exists() {
        std::fs::remove_dir_all(&fin).map_err(io(&fin))?;
    }
    std::fs::rename(&tmp, &fin).map_err(io(&fin))?;
    let latest_tmp = dir.join("LATEST.tmp");
    std::fs::write(&latest_tmp, &name).map_err(io(&latest_tmp))?;
    safetensors::sync(&latest_tmp)?;
    std::fs::rename(&latest_tmp, dir.join("LATEST")).map_err(io(dir))?;
    for (_, old) in list(dir)?.into_iter().skip(keep.max(1)) {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(fin)
}

/// Reads and verifies one checkpoint; `Err` says why it cannot be used.
fn verify<S: DeserializeOwned>(dir: &Path, ckpt: &Path) -> Result<Restored<S>, String> {
    let sp = ckpt.join(STATE);
    let text = std::fs::read_to_string(&sp).map_err(|e| format!("{}: {e}", sp.display()))?;
    let rec: StateFile<S> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", sp.display()))?;
    for (file, sum) in &rec.files {
        if let Some(m) = sum.mismatch(&ckpt.join(file)) {
            return Err(m);
        }
    }
    for file in [POLICY, OPTIMIZER] {
        if !rec.files.contains_key(file) {
            return Err(format!("{} records no checksum of {file}", sp.display()));
        }
    }
    let rp = dir.join(REFERENCE);
    if let Some(m) = rec.reference.mismatch(&rp) {
        return Err(m);
    }
    let read = |p: &Path| safetensors::read(p).map_err(|e| e.to_string());
    Ok(Restored {
        dir: ckpt.to_path_buf(),
        state: rec.state,
        policy: read(&ckpt.join(POLICY))?,
        optimizer: read(&ckpt.join(OPTIMIZER))?,
        reference: read(&rp)?,
        warnings: Vec::new(),
    })
}

/// The newest checkpoint under `dir` whose files match their checksums, with a warning
/// for each newer one skipped and for a `LATEST` that names another one; `Ok(None)`
/// when `dir` holds no checkpoint; an error listing every checkpoint's problem when none
/// is usable.
pub fn load_newest_valid<S: DeserializeOwned>(
    dir: &Path,
) -> Result<Option<Restored<S>>, TrainerError> {
    let all = list(dir)?;
    if all.is_empty() {
        return Ok(None);
    }
    let mut warnings = Vec::new();
    let latest = dir.join("LATEST");
    let named = match std::fs::read_to_string(&latest) {
        Ok(t) => Some(t.trim().to_string()),
        Err(e) => {
            warnings.push(format!(
                "warning: {} cannot be read ({e}); using the newest valid checkpoint",
                latest.display()
            ));
            None
        }
    };
    let mut problems = Vec::new();
    for (_, ckpt) in &all {
        match verify::<S>(dir, ckpt) {
            Ok(mut r) => {
                let this = ckpt.file_name().map(|n| n.to_string_lossy().to_string());
                if let (Some(n), Some(t)) = (&named, &this) {
                    if n != t && problems.is_empty() {
                        warnings.push(format!(
                            "warning: LATEST names {n:?}, not the newest checkpoint {t:?}; \
                             resuming from {t}"
                        ));
                    }
                }
                for p in &problems {
                    warnings.push(format!(
                        "warning: skipping a damaged checkpoint ({p}); resuming from {}",
                        ckpt.display()
                    ));
                }
                r.warnings = warnings;
                return Ok(Some(r));
            }
            Err(why) => problems.push(why),
        }
    }
    Err(TrainerError::Checkpoint(format!(
        "no checkpoint in {} passes its checksums: {}; delete the directory to start over",
        dir.display(),
        problems.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fastrl-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn t(x: f32) -> Vec<(String, Tensor)> {
        vec![("w".to_string(), Tensor::from_slice(&[x; 64]))]
    }

    fn save_at(dir: &Path, step: usize, keep: usize) {
        let parts = Parts {
            policy: t(step as f32),
            optimizer: t(-(step as f32)),
            state: step,
        };
        save(dir, step, &parts, keep).unwrap();
    }

    #[test]
    fn the_newest_k_are_kept_and_a_truncated_one_falls_back() {
        let d = tmp("keep");
        save_reference(&d, &t(9.0)).unwrap();
        for s in [2, 4, 6] {
            save_at(&d, s, 2);
        }
        let steps: Vec<usize> = list(&d).unwrap().iter().map(|x| x.0).collect();
        assert_eq!(steps, [6, 4]);
        let r = load_newest_valid::<usize>(&d).unwrap().unwrap();
        assert_eq!((r.state, r.warnings.len()), (6, 0));
        // Truncate the newest policy: the older checkpoint is used, with one warning.
        let pp = d.join("ckpt-000006/policy.safetensors");
        let bytes = std::fs::read(&pp).unwrap();
        std::fs::write(&pp, &bytes[..bytes.len() / 2]).unwrap();
        let r = load_newest_valid::<usize>(&d).unwrap().unwrap();
        assert_eq!(r.state, 4);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].contains("policy.safetensors has"),
            "{:?}",
            r.warnings
        );
        let w: Vec<f32> = Vec::try_from(&r.policy[0].1).unwrap();
        assert_eq!(w, vec![4.0f32; 64]);
        // Both damaged: an error naming each.
        let pp = d.join("ckpt-000004/optimizer.safetensors");
        std::fs::write(&pp, b"x").unwrap();
        let e = load_newest_valid::<usize>(&d).unwrap_err().to_string();
        assert!(
            e.contains("ckpt-000006") && e.contains("ckpt-000004"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_broken_latest_is_reported_not_swallowed() {
        let d = tmp("latest");
        save_reference(&d, &t(1.0)).unwrap();
        save_at(&d, 2, 2);
        std::fs::write(d.join("LATEST"), "ckpt-999999").unwrap();
        let r = load_newest_valid::<usize>(&d).unwrap().unwrap();
        assert_eq!(r.state, 2);
        assert!(
            r.warnings.iter().any(|w| w.contains("ckpt-999999")),
            "{:?}",
            r.warnings
        );
        std::fs::remove_dir_all(&d).ok();
    }
}
