//! Supervised fine-tuning (Algorithm 1, line 1): next-token cross-entropy on the
//! response tokens of the training pairs, on any [`CausalLm`].

use crate::config::Config;
use crate::corpus::Corpus;
use crate::error::TrainerError;
use crate::io::progress::Progress;
use crate::io::records::SftStep;
use crate::optim::Adam;
use crate::rl::rollout::{encode_with, left_pad};
use crate::rng::Rng;
use fastrl_models::causal_lm::train_top_blocks;
use fastrl_models::causal_lm::CausalLm;
use fastrl_models::tokenizer::Tok;
use std::io::Write;
use std::path::Path;
use tch::Kind;

/// Supervised fine-tuning: next-token cross-entropy on the response tokens.
pub fn sft(
    cfg: &Config,
    model: &dyn CausalLm,
    tok: &Tok,
    corpus: &Corpus,
    log_path: &Path,
) -> Result<(), TrainerError> {
    let dev = model.device();
    train_top_blocks(model, cfg.model.train_top_blocks)?;
    let mut opt = Adam::new(model.vars(), cfg.sft.lr);
    let mut rng = Rng::new(cfg.run.seed ^ 0x5f7);
    let encoded: Vec<(Vec<i64>, Vec<i64>)> = corpus
        .train
        .iter()
        .map(|p| encode_with(cfg, tok, p))
        .collect::<Result<_, _>>()?;
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    rng.shuffle(&mut order);
    let mut cursor = 0;
    let mut log = std::fs::File::create(log_path).map_err(|e| TrainerError::io(log_path, e))?;
    let mut bar = Progress::new("sft", cfg.sft.steps);
    for step in 1..=cfg.sft.steps {
        let mut rows = Vec::with_capacity(cfg.sft.batch_size);
        let mut targets = Vec::with_capacity(cfg.sft.batch_size);
        for _ in 0..cfg.sft.batch_size {
            if cursor == order.len() {
                rng.shuffle(&mut order);
                cursor = 0;
            }
            let (c, r) = &encoded[order[cursor]];
            cursor += 1;
            let mut seq = c.clone();
            seq.extend_from_slice(r);
            targets.push(
                std::iter::repeat_n(0i64, c.len())
                    .chain(std::iter::repeat_n(1i64, r.len()))
                    .collect::<Vec<i64>>(),
            );
            rows.push(seq);
        }
        let (ids, mask) = left_pad(&rows, tok.eos, dev);
        let (tgt, _) = left_pad(&targets, 0, dev);
        let l = ids.size()[1];
        // Every position's logits (the window is the whole row), then the L - 1 that
        // predict a next token.
        let logits = model.window(&ids, &mask, 0, l).logits.narrow(1, 0, l - 1);
        let labels = ids.narrow(1, 1, l - 1);
        let w = tgt.narrow(1, 1, l - 1).to_kind(Kind::Float);
        let nll = -logits
            .log_softmax(-1, Kind::Float)
            .gather(2, &labels.unsqueeze(-1), false)
            .squeeze_dim(-1);
        let loss = (nll * &w).sum(Kind::Float) / w.sum(Kind::Float).clamp_min(1.0);
        let lv = loss.double_value(&[]);
        if !lv.is_finite() {
            return Err(TrainerError::NonFiniteLoss {
                phase: "SFT",
                step,
                value: lv,
                fix: "sft.lr",
            });
        }
        opt.zero_grad();
        loss.backward();
        opt.clip_grad_norm(1.0);
        opt.step();
        let line = serde_json::to_string(&SftStep { step, loss: lv })
            .map_err(|e| TrainerError::record(log_path, step, e))?;
        writeln!(log, "{line}").map_err(|e| TrainerError::io(log_path, e))?;
        bar.tick(step, &format!("loss {lv:.3}"));
    }
    bar.finish();
    Ok(())
}
