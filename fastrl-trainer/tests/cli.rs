//! The command line stops with one message naming the problem and the fix.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    run_in(std::path::Path::new("."), args)
}

/// Runs the binary in `dir` (where `.venv` is looked for).
fn run_in(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fastrl-trainer"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run fastrl-trainer");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The project root when its `.venv` holds the Chit Chat corpus; else `None`, after
/// saying that `what` is skipped (a failure where `FASTRL_REQUIRE_DATA` is set).
fn project_with_corpus(what: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if fastrl_data::chitchat::find(&root).is_ok() {
        return Some(root);
    }
    assert!(
        std::env::var_os("FASTRL_REQUIRE_DATA").is_none(),
        "FASTRL_REQUIRE_DATA is set but chitchat-dataset is missing"
    );
    println!("SKIPPED: {what} (chitchat-dataset not in .venv)");
    None
}

#[test]
fn bad_input_is_one_clear_message() {
    let dir = std::env::temp_dir().join(format!("fastrl-cli-{}", std::process::id()));
    let out_dir = format!("run.out_dir=\"{}\"", dir.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["sft", "--preset", "nope"], "unknown preset \"nope\""),
        (
            vec!["sft", "--preset", "smoke", "--set", "ppo.stepz=3"],
            "unknown field `stepz`",
        ),
        (
            vec!["sft", "--preset", "smoke", "--set", "ppo.steps=\"many\""],
            "invalid type",
        ),
        (
            vec!["sft", "--preset", "smoke", "--set", "run.device=\"tpu\""],
            "run.device",
        ),
        (
            vec![
                "sft",
                "--preset",
                "smoke",
                "--config",
                "/nonexistent/x.toml",
            ],
            "/nonexistent/x.toml",
        ),
    ];
    for (args, want) in cases {
        let (ok, err) = run(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.matches("error:").count(), 1, "{args:?}: {err}");
    }
    // An empty corpus, and a model directory that is not one.
    let empty = dir.join("empty.txt");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&empty, "").unwrap();
    let path = format!("data.path=\"{}\"", empty.display());
    let (ok, err) = run(&[
        "sft",
        "--preset",
        "smoke",
        "--set",
        &out_dir,
        "--set",
        "data.corpus=\"dailydialog\"",
        "--set",
        &path,
    ]);
    assert!(!ok && err.contains("holds no dialogue"), "{err}");
    let (ok, err) = run(&[
        "generate",
        "--preset",
        "smoke",
        "--set",
        &out_dir,
        "--model",
        dir.to_str().unwrap(),
        "--context",
        "hi",
    ]);
    assert!(!ok && err.contains("no config.json"), "{err}");
    // A batch larger than the prompt set is refused before SFT, with both numbers (the
    // old code trained SFT, then the kernel killed the process with no message). Needs
    // the Chit Chat corpus in the project's .venv.
    let Some(root) = project_with_corpus("the batch-size limit") else {
        std::fs::remove_dir_all(&dir).ok();
        return;
    };
    let (ok, err) = run_in(
        &root,
        &[
            "sft",
            "--preset",
            "smoke",
            "--set",
            &out_dir,
            "--set",
            "ppo.batch_size=1000000000",
            "--set",
            "ppo.minibatch_size=4",
        ],
    );
    assert!(!ok, "{err}");
    assert!(
        err.contains("ppo.batch_size") && err.contains("needs 1000000000, has 400"),
        "{err}"
    );
    assert!(!dir.join("sft-metrics.jsonl").exists(), "SFT ran: {err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_closed_output_pipe_does_not_stop_the_job() {
    // `fastrl-trainer run | head -1`: the reader is gone before the job's messages. The
    // job still finishes (the old code panicked at its next message and exited 101
    // with only config.toml written). Needs the Chit Chat corpus in the project's .venv.
    let Some(root) = project_with_corpus("the closed pipe") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("fastrl-cli-pipe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out_dir = format!("run.out_dir=\"{}\"", dir.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastrl-trainer"))
        .current_dir(&root)
        .args(["run", "--preset", "smoke", "--set", &out_dir])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run fastrl-trainer");
    // Both read ends closed at once: every message meets a broken pipe.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().expect("wait for fastrl-trainer");
    assert!(status.success(), "{status}");
    assert!(dir.join("eval.json").is_file(), "the job did not finish");
    assert!(dir.join("ppo/final/model.safetensors").is_file());
    std::fs::remove_dir_all(&dir).ok();
}
