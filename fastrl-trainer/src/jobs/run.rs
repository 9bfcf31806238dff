//! The default job (`fastrl-trainer run`): tokenizer, SFT, PPO, and the evaluation
//! before and after, written to `eval.json`.

use crate::config::Config;
use crate::error::TrainerError;
use crate::io::jsonl::{read_lines, write_json};
use crate::io::records::{RunReport, StepMetrics};
use crate::jobs::stages::{eval_model, load_corpus, ppo_stage, sft_stage};
use crate::jobs::summary::{path_lines, Summary};
use std::time::Instant;

/// Runs the whole job and prints the reward means and a few responses before and after
/// PPO.
pub fn run(cfg: &Config, dev: tch::Device, resume: bool) -> Result<RunReport, TrainerError> {
    let t0 = Instant::now();
    crate::note!(
        "device: {dev:?}; run directory: {}",
        cfg.run.out_dir.display()
    );
    let corpus = load_corpus(cfg)?;
    let sft_dir = sft_stage(cfg, dev, &corpus)?;
    let before = eval_model(cfg, &sft_dir, dev, &corpus)?;
    let fin = ppo_stage(cfg, dev, &corpus, &sft_dir, resume)?;
    let after = eval_model(cfg, &fin, dev, &corpus)?;
    let report = RunReport {
        ppo: after,
        sft: before,
    };
    let out = cfg.run.out_dir.as_path();
    write_json(&out.join("eval.json"), &report)?;
    let names: Vec<&str> = cfg.composer.rewards.iter().map(|r| r.name()).collect();
    let summary = Summary::of(&names, &report.sft, &report.ppo)?;
    for line in summary.lines() {
        crate::say!("{line}");
    }
    let log = out.join("ppo/metrics.jsonl");
    let metrics: Vec<StepMetrics> = read_lines(&log)?;
    for line in path_lines(&metrics, 5) {
        crate::say!("{line}");
    }
    print_samples(&report, 3);
    crate::say!(
        "done in {:.0} s; outputs in {}:",
        t0.elapsed().as_secs_f64(),
        out.display()
    );
    crate::say!(
        "  config.toml, sft/ (SFT model + tokenizer, Hugging Face format), sft-metrics.jsonl"
    );
    crate::say!(
        "  ppo/metrics.jsonl (per step: rewards, weights, disparity, KL, losses, tokens/s)"
    );
    crate::say!(
        "  ppo/final/ (PPO model), ppo/LATEST + ppo/ckpt-*/ (resume with --resume), eval.json"
    );
    Ok(report)
}

/// The last `max` characters of `text` (from a character boundary), with `...` in front
/// when cut.
fn tail(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let rest: String = text.chars().skip(n - max).collect();
    format!("...{rest}")
}

/// The first `n` evaluation samples: context (its end), reference, and the responses
/// before and after PPO to the same context.
fn print_samples(report: &RunReport, n: usize) {
    let pairs = report.sft.samples.iter().zip(&report.ppo.samples).take(n);
    for (i, (b, a)) in pairs.enumerate() {
        crate::say!("sample {}:", i + 1);
        crate::say!("  context    {}", tail(&b.context, 160).replace('\n', " "));
        crate::say!("  reference  {}", b.reference.replace('\n', " "));
        crate::say!("  before PPO {}", b.response.replace('\n', " "));
        crate::say!("  after PPO  {}", a.response.replace('\n', " "));
    }
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn tails_cut_on_character_boundaries() {
        assert_eq!(tail("abc", 3), "abc");
        assert_eq!(tail("h\u{e9}llo w\u{f6}rld", 5), "...w\u{f6}rld");
    }
}
