//! Shared by the models' integration tests.

use std::path::{Path, PathBuf};

/// The project's `.venv` Python, or `None` (after printing SKIPPED) when there is none;
/// with `FASTRL_REQUIRE_VENV` set (scripts/test.sh) a missing `.venv` is a failure.
pub fn python() -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if py.is_file() {
        return Some(py);
    }
    assert!(
        std::env::var_os("FASTRL_REQUIRE_VENV").is_none(),
        "FASTRL_REQUIRE_VENV is set but {} is missing (run scripts/python-env.sh)",
        py.display()
    );
    println!("SKIPPED: no .venv (run scripts/python-env.sh)");
    None
}
