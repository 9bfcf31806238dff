//! Checkpoints that a crash cannot corrupt: each is written into a temporary directory,
//! synced, renamed into place, and only then named in `LATEST` (itself replaced by an
//! atomic rename). A checkpoint directory either is complete or is not referenced.
//!
//! A PPO checkpoint holds the policy (trunk + value head), the optimiser's moments and
//! step, the composer and KL-controller state (composer-core's checksummed record), the
//! host generator's state and the step; the reference policy is written once per run.

use crate::error::TrainerError;
use crate::model::{Gpt2Config, Model};
use crate::ppo::Ppo;
use crate::tokenizer::Tok;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The non-tensor state of a PPO run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PpoState {
    /// PPO steps done.
    pub step: usize,
    /// Host generator state.
    pub rng: [u64; 4],
    /// composer-core `StateRecord` bytes (composer + KL controller).
    pub composer: Vec<u8>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainerError + '_ {
    move |e| TrainerError::io(path, e)
}

fn sync(path: &Path) -> Result<(), TrainerError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

fn named(model: &Model) -> Vec<(String, Tensor)> {
    let vars: BTreeMap<String, Tensor> = model.vs.variables().into_iter().collect();
    vars.into_iter().collect()
}

fn write_tensors(ts: &[(String, Tensor)], path: &Path) -> Result<(), TrainerError> {
    Tensor::write_safetensors(ts, path)
        .map_err(|e| TrainerError::Checkpoint(format!("writing {}: {e}", path.display())))?;
    sync(path)
}

fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, TrainerError> {
    Tensor::read_safetensors(path)
        .map_err(|e| TrainerError::Checkpoint(format!("reading {}: {e}", path.display())))
}

/// Copies into every variable of `vs` the tensor of the same name from `ts` (converted to
/// the variable's kind and device); a missing name or another shape is an error naming
/// the tensor and `what` (the file).
pub fn copy_exact(
    vs: &tch::nn::VarStore,
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

fn load_exact(
    model: &mut Model,
    ts: Vec<(String, Tensor)>,
    what: &Path,
) -> Result<(), TrainerError> {
    copy_exact(&model.vs, ts, what)
}

/// Writes `dir` as a Hugging Face GPT-2 directory (`config.json`, `model.safetensors`,
/// `tokenizer.json`), atomically (temporary directory + rename).
pub fn export_hf(dir: &Path, model: &Model, tok: &Tok) -> Result<(), TrainerError> {
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let cfg_path = tmp.join("config.json");
    let text = serde_json::to_string_pretty(&model.net.cfg.to_hf_json()).expect("json");
    std::fs::write(&cfg_path, text).map_err(io(&cfg_path))?;
    sync(&cfg_path)?;
    write_tensors(&named(model), &tmp.join("model.safetensors"))?;
    let tp = tmp.join("tokenizer.json");
    tok.save(&tp)?;
    sync(&tp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    Ok(())
}

/// Loads a directory written by [`export_hf`] (or any Hugging Face GPT-2 directory with a
/// `tokenizer.json`), checking the tokenizer against the model.
pub fn import_hf(dir: &Path, device: tch::Device) -> Result<(Model, Tok), TrainerError> {
    if !dir.join("config.json").is_file() {
        return Err(TrainerError::Checkpoint(format!(
            "{} has no config.json: not a model directory",
            dir.display()
        )));
    }
    let _ = Gpt2Config::load(&dir.join("config.json"))?;
    let model = Model::load_dir(dir, device)?;
    let tok = Tok::load(&dir.join("tokenizer.json"))?;
    tok.check_model(model.net.cfg.vocab_size)?;
    Ok((model, tok))
}

/// Writes the run's reference policy (once, at the start of PPO).
pub fn save_reference(dir: &Path, ppo: &Ppo) -> Result<(), TrainerError> {
    let path = dir.join("reference.safetensors");
    let tmp = dir.join("reference.safetensors.tmp");
    write_tensors(&named(&ppo.reference), &tmp)?;
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

fn ckpt_name(step: usize) -> String {
    format!("ckpt-{step:06}")
}

/// Writes a checkpoint of `ppo` under `dir` and points `LATEST` at it; older checkpoints
/// are removed afterwards.
pub fn save(dir: &Path, ppo: &Ppo) -> Result<(), TrainerError> {
    let tmp = dir.join("ckpt.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    write_tensors(&named(&ppo.policy), &tmp.join("policy.safetensors"))?;
    write_tensors(&ppo.opt.state(), &tmp.join("optimizer.safetensors"))?;
    let sp = tmp.join("state.json");
    let state = serde_json::to_string(&ppo.state()?).expect("json");
    std::fs::write(&sp, state).map_err(io(&sp))?;
    sync(&sp)?;
    let name = ckpt_name(ppo.step);
    let fin = dir.join(&name);
    if fin.exists() {
        std::fs::remove_dir_all(&fin).map_err(io(&fin))?;
    }
    std::fs::rename(&tmp, &fin).map_err(io(&fin))?;
    let latest_tmp = dir.join("LATEST.tmp");
    std::fs::write(&latest_tmp, &name).map_err(io(&latest_tmp))?;
    sync(&latest_tmp)?;
    std::fs::rename(&latest_tmp, dir.join("LATEST")).map_err(io(dir))?;
    // Older checkpoints are no longer referenced.
    for e in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n.starts_with("ckpt-") && n != name {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}

/// The checkpoint `LATEST` names, if any.
pub fn latest(dir: &Path) -> Result<Option<PathBuf>, TrainerError> {
    let p = dir.join("LATEST");
    if !p.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&p).map_err(io(&p))?;
    let c = dir.join(name.trim());
    if !c.join("state.json").is_file() {
        return Err(TrainerError::Checkpoint(format!(
            "LATEST names {} but it is incomplete; delete {} to start over",
            c.display(),
            dir.display()
        )));
    }
    Ok(Some(c))
}

/// Restores `ppo` from the latest checkpoint under `dir`; returns its step.
pub fn load_latest(dir: &Path, ppo: &mut Ppo) -> Result<Option<usize>, TrainerError> {
    let Some(c) = latest(dir)? else {
        return Ok(None);
    };
    let rp = dir.join("reference.safetensors");
    load_exact(&mut ppo.reference, read_tensors(&rp)?, &rp)?;
    let pp = c.join("policy.safetensors");
    load_exact(&mut ppo.policy, read_tensors(&pp)?, &pp)?;
    ppo.opt
        .load_state(read_tensors(&c.join("optimizer.safetensors"))?)?;
    let sp = c.join("state.json");
    let text = std::fs::read_to_string(&sp).map_err(io(&sp))?;
    let st: PpoState = serde_json::from_str(&text)
        .map_err(|e| TrainerError::Checkpoint(format!("{}: {e}", sp.display())))?;
    ppo.restore(&st)?;
    Ok(Some(st.step))
}

/// Drops the lines of `metrics.jsonl` after `step` (written after the checkpoint a run
/// resumes from, so the resumed log equals an uninterrupted one).
pub fn truncate_log(path: &Path, step: usize) -> Result<(), TrainerError> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s as usize <= step)
        })
        .collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    std::fs::write(path, out).map_err(io(path))
}
