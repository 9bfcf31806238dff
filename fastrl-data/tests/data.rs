//! Corpus readers on small fixtures, and on the real Chit Chat dataset when installed.

use fastrl_data::{chitchat, dailydialog, pairs, split_of, DataError, Dialogue, PairConfig, Split};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn dailydialog_release_format() {
    let d = dailydialog::load(
        &fixture("dialogues_text.txt"),
        Some(&fixture("dialogues_act.txt")),
    )
    .unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d[0].dialogue.utterances.len(), 3);
    assert_eq!(
        d[0].dialogue.utterances[1],
        "You know that is tempting but is really not good for our fitness ."
    );
    assert_eq!(d[0].acts, vec![3, 4, 2]);
    assert_eq!(d[1].dialogue.id, "dd-2");
    // Context/response pairs as in the paper's Table 11 layout.
    let dialogues: Vec<Dialogue> = d.into_iter().map(|x| x.dialogue).collect();
    let p = pairs(&dialogues, None, &PairConfig::default());
    assert_eq!(p.len(), 3); // 2 from the first dialogue, 1 from the second, none from "Hello ?"
    assert_eq!(p[1].context, "Say , Jim , how about going for a few beers after dinner ? <EOU> You know that is tempting but is really not good for our fitness . <EOU>");
    assert_eq!(
        p[1].response,
        "What do you mean ? It will help us to relax ."
    );
    let short = PairConfig {
        context_utterances: 1,
        ..Default::default()
    };
    assert_eq!(
        pairs(&dialogues, None, &short)[1].context,
        "You know that is tempting but is really not good for our fitness . <EOU>"
    );
}

#[test]
fn dailydialog_bad_acts_name_the_file_and_line() {
    let e = dailydialog::load(
        &fixture("dialogues_text.txt"),
        Some(&fixture("dialogues_act_short.txt")),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("dialogues_act_short.txt")
            && msg.contains("line 1")
            && msg.contains("2 acts for 3 utterances"),
        "{msg}"
    );
    let e = dailydialog::load(&fixture("missing.txt"), None).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
}

#[test]
fn chitchat_format() {
    let c = chitchat::load(&fixture("chitchat_small.json")).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].dialogue.id, "a-conv", "sorted by id");
    assert_eq!(
        c[1].dialogue.utterances,
        vec!["Hello How are you?", "good", "", "Pizza!"]
    );
    assert_eq!(
        c[1].ratings.map(|r| (r.witty, r.upbeat, r.interesting)),
        Some((3.0, 7.0, 5.0))
    );
    assert!(c[0].ratings.is_none());
    let dialogues: Vec<Dialogue> = c.into_iter().map(|x| x.dialogue).collect();
    let p = pairs(&dialogues, None, &PairConfig::default());
    // a-conv: 1 pair; b-conv: the empty turn is skipped -> 2 pairs.
    assert_eq!(p.len(), 3);
    assert_eq!(p[2].context, "Hello How are you? <EOU> good <EOU>");
    assert_eq!(p[2].response, "Pizza!");
}

#[test]
fn split_is_fixed_and_by_conversation() {
    // The same id always lands in the same split; roughly 80/10/10 over many ids.
    let mut counts = [0usize; 3];
    for i in 0..10_000 {
        let id = format!("conv-{i}");
        let s = split_of(&id);
        assert_eq!(s, split_of(&id));
        counts[s as usize] += 1;
    }
    assert!((7_700..8_300).contains(&counts[0]), "{counts:?}");
    assert!(
        (800..1_200).contains(&counts[1]) && (800..1_200).contains(&counts[2]),
        "{counts:?}"
    );
    assert_eq!(
        split_of("a07edb12-6b91-4138-b11e-02421888d699"),
        split_of("a07edb12-6b91-4138-b11e-02421888d699")
    );
}

#[test]
fn the_real_chitchat_dataset() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = match chitchat::find(&root) {
        Ok(p) => p,
        Err(e) => {
            assert!(
                std::env::var_os("FASTRL_REQUIRE_DATA").is_none(),
                "FASTRL_REQUIRE_DATA is set: {e}"
            );
            println!("SKIPPED: {e}");
            return;
        }
    };
    let c = chitchat::load(&path).unwrap();
    assert_eq!(c.len(), 7_168);
    let rated = c.iter().filter(|x| x.ratings.is_some()).count();
    assert!(rated > 1_000, "{rated} rated conversations");
    let dialogues: Vec<Dialogue> = c.into_iter().map(|x| x.dialogue).collect();
    let cfg = PairConfig::default();
    let (train, val, test) = (
        pairs(&dialogues, Some(Split::Train), &cfg),
        pairs(&dialogues, Some(Split::Validation), &cfg),
        pairs(&dialogues, Some(Split::Test), &cfg),
    );
    let all = pairs(&dialogues, None, &cfg).len();
    assert_eq!(train.len() + val.len() + test.len(), all);
    assert!(
        train.len() > 7 * all / 10 && val.len() > all / 20 && test.len() > all / 20,
        "{} {} {}",
        train.len(),
        val.len(),
        test.len()
    );
    println!(
        "chitchat: {} conversations, {rated} rated, pairs train/val/test = {}/{}/{}",
        dialogues.len(),
        train.len(),
        val.len(),
        test.len()
    );
}
