//! The grid driver end to end on a tiny synthetic task (CPU, seconds): three cells (one
//! reward set x three composers) from one SFT directory; the report has a row per cell;
//! a second run reuses the finished cells; damaged records stop with the file and the
//! field instead of a silent default.

use fastrl_data::Pair;
use fastrl_experiments::cells::cells_over;
use fastrl_experiments::grid::drive;
use fastrl_models::gpt2::{Gpt2Config, Gpt2Model};
use fastrl_models::hf_dir::export_hf;
use fastrl_models::tokenizer::Tok;
use fastrl_trainer::config::Config;
use fastrl_trainer::corpus::Corpus;
use fastrl_trainer::rewards::kind::RewardKind;
use fastrl_trainer::rng::Rng;
use tch::Device;

fn corpus() -> Corpus {
    const WORDS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
    let mut rng = Rng::new(5);
    let mut sentence = |n: usize| -> String {
        (0..n)
            .map(|_| WORDS[rng.below(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let pairs: Vec<Pair> = (0..40)
        .map(|i| Pair {
            context: format!("{} <EOU>", sentence(4)),
            response: sentence(4),
            dialogue: i,
            turn: 1,
        })
        .collect();
    Corpus {
        train: pairs[..32].to_vec(),
        eval: pairs[32..].to_vec(),
    }
}

#[test]
fn the_driver_runs_reuses_and_refuses_damaged_records() {
    tch::set_num_threads(1);
    let dir = std::env::temp_dir().join(format!("fastrl-grid-driver-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let c = corpus();
    let cfg = Config::resolve(
        "smoke",
        None,
        &[
            format!("run.out_dir=\"{}\"", dir.display()),
            "ppo.steps=2".into(),
            "ppo.batch_size=4".into(),
            "ppo.minibatch_size=2".into(),
            "ppo.eval_every=1".into(),
            "tokenizer.max_response_tokens=4".into(),
            "composer.rewards=[\"meteor\", \"bleu\"]".into(),
        ],
    )
    .unwrap();
    let texts: Vec<&str> = c
        .train
        .iter()
        .flat_map(|p| [p.context.as_str(), p.response.as_str()])
        .collect();
    let tok = Tok::train(texts.into_iter().cycle().take(500), 270).unwrap();
    tch::manual_seed(3);
    let model = Gpt2Model::new(
        &Gpt2Config::with_shape(tok.vocab_size() as i64, 32, 16, 1, 2),
        Device::Cpu,
    )
    .unwrap();
    let sft_dir = dir.join("sft");
    export_hf(&sft_dir, &model, &tok).unwrap();
    let cells = cells_over(&[vec![RewardKind::Meteor, RewardKind::Bleu]], 1);
    let o = drive(&cfg, Device::Cpu, &c, &sft_dir, &cells, "smoke").unwrap();
    assert_eq!(o.cells, 3);
    let md = std::fs::read_to_string(&o.report).unwrap();
    assert_eq!(md.matches("| meteor + bleu |").count(), 3, "{md}");
    for composer in ["fastrl", "fixed", "lagrangian"] {
        assert!(
            md.contains(&format!("| meteor + bleu | {composer} |")),
            "{md}"
        );
    }
    for f in [
        "m_eval.png",
        "reward_curves.png",
        "weights.png",
        "scores.png",
    ] {
        assert!(dir.join("grid").join(f).is_file(), "{f}");
    }
    // The Lagrangian cell's thresholds are the SFT model's means.
    let sft_eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("grid/sft-eval.json")).unwrap())
            .unwrap();
    let lag = std::fs::read_to_string(dir.join("grid/lagrangian-2r-s0/config.toml")).unwrap();
    let t: toml::Table = toml::from_str(&lag).unwrap();
    let th: Vec<f64> = t["composer"]["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_float().unwrap())
        .collect();
    let want = [
        sft_eval["rewards"]["meteor"].as_f64().unwrap(),
        sft_eval["rewards"]["bleu"].as_f64().unwrap(),
    ];
    for (a, b) in th.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{th:?} vs {want:?}");
    }
    // A second run reuses every finished cell: the same report, no cell retrained.
    let eval0 = dir.join("grid/fastrl-2r-s0/eval.json");
    let before = std::fs::metadata(&eval0).unwrap().modified().unwrap();
    let o2 = drive(&cfg, Device::Cpu, &c, &sft_dir, &cells, "smoke").unwrap();
    assert_eq!(std::fs::read_to_string(&o2.report).unwrap(), md);
    assert_eq!(
        std::fs::metadata(&eval0).unwrap().modified().unwrap(),
        before
    );
    // A finished cell without its final weights: an error naming the file and the field
    // (the old driver read them as absent and the report showed NaN).
    let text = std::fs::read_to_string(&eval0).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("weights");
    std::fs::write(&eval0, serde_json::to_string(&v).unwrap()).unwrap();
    let e = drive(&cfg, Device::Cpu, &c, &sft_dir, &cells, "smoke")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fastrl-2r-s0/eval.json") && e.contains("weights"),
        "{e}"
    );
    std::fs::write(&eval0, text).unwrap();
    // An SFT evaluation without a reward the Lagrangian needs: an error naming the file
    // and the field (the old driver used a threshold of 0.0, switching the constraint off).
    let sp = dir.join("grid/sft-eval.json");
    let mut v = sft_eval.clone();
    v["rewards"].as_object_mut().unwrap().remove("bleu");
    std::fs::write(&sp, serde_json::to_string(&v).unwrap()).unwrap();
    std::fs::remove_dir_all(dir.join("grid/lagrangian-2r-s0")).unwrap();
    let e = drive(&cfg, Device::Cpu, &c, &sft_dir, &cells, "smoke")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sft-eval.json") && e.contains("rewards.bleu"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
