//! The PPO loop around [`Ppo::step`]: `metrics.jsonl`, the eval curve, checkpoints, and
//! resuming from the newest valid checkpoint.

use crate::error::TrainerError;
use crate::eval::evaluate::evaluate;
use crate::io::checkpoint;
use crate::io::jsonl::{append_line, truncate_after};
use crate::io::progress::Progress;
use crate::io::records::EvalPoint;
use crate::rl::ppo::Ppo;
use crate::rl::state::PpoState;
use fastrl_data::Pair;
use std::path::Path;

/// Restores `ppo` from the newest valid checkpoint under `dir` (printing a warning for
/// each damaged newer one); returns its step, or `None` when `dir` has no checkpoint.
pub fn resume(dir: &Path, ppo: &mut Ppo) -> Result<Option<usize>, TrainerError> {
    let Some(r) = checkpoint::load_newest_valid::<PpoState>(dir)? else {
        return Ok(None);
    };
    for w in &r.warnings {
        crate::note!("{w}");
    }
    let step = r.state.step;
    ppo.restore_checkpoint(r, &dir.join(checkpoint::REFERENCE))?;
    Ok(Some(step))
}

/// Writes a checkpoint of `ppo` under `dir`, keeping the config's number of them.
pub fn save(dir: &Path, ppo: &Ppo) -> Result<(), TrainerError> {
    let parts = ppo.checkpoint_parts()?;
    checkpoint::save(
        dir,
        ppo.steps_done(),
        &parts,
        ppo.cfg().run.keep_checkpoints,
    )?;
    Ok(())
}

/// Runs PPO to `cfg.ppo.steps` in `dir` (`metrics.jsonl`, checkpoints), resuming from the
/// newest valid checkpoint when `resume` is set. With `cfg.ppo.eval_every > 0` and
/// `eval_pairs` not empty, the policy is evaluated on them before the first step and
/// every `eval_every` steps, one line of `eval-curve.jsonl` each; an evaluation is
/// written before the checkpoint of its step, so a resumed curve equals an uninterrupted
/// one.
pub fn train(
    mut ppo: Ppo,
    dir: &Path,
    resume_run: bool,
    eval_pairs: &[Pair],
) -> Result<Ppo, TrainerError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
    let log_path = dir.join("metrics.jsonl");
    let curve_path = dir.join("eval-curve.jsonl");
    let eval_every = if eval_pairs.is_empty() {
        0
    } else {
        ppo.cfg().ppo.eval_every
    };
    if resume_run {
        let Some(step) = resume(dir, &mut ppo)? else {
            return Err(TrainerError::Checkpoint(format!(
                "--resume: no checkpoint in {}; run without --resume to start",
                dir.display()
            )));
        };
        truncate_after(&log_path, step)?;
        if curve_path.is_file() {
            truncate_after(&curve_path, step)?;
        }
        crate::note!("resumed from step {step}");
    } else {
        checkpoint::save_reference(dir, &ppo.reference().named_parameters())?;
        std::fs::write(&log_path, "").map_err(|e| TrainerError::io(&log_path, e))?;
        if eval_every > 0 {
            std::fs::write(&curve_path, "").map_err(|e| TrainerError::io(&curve_path, e))?;
            append_eval(&ppo, eval_pairs, &curve_path)?;
        } else if curve_path.is_file() {
            std::fs::remove_file(&curve_path).map_err(|e| TrainerError::io(&curve_path, e))?;
        }
    }
    let total = ppo.cfg().ppo.steps;
    let mut bar = Progress::new("ppo", total);
    while ppo.steps_done() < total {
        let m = ppo.step()?;
        append_line(&log_path, &m)?;
        if eval_every > 0 && (ppo.steps_done() % eval_every == 0 || ppo.steps_done() == total) {
            append_eval(&ppo, eval_pairs, &curve_path)?;
        }
        let every = ppo.cfg().ppo.checkpoint_every.max(1);
        if ppo.steps_done() % every == 0 || ppo.steps_done() == total {
            save(dir, &ppo)?;
        }
        let summary: Vec<String> = ppo
            .rewards()
            .iter()
            .map(|r| {
                let n = r.name();
                format!("{n} {:.3} (w {:.2})", m.rewards[n], m.weights[n])
            })
            .collect();
        bar.tick(ppo.steps_done(), &summary.join(", "));
    }
    bar.finish();
    Ok(ppo)
}

/// One line of `eval-curve.jsonl`: the policy's evaluation at the current step.
fn append_eval(ppo: &Ppo, pairs: &[Pair], path: &Path) -> Result<(), TrainerError> {
    let e = evaluate(ppo.cfg(), ppo.policy(), ppo.tok(), pairs, ppo.rewards())?;
    append_line(path, &EvalPoint::of(ppo.steps_done(), &e))
}
