//! Compiles `tests/test_fastrl.c` with the system C compiler against `include/fastrl.h`
//! and the static library, runs it, and requires it to pass. The C program checks
//! hand-derived values and the error codes for null pointers, short buffers and bad
//! parameters.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn c_program_links_and_passes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // target/<profile>/deps/c_abi-xxxx -> target/<profile>/libfastrl.a
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let lib = profile_dir.join("libfastrl.a");
    // `cargo test` builds the library as an rlib only; build the static library of the
    // same profile (a no-op when it is current).
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "-p", "fastrl-capi", "--lib"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    if let Some(target_dir) = profile_dir.parent() {
        build.arg("--target-dir").arg(target_dir);
    }
    let built = build.status().expect("run cargo build");
    assert!(
        built.success() && lib.exists(),
        "{} was not built",
        lib.display()
    );
    let out = profile_dir.join("test_fastrl_c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(dir.join("include"))
        .arg(dir.join("tests/test_fastrl.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "C compile/link failed");
    let run = Command::new(&out).output().expect("run the C test");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "C test failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all C checks passed"), "{stdout}");
}
